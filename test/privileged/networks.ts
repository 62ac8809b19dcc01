// Networks on real devices, each test in a private namespace of its own:
// vepa and bridge pools over veth devices give prepared domains macvtaps on
// the right devices; a 64-VF passthrough pool (sysfs fixture, veth devices
// named as its VFs) takes 64 guests, refuses the 65th, saves and restores
// each device's MAC; a launch killed half way is reclaimed; hotplug takes and
// gives back a pool device. The guests themselves are in test/e2e/network.ts.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { Test } from 'tap';
import { prepareDomain, PreparedDomain } from '../../lib/qemu/domain';
import { Networks } from '../../lib/netdev/networks';
import { attachInterface, detachInterface } from '../../lib/qemu/hotplug';
import { pidPath } from '../../lib/qemu/launch';
import { NetworkXml } from '../../lib/xml/network';
import { pfN } from '../../scripts/sriov-fixture';
import { FakeQmp } from '../helpers/fake-qmp';
import { ip, ipLink, ipLinks, needsRoot, withNetns } from '../helpers/host';

interface Env {
  ns: string;
  stateDir: string;
  configDir: string;
  sysfsRoot: string;
  nets: Networks;
  opts: { netns: string; stateDir: string; configDir: string; sysfsRoot: string; onWarning: (m: string) => void };
  warnings: string[];
}

function env(t: Test, ns: string): Env {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-netp-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const e = { stateDir: path.join(root, 'run'), configDir: path.join(root, 'etc'), sysfsRoot: path.join(root, 'sys') };
  fs.mkdirSync(e.sysfsRoot);
  const warnings: string[] = [];
  return { ns, ...e, nets: new Networks(e), opts: { netns: ns, ...e, onWarning: (m) => warnings.push(m) }, warnings };
}

/** veth pairs DEV <-> peer in the namespace, the DEV side up. */
function veths(ns: string, devs: string[]): void {
  const batch = devs.flatMap((d, i) => [`link add ${d} type veth peer name q${i}`, `link set ${d} up`]).join('\n');
  const r = spawnSync('ip', ['-n', ns, '-batch', '-'], { input: batch, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip -batch: ${r.stderr}`);
}

const domain = (name: string, ifaces: string) => `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><devices>${ifaces}</devices></domain>`;
const netIface = (network: string, mac?: string) => `<interface type='network'>${mac ? `<mac address='${mac}'/>` : ''}<source network='${network}'/><model type='virtio'/></interface>`;
const mac = (n: number) => `52:54:00:10:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
const counts = (e: Env, name: string) => NetworkXml.parse(e.nets.dumpxml(name), { live: true }).def.connections as Record<string, number>;
const macvtaps = (ns: string) => ipLinks(ns).filter((l) => l.linkinfo?.info_kind === 'macvtap');
const parentOf = (ns: string, dev: string) => ipLink(ns, dev).link;
const modeOf = (ns: string, dev: string) => ipLink(ns, dev).linkinfo?.info_data?.mode;

t.test('vepa and bridge networks over veth devices: macvtaps on the least-used device, in the mode of the network', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const e = env(t, ns);
    veths(ns, ['p0', 'p1', 'p2']);
    await e.nets.define(`<network><name>spread</name><forward mode='vepa'><interface dev='p0'/><interface dev='p1'/><interface dev='p2'/></forward></network>`);
    await e.nets.define(`<network><name>shared</name><forward mode='bridge' dev='p2'/></network>`);
    await e.nets.start('spread');
    await e.nets.start('shared');
    const up: PreparedDomain[] = [];
    t.teardown(async () => {
      for (const d of up) await d.teardown().catch(() => undefined);
    });
    for (let i = 0; i < 4; i++) up.push(await prepareDomain(domain(`v${i}`, netIface('spread')), e.opts));
    const devs = up.map((d) => d.interfaces[0].name);
    t.strictSame(
      devs.map((d) => parentOf(ns, d)),
      ['p0', 'p1', 'p2', 'p0'],
      'least used, the first of equals',
    );
    t.strictSame(
      devs.map((d) => modeOf(ns, d)),
      ['vepa', 'vepa', 'vepa', 'vepa'],
    );
    t.strictSame(counts(e, 'spread'), { p0: 2, p1: 1, p2: 1 });
    const live = fs.readFileSync(up[1].statePath, 'utf8');
    t.match(live, /<source network="spread"\/>\s*<actual type="direct">\s*<source dev="p1" mode="vepa"\/>\s*<\/actual>/, "the live domain XML records <actual type='direct'>");
    t.match(fs.readFileSync(path.join(e.stateDir, 'v1.inactive'), 'utf8'), "<interface type='network'>", 'the inactive XML keeps type=network');
    t.notMatch(fs.readFileSync(path.join(e.stateDir, 'v1.inactive'), 'utf8'), '<actual');

    // Two networks share p2: the bridge network's guests are counted there, on their own network.
    const b = [await prepareDomain(domain('b0', netIface('shared')), e.opts), await prepareDomain(domain('b1', netIface('shared')), e.opts)];
    up.push(...b);
    t.strictSame(
      b.map((d) => [parentOf(ns, d.interfaces[0].name), modeOf(ns, d.interfaces[0].name)]),
      [
        ['p2', 'bridge'],
        ['p2', 'bridge'],
      ],
    );
    t.strictSame(counts(e, 'shared'), { p2: 2 });
    t.strictSame(counts(e, 'spread'), { p0: 2, p1: 1, p2: 1 }, 'each network counts its own connections');

    await up[1].teardown();
    t.strictSame(counts(e, 'spread'), { p0: 2, p1: 0, p2: 1 }, 'teardown releases');
    const again = await prepareDomain(domain('v9', netIface('spread')), e.opts);
    up.push(again);
    t.equal(parentOf(ns, again.interfaces[0].name), 'p1', 'the released device is reused');

    // A failed setup releases what it took: a second interface on a pool whose device is gone.
    await e.nets.define(`<network><name>ghost</name><forward mode='vepa' dev='nosuch0'/></network>`);
    await e.nets.start('ghost');
    await t.rejects(prepareDomain(domain('f', netIface('spread') + netIface('ghost')), e.opts), { code: 'ENODEV', field: '/domain/devices/interface[2]/source/@dev', value: 'nosuch0' });
    t.strictSame(counts(e, 'spread'), { p0: 2, p1: 1, p2: 1 }, 'the first interface of the failed domain was released');
    t.strictSame(counts(e, 'ghost'), { nosuch0: 0 });
    t.notOk(fs.existsSync(path.join(e.stateDir, 'f.xml')));

    for (const d of up.splice(0)) await d.teardown();
    t.strictSame(counts(e, 'spread'), { p0: 0, p1: 0, p2: 0 });
    t.strictSame(counts(e, 'shared'), { p2: 0 });
    t.strictSame(macvtaps(ns), [], 'no macvtap left');
    for (const n of ['spread', 'shared', 'ghost']) await e.nets.destroy(n);
  });
});

t.test('a 64-VF passthrough pool: 64 guests, the 65th refused, MACs saved and restored, release and reuse', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const e = env(t, ns);
    const pf = pfN(e.sysfsRoot, 64, 'eth0');
    veths(ns, pf.devices);
    const original = new Map(pf.devices.map((d) => [d, ipLink(ns, d).address as string]));
    await e.nets.define(`<network><name>vfs</name><forward mode='passthrough'><pf dev='eth0'/></forward></network>`);
    t.equal((await e.nets.start('vfs')).pool.length, 64);
    const up: PreparedDomain[] = [];
    t.teardown(async () => {
      for (const d of up) await d.teardown().catch(() => undefined);
    });
    for (let i = 0; i < 64; i++) up.push(await prepareDomain(domain(`g${i}`, netIface('vfs', mac(i))), e.opts));
    t.strictSame(
      up.map((d) => parentOf(ns, d.interfaces[0].name)),
      pf.devices,
      'each guest has a VF of its own, in pool order',
    );
    t.ok(
      up.every((d) => modeOf(ns, d.interfaces[0].name) === 'passthru'),
      'macvtap mode passthru',
    );
    t.ok(
      pf.devices.every((d, i) => ipLink(ns, d).address === mac(i)),
      'each VF carries its guest MAC',
    );
    const ledger = JSON.parse(fs.readFileSync(e.nets.ledgerPath('vfs'), 'utf8')) as { connections: { dev: string; saved?: { mac: string } }[] };
    t.ok(
      ledger.connections.every((c) => c.saved?.mac === original.get(c.dev)),
      "each VF's own MAC saved in the state directory",
    );

    const links = ipLinks(ns).length;
    await t.rejects(prepareDomain(domain('g64', netIface('vfs', mac(64))), e.opts), {
      code: 'NO_DEVICE',
      field: '/domain/devices/interface/source/@network',
      message: "/domain/devices/interface/source/@network: network 'vfs' requires exclusive access to interfaces, but none are available",
    });
    t.equal(ipLinks(ns).length, links, 'the refusal changed nothing');
    t.equal(
      Object.values(counts(e, 'vfs')).reduce((a, b) => a + b, 0),
      64,
    );

    const [g17] = up.splice(17, 1);
    await g17.teardown();
    t.equal(ipLink(ns, pf.devices[17]).address, original.get(pf.devices[17]), "release: the VF's own MAC is back");
    const g64 = await prepareDomain(domain('g64', netIface('vfs', mac(64))), e.opts);
    up.push(g64);
    t.equal(parentOf(ns, g64.interfaces[0].name), pf.devices[17], 'the freed VF is reused');

    for (const d of up.splice(0)) await d.teardown();
    t.ok(
      pf.devices.every((d) => ipLink(ns, d).address === original.get(d)),
      'every VF has its own MAC again',
    );
    t.strictSame(macvtaps(ns), []);
    await e.nets.destroy('vfs');
  });
});

const CRASH_CHILD = path.join(__dirname, '..', 'helpers', 'net-crash-child.js');

t.test('netfd killed between the allocation and the domain state: the next allocation reclaims the device and restores its MAC', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const e = env(t, ns);
    veths(ns, ['p0', 'p1']);
    const own = ipLink(ns, 'p0').address;
    await e.nets.define(`<network><name>pt</name><forward mode='passthrough'><interface dev='p0'/><interface dev='p1'/></forward></network>`);
    await e.nets.start('pt');
    const child = spawn(process.execPath, [CRASH_CHILD, ns, e.stateDir, e.configDir, e.sysfsRoot, domain('crash', netIface('pt', mac(1)))], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.teardown(() => child.kill('SIGKILL'));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (x) => String(x).includes('held') && resolve());
      child.once('exit', (code) => reject(new Error(`the child exited (${code}) before holding`)));
    });
    const [mv] = macvtaps(ns);
    t.equal(mv?.link, 'p0', 'the killed launch had made its macvtap on p0');
    t.equal(ipLink(ns, 'p0').address, mac(1), 'and given p0 the guest MAC');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    t.notOk(fs.existsSync(path.join(e.stateDir, 'crash.xml')), 'no domain state was written');
    // As if the kernel had not restored it (a VF's admin MAC stays): only netfd's saved copy can.
    ip(['-n', ns, 'link', 'del', mv.ifname]);
    ip(['-n', ns, 'link', 'set', 'p0', 'address', mac(1)]);

    const d = await prepareDomain(domain('after', netIface('pt', mac(2))), e.opts);
    t.teardown(() => d.teardown());
    t.equal(parentOf(ns, d.interfaces[0].name), 'p0', 'p0 is free again: the dead connection was reclaimed');
    t.match(e.warnings, [/reclaimed the connection of crash \(52:54:00:10:00:01\) on p0: process \d+ died before the domain was recorded/]);
    await d.teardown();
    t.equal(ipLink(ns, 'p0').address, own, "p0's own MAC is back (from the saved copy)");

    // Killed again, and this time net-destroy is what finds it: the macvtap goes too.
    const c2 = spawn(process.execPath, [CRASH_CHILD, ns, e.stateDir, e.configDir, e.sysfsRoot, domain('crash2', netIface('pt', mac(3)))], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.teardown(() => c2.kill('SIGKILL'));
    await new Promise<void>((resolve) => c2.stdout.on('data', (x) => String(x).includes('held') && resolve()));
    c2.kill('SIGKILL');
    await new Promise((r) => c2.once('exit', r));
    t.equal(macvtaps(ns).length, 1);
    const w = await e.nets.destroy('pt');
    t.match(w.warnings, [/reclaimed the connection of crash2 .*deleted macvtap\d+/]);
    t.strictSame(macvtaps(ns), [], 'the orphaned macvtap is deleted');
    t.equal(ipLink(ns, 'p0').address, own);
  });
});

t.test('hotplug: attach-interface takes a pool device, detach-interface gives it back', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const e = env(t, ns);
    veths(ns, ['p0', 'p1']);
    await e.nets.define(`<network><name>hp</name><forward mode='bridge'><interface dev='p0'/><interface dev='p1'/></forward></network>`);
    await e.nets.start('hp');
    const d = await prepareDomain(domain('hp', netIface('hp', mac(1))), e.opts);
    t.teardown(() => d.teardown());
    const fake = await FakeQmp.start({ handler: (cmd) => (['netdev_add', 'device_add', 'netdev_del'].includes(cmd.execute) ? { return: {} } : undefined) });
    try {
      await hotplug(t, e, ns, d, fake);
    } finally {
      await fake.stop(); // before withNetns counts the fds
    }
  });
});

async function hotplug(t: Test, e: Env, ns: string, d: PreparedDomain, fake: FakeQmp): Promise<void> {
  fs.writeFileSync(pidPath(e.stateDir, 'hp'), JSON.stringify({ pid: process.pid, supervisor: process.pid, qmp: fake.path, netns: ns }));
  const a = await attachInterface('hp', netIface('hp', mac(2)), e.opts);
  t.equal(parentOf(ns, a.targetDev), 'p1', 'the least-used device');
  t.match(a.liveXml, /<actual type="direct">\s*<source dev="p1" mode="bridge"\/>/);
  t.strictSame(counts(e, 'hp'), { p0: 1, p1: 1 });
  await detachInterface('hp', { mac: mac(2) }, e.opts);
  t.strictSame(counts(e, 'hp'), { p0: 1, p1: 0 }, 'detach released it');
  t.equal(macvtaps(ns).length, 1);

  // A refused device_add: the device taken is given back.
  fake.handler = (cmd) => (cmd.execute === 'device_add' ? { error: { class: 'GenericError', desc: 'no slot' } } : ['netdev_add', 'netdev_del'].includes(cmd.execute) ? { return: {} } : undefined);
  await t.rejects(attachInterface('hp', netIface('hp', mac(3)), e.opts), { message: /no slot/ });
  t.strictSame(counts(e, 'hp'), { p0: 1, p1: 0 }, 'a failed attach releases');
  await d.teardown();
  t.strictSame(counts(e, 'hp'), { p0: 0, p1: 0 });
  await e.nets.destroy('hp');
}
