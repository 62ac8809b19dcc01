// recordedIn: which links a live XML records that are still netfd's; liveInterfaces: what it records, without parsing it; macTakenBy: the MACs a generated one must avoid (pure).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { liveInterfaces, liveInterfacesOf, macTakenBy, readLiveInterfaces, recordedIn } from '../../../lib/netdev/live';
import type { LinkInfo } from '../../../lib/sys/link';
import { DomainXml, InterfaceDef, LiveInterface } from '../../../lib/xml/domain';

t.test('recordedIn: recorded links that are still netfd’s, by kind and group or MAC', async (t) => {
  const live = DomainXml.parse(
    `<domain type='qemu'><name>x</name><memory unit='MiB'>128</memory><devices>
      <interface type='ethernet'><mac address='52:54:00:00:00:01'/><target dev='vnet0'/></interface>
      <interface type='direct'><mac address='52:54:00:00:00:02'/><source dev='v0' mode='bridge'/><target dev='macvtap0'/></interface>
      <interface type='ethernet'><mac address='52:54:00:00:00:03'/><target dev='mine' managed='no'/></interface>
      <interface type='ethernet'><mac address='52:54:00:00:00:04'/><target dev='gone0'/></interface>
    </devices></domain>`,
    { live: true },
  );
  const link = (index: number, name: string, kind: string, mac: string, group: number) => ({ index, name, kind, mac, group }) as LinkInfo;
  const links = [link(5, 'vnet0', 'tun', 'fe:54:00:00:00:01', 9), link(6, 'macvtap0', 'macvtap', '52:54:00:00:00:02', 8), link(7, 'mine', 'tun', 'fe:54:00:00:00:03', 9)];
  t.same(recordedIn(live.def.interfaces, links), { indexes: [5, 6], deleted: ['vnet0', 'macvtap0'], skipped: ['gone0'] }, 'by MAC without a group');
  t.same(recordedIn(live.def.interfaces, links, 9), { indexes: [5], deleted: ['vnet0'], skipped: ['macvtap0', 'gone0'] }, 'by group with one');
});

t.test('liveInterfaces: what teardown reads of the live XML, without parsing it', async (t) => {
  const xml = DomainXml.parse(
    `<domain type='qemu'><name>x</name><memory unit='MiB'>128</memory><devices>
      <interface type='bridge'><source bridge='br0'/><model type='virtio'/></interface>
      <interface type='ethernet'><mac address='52:54:00:00:00:03'/><target dev='mine' managed='no'/></interface>
      <interface type='ethernet'><target dev='tap%d'/><script path='/bin/true'/><downscript path='/bin/false'/></interface>
      <interface type='network'><source network='pool'/><alias name='ua-n'/></interface>
      <interface type='direct'><source dev='v0' mode='vepa'/></interface>
    </devices></domain>`,
  );
  const results: LiveInterface[] = [
    { driver: 'qemu', targetDev: 'vnet7', mac: '52:54:00:00:00:01', alias: 'net0' },
    { driver: 'qemu', targetDev: 'mine', mac: '52:54:00:00:00:03', alias: 'net1' },
    { driver: null, targetDev: 'tap4', mac: '52:54:00:00:00:05', alias: 'net2' },
    { driver: 'vhost', targetDev: 'macvtap3', mac: '52:54:00:00:00:06', alias: 'ua-n', actual: { dev: 'vf1', mode: 'passthrough' } },
    { driver: 'vhost', targetDev: 'macvtap4', mac: '52:54:00:00:00:07', alias: 'net4' },
  ];
  const kept = liveInterfaces(xml.def.interfaces, results);
  const parsed = DomainXml.parse(xml.live(results), { live: true }).def.interfaces;
  const read = (i: InterfaceDef) => ({ type: i.type, mac: i.mac, target: i.target, actual: i.actual, downscript: i.downscript, script: i.script, path: i.path, source: i.source, alias: i.alias });
  t.same(kept.map(read), parsed.map(read), 'the same as parsing the live XML written from them');
  t.throws(() => liveInterfaces(xml.def.interfaces, results.slice(1)), /4 results for 5 interfaces/);
});

t.test('liveInterfacesOf: the known interfaces while the live XML is what this process wrote, else the file parsed', async (t) => {
  const xml = DomainXml.parse("<domain type='qemu'><name>k</name><memory unit='MiB'>128</memory><devices><interface type='bridge'><source bridge='br0'/></interface></devices></domain>");
  const text = xml.live([{ driver: 'qemu', targetDev: 'vnet3', mac: '52:54:00:00:00:09', alias: 'net0' }]);
  const known = { text, interfaces: liveInterfaces(xml.def.interfaces, [{ driver: 'qemu', targetDev: 'vnet3', mac: '52:54:00:00:00:09', alias: 'net0' }]) };
  t.equal(liveInterfacesOf(text, known), known.interfaces, 'unchanged: the known interfaces themselves (nothing parsed)');
  const attached = DomainXml.parse(text, { live: true }).withInterface("<interface type='ethernet'><target dev='tap7'/><mac address='52:54:00:00:00:0a'/></interface>").xml.serialize();
  t.strictSame(
    liveInterfacesOf(attached, known).map((i) => i.target?.dev),
    ['vnet3', 'tap7'],
    'changed since (an attach): the file is parsed',
  );
  t.strictSame(
    liveInterfacesOf(text, undefined).map((i) => i.mac),
    ['52:54:00:00:00:09'],
    'no known text: parsed',
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-live-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  t.equal(readLiveInterfaces(path.join(dir, 'k.xml'), known), null, 'no live XML: null');
  fs.writeFileSync(path.join(dir, 'k.xml'), text);
  t.equal(readLiveInterfaces(path.join(dir, 'k.xml'), known), known.interfaces, 'read from the file');
});

t.test('macTakenBy: a MAC a link has, as the guest MAC or as the host MAC its tap would get', async (t) => {
  const links = [{ mac: '52:54:00:00:00:01' }, { mac: 'FE:54:00:00:00:02' }, { mac: null }] as unknown as LinkInfo[];
  const taken = macTakenBy(links);
  t.equal(taken('52:54:00:00:00:01'), true, "a macvtap's (the guest MAC itself)");
  t.equal(taken('52:54:00:00:00:02'), true, "a tap's host MAC (fe:…, any case) its tap would get");
  t.equal(taken('52:54:00:00:00:03'), false, 'a free one');
  t.equal(macTakenBy([])('52:54:00:00:00:01'), false, 'nothing listed: nothing taken');
});
