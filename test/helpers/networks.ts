// Fixtures for the network store's unit tests (test/unit/network/): a
// temporary config, state and sysfs root with a Networks over them, network
// and live domain XML as netfd writes them, and readers of the live XML.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Networks } from '../../lib/netdev/networks';
import { NetworkXml } from '../../lib/xml/network';
import type { Asserts } from './refused';

export interface Dirs {
  root: string;
  config: string;
  state: string;
  sysfs: string;
  nets: Networks;
}

/** Fresh directories (removed when the test ends) and a Networks over them. */
export function dirs(t: Asserts): Dirs {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-networks-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const d = { root, config: path.join(root, 'etc'), state: path.join(root, 'run'), sysfs: path.join(root, 'sys') };
  fs.mkdirSync(d.sysfs);
  return { ...d, nets: new Networks({ configDir: d.config, stateDir: d.state, sysfsRoot: d.sysfs }) };
}

export const network = (name: string, forward: string, extra = '') => `<network>\n  <name>${name}</name>${extra}\n  ${forward}\n</network>\n`;
export const explicit = (name: string, mode: string, devs: string[]) => network(name, `<forward mode='${mode}'>\n${devs.map((d) => `    <interface dev='${d}'/>\n`).join('')}  </forward>`);
export const pfNet = (name: string, mode: string, pf: string) => network(name, `<forward mode='${mode}'>\n    <pf dev='${pf}'/>\n  </forward>`);

/** A domain's live XML with type='network' interfaces already connected (as netfd writes it). */
export function liveDomain(d: Dirs, name: string, conns: { network: string; mac: string; dev: string; mode?: string }[]): void {
  const ifaces = conns
    .map(
      (c, i) =>
        `<interface type='network'><mac address='${c.mac}'/><source network='${c.network}'/><actual type='direct'><source dev='${c.dev}' mode='${c.mode ?? 'vepa'}'/></actual><target dev='macvtap${i}'/><alias name='net${i}'/></interface>`,
    )
    .join('');
  fs.mkdirSync(d.state, { recursive: true });
  fs.writeFileSync(path.join(d.state, `${name}.xml`), `<domain type='qemu'><name>${name}</name><memory>65536</memory><devices>${ifaces}</devices></domain>`);
}

/** Connections per device, from a network's live XML. */
export const counts = (xml: string) => {
  const d = NetworkXml.parse(xml, { live: true }).def;
  return d.connections as Record<string, number>;
};
/** All connections, from a network's live XML. */
export const total = (xml: string) => Number(/<forward[^>]* connections="(\d+)"/.exec(xml)?.[1]);
export const mac = (n: number) => `52:54:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
export const noTemp = (t: Asserts, dir: string) =>
  t.strictSame(fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')) : [], [], `no temporary files left in ${path.basename(dir)}`);
