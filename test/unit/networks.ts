// Networks on disk: define/start/destroy/undefine, the config and state
// files (atomic, corrupt ones reported by name and left alone), <pf> pools
// expanded from sysfs fixture trees, allocation sequences and connection
// counts rebuilt after a restart. No root: the pools here are fixture
// devices that exist only in sysfs (passthrough, which saves a real
// device's MAC, runs in test/privileged/networks.ts).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Networks } from '../../lib/network/store';
import { NetworkXml } from '../../lib/xml/network';
import { pf64, pfAllNoNetdev, pfGaps, pfN, pfNotSriov, makePf } from '../../scripts/sriov-fixture';
import { refused, rejected, Asserts } from '../helpers/refused';

interface Dirs {
  root: string;
  config: string;
  state: string;
  sysfs: string;
  nets: Networks;
}

function dirs(t: Asserts): Dirs {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-networks-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const d = { root, config: path.join(root, 'etc'), state: path.join(root, 'run'), sysfs: path.join(root, 'sys') };
  fs.mkdirSync(d.sysfs);
  return { ...d, nets: new Networks({ configDir: d.config, stateDir: d.state, sysfsRoot: d.sysfs }) };
}

const network = (name: string, forward: string, extra = '') => `<network>\n  <name>${name}</name>${extra}\n  ${forward}\n</network>\n`;
const explicit = (name: string, mode: string, devs: string[]) => network(name, `<forward mode='${mode}'>\n${devs.map((d) => `    <interface dev='${d}'/>\n`).join('')}  </forward>`);
const pfNet = (name: string, mode: string, pf: string) => network(name, `<forward mode='${mode}'>\n    <pf dev='${pf}'/>\n  </forward>`);

/** A domain's live XML with type='network' interfaces already connected (as netfd writes it). */
function liveDomain(d: Dirs, name: string, conns: { network: string; mac: string; dev: string; mode?: string }[]): void {
  const ifaces = conns
    .map((c, i) => `<interface type='network'><mac address='${c.mac}'/><source network='${c.network}'/><actual type='direct'><source dev='${c.dev}' mode='${c.mode ?? 'vepa'}'/></actual><target dev='macvtap${i}'/><alias name='net${i}'/></interface>`)
    .join('');
  fs.mkdirSync(d.state, { recursive: true });
  fs.writeFileSync(path.join(d.state, `${name}.xml`), `<domain type='qemu'><name>${name}</name><memory>65536</memory><devices>${ifaces}</devices></domain>`);
}

const counts = (xml: string) => {
  const d = NetworkXml.parse(xml, { live: true }).def;
  return d.connections as Record<string, number>;
};
const total = (xml: string) => Number(/<forward[^>]* connections="(\d+)"/.exec(xml)?.[1]);
const mac = (n: number) => `52:54:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
const noTemp = (t: Asserts, dir: string) => t.strictSame(fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')) : [], [], `no temporary files left in ${path.basename(dir)}`);

t.test('define, start, dumpxml (live and --inactive), destroy, undefine', async (t) => {
  const d = dirs(t);
  const r = await d.nets.define(explicit('lan', 'vepa', ['p0', 'p1']));
  t.match(r, { name: 'lan', redefined: false, uuid: /^[0-9a-f-]{36}$/ });
  const stored = fs.readFileSync(path.join(d.config, 'lan.xml'), 'utf8');
  t.match(stored, `<uuid>${r.uuid}</uuid>`, 'a new definition gets a uuid, stored with it');
  t.strictSame(NetworkXml.parse(stored).def.devices, ['p0', 'p1']);
  t.strictSame((await d.nets.define(explicit('lan', 'bridge', ['p0', 'p1', 'p2']))).uuid, r.uuid, 'redefining keeps the uuid');
  t.match(d.nets.list().rows, [{ name: 'lan', active: false, persistent: true, autostart: false, connections: null }]);

  const s = await d.nets.start('lan');
  t.strictSame(s.pool, [{ dev: 'p0', connections: 0 }, { dev: 'p1', connections: 0 }, { dev: 'p2', connections: 0 }]);
  const live = d.nets.dumpxml('lan');
  t.strictSame(counts(live), { p0: 0, p1: 0, p2: 0 }, 'live XML: connections per device');
  t.equal(total(live), 0);
  t.equal(d.nets.dumpxml('lan', { inactive: true }), fs.readFileSync(path.join(d.config, 'lan.xml'), 'utf8'), '--inactive: the definition as stored');
  t.match(live, /<forward dev="p0" mode="bridge" connections="0">/, 'live: <forward dev> names the first pool device, before mode=, as libvirt');
  t.notMatch(d.nets.dumpxml('lan', { inactive: true }), /<forward[^>]* dev=/, '--inactive: no dev= the user did not write');
  await rejected(t, () => d.nets.start('lan'), { code: 'EEXIST', field: 'name', value: 'lan' }, /already active/);

  // A redefinition while running changes the next start, not the live network.
  await d.nets.define(explicit('lan', 'bridge', ['p9']));
  t.strictSame(Object.keys(counts(d.nets.dumpxml('lan'))), ['p0', 'p1', 'p2'], 'live XML unchanged by a redefinition');
  t.match(d.nets.dumpxml('lan', { inactive: true }), 'dev="p9"');

  d.nets.setAutostart('lan', true);
  t.equal(fs.readlinkSync(path.join(d.config, 'autostart', 'lan.xml')), '../lan.xml', 'autostart/NAME.xml links to the definition, as libvirt');
  t.match(d.nets.list().rows, [{ name: 'lan', active: true, autostart: true, connections: 0 }]);
  d.nets.setAutostart('lan', false);
  t.notOk(fs.existsSync(path.join(d.config, 'autostart', 'lan.xml')));

  t.strictSame(await d.nets.undefine('lan'), { active: true }, 'undefining a running network leaves it running, transient');
  t.match(d.nets.list().rows, [{ name: 'lan', active: true, persistent: false }]);
  t.match(d.nets.dumpxml('lan', { inactive: true }), 'dev="p2"', 'a transient network: --inactive shows what it was started from');
  await d.nets.destroy('lan');
  t.strictSame(fs.readdirSync(path.join(d.state, 'networks')), [], 'destroy removes the live state');
  t.strictSame(d.nets.list().rows, []);
  await rejected(t, () => d.nets.destroy('lan'), { code: 'NETWORK_INACTIVE', field: 'name', value: 'lan' }, /not active/);
  await rejected(t, () => d.nets.start('lan'), { code: 'ENOENT', field: 'name', value: 'lan' }, /no network named 'lan'/);
  await rejected(t, () => d.nets.undefine('lan'), { code: 'ENOENT', field: 'name', value: 'lan' });
  t.throws(() => d.nets.setAutostart('lan', true), { code: 'ENOENT' });
  refused(t, () => d.nets.dumpxml('../x'), { code: 'INVALID_ARGUMENT', field: 'name', value: '../x' });
  noTemp(t, d.config);
});

t.test('net-define refuses what netfd does not apply, by XPath, and writes nothing; title, description and metadata are kept', async (t) => {
  const d = dirs(t);
  await rejected(t, () => d.nets.define(network('nat', "<forward mode='nat'/>", "\n  <ip address='192.0.2.1' prefix='24'/>")), { code: 'NOT_SUPPORTED', field: '/network/forward/@mode', value: 'nat' }, /netfd runs forward modes passthrough, private, vepa, bridge/);
  await rejected(t, () => d.nets.define(network('iso', '')), { code: 'NOT_SUPPORTED', field: '/network/forward/@mode', value: '' }, /isolated network/);
  await rejected(t, () => d.nets.define(network('ip', "<forward mode='vepa' dev='p0'/>", "\n  <ip address='192.0.2.1' prefix='24'/>")), { code: 'NOT_SUPPORTED', field: '/network/ip', value: 'ip' }, /^\/network\/ip: netfd does not run <ip> \(host addresses, DHCP, TFTP\)/);
  t.notOk(fs.existsSync(d.config), 'nothing written by refused definitions');
  const kept = network('doc', "<forward mode='vepa' dev='p0'/>", "\n  <title>Lab uplink</title>\n  <description>p0 on the lab switch</description>\n  <metadata>\n    <lab:rack xmlns:lab='https://example.org/lab'>4</lab:rack>\n  </metadata>");
  await d.nets.define(kept);
  await d.nets.start('doc');
  for (const [what, xml] of [['--inactive', d.nets.dumpxml('doc', { inactive: true })], ['live', d.nets.dumpxml('doc')]])
    t.match(xml, /<title>Lab uplink<\/title>\s*<description>p0 on the lab switch<\/description>\s*<metadata>\s*<lab:rack xmlns:lab=.https:\/\/example.org\/lab.>4<\/lab:rack>\s*<\/metadata>/, `${what}: title, description and metadata echoed`);
});

t.test('names and uuids are unique across definitions (and running networks)', async (t) => {
  const d = dirs(t);
  const U = 'c7a5fdbd-edaf-9455-926a-d65c16db1809';
  await d.nets.define(network('a', "<forward mode='vepa' dev='p0'/>", `\n  <uuid>${U}</uuid>`));
  await rejected(t, () => d.nets.define(network('b', "<forward mode='vepa' dev='p1'/>", `\n  <uuid>${U.toUpperCase()}</uuid>`)), { code: 'EEXIST', field: '/network/uuid', value: U }, /already used by network 'a'/);
  await rejected(t, () => d.nets.define(network('a', "<forward mode='vepa' dev='p1'/>", '\n  <uuid>00000000-0000-0000-0000-000000000001</uuid>')), { code: 'EEXIST', field: '/network/uuid', value: '00000000-0000-0000-0000-000000000001' }, new RegExp(`network 'a' already exists with uuid ${U}`));
  await d.nets.start('a');
  await d.nets.undefine('a');
  await rejected(t, () => d.nets.define(network('c', "<forward mode='vepa' dev='p1'/>", `\n  <uuid>${U}</uuid>`)), { code: 'EEXIST', field: '/network/uuid', value: U }, /already used by network 'a'/); // the uuid of a running transient network is taken too
  t.strictSame(fs.readdirSync(d.config), [], 'nothing written by refused definitions');
});

t.test('a corrupt or half-written file is reported by name, never stops the others, never overwritten', async (t) => {
  const d = dirs(t);
  await d.nets.define(explicit('good', 'bridge', ['p0']));
  fs.writeFileSync(path.join(d.config, 'broken.xml'), '<network><name>broken</name><forward mode="vepa"'); // cut off mid-write
  fs.writeFileSync(path.join(d.config, 'other.xml'), explicit('misnamed', 'vepa', ['p1']));
  fs.writeFileSync(path.join(d.config, '.good.xml.123.abc.tmp'), 'a temporary file of a write that crashed');
  const { rows, warnings } = d.nets.list();
  t.strictSame(rows.map((r) => r.name), ['good'], 'the good definition still loads');
  t.equal(warnings.length, 2);
  t.match(warnings[0], `${path.join(d.config, 'broken.xml')} skipped: network XML is not well-formed`);
  t.match(warnings[1], /other\.xml skipped: it defines network 'misnamed', not 'other'/);
  const before = fs.readFileSync(path.join(d.config, 'broken.xml'), 'utf8');
  await rejected(t, () => d.nets.define(explicit('broken', 'vepa', ['p2'])), { code: 'CORRUPT_STATE', field: 'file', value: path.join(d.config, 'broken.xml') }, /will not overwrite it/);
  await rejected(t, () => d.nets.start('broken'), { code: 'CORRUPT_STATE', field: 'file', value: path.join(d.config, 'broken.xml') });
  t.equal(fs.readFileSync(path.join(d.config, 'broken.xml'), 'utf8'), before, 'the broken file is left as it was');
  await d.nets.start('good');

  // Live state: a corrupt ledger stops that network's operations, named; others go on.
  fs.writeFileSync(d.nets.ledgerPath('good'), '{"connections": [');
  await rejected(t, () => d.nets.allocate('good', { domain: 'x', mac: mac(1) }), { code: 'CORRUPT_STATE', field: 'file', value: d.nets.ledgerPath('good') });
  t.ok(d.nets.list().warnings.some((w) => /good\.connections cannot be used/.test(w)), 'net-list names the corrupt ledger');
  t.equal(fs.readFileSync(d.nets.ledgerPath('good'), 'utf8'), '{"connections": [', 'and it is not overwritten');

  // A running network whose start-time copy is unreadable does not block defining another.
  await d.nets.define(explicit('side', 'vepa', ['p5']));
  await d.nets.start('side');
  await d.nets.undefine('side');
  fs.writeFileSync(d.nets.inactivePath('side'), '<network>');
  t.match(await d.nets.define(explicit('third', 'vepa', ['p6'])), { name: 'third' }, 'another network is still defined');

  // A connected domain's unreadable live XML: counted as nothing, said so.
  fs.rmSync(d.nets.ledgerPath('good'));
  await d.nets.allocate('good', { domain: 'bad-domain', mac: mac(2) });
  fs.writeFileSync(path.join(d.state, 'bad-domain.xml'), '<domain><name>bad-domain</name> good');
  const a = await d.nets.allocate('good', { domain: 'x', mac: mac(1) });
  t.match(a.warnings, [/bad-domain\.xml cannot be read .*its connections are not counted/]);
  // A domain the ledger does not name costs an allocation nothing: it is not even read.
  fs.writeFileSync(path.join(d.state, 'unrelated.xml'), '<domain><name>unrelated</name> good');
  t.notMatch((await d.nets.allocate('good', { domain: 'y', mac: mac(3) })).warnings, [/unrelated/]);
});

t.test('<pf> pools: expanded at net-start from sysfs fixtures; --inactive shows the <pf> alone', async (t) => {
  const d = dirs(t);
  const pf = pf64(d.sysfs);
  const gaps = pfGaps(d.sysfs);
  pfAllNoNetdev(d.sysfs);
  pfNotSriov(d.sysfs);
  makePf(d.sysfs, { pf: 'eth6', vfs: [{ n: 0, netdev: 'vfa' }, { n: 1, netdev: null }, { n: 2, netdev: 'vfc' }] });
  await d.nets.define(pfNet('sriov', 'passthrough', 'eth0'));
  const s = await d.nets.start('sriov');
  t.equal(s.pool.length, 64);
  t.strictSame(s.pool.map((p) => p.dev), pf.devices, 'the 64 VF netdevs, in virtfn order');
  const live = d.nets.dumpxml('sriov');
  t.match(live, /<pf dev=["']eth0["']\/>\s*<interface dev="enp1s0f0v0" connections="0"\/>/, 'live: the <pf> and then its expansion, as libvirt');
  t.match(live, /<forward mode="passthrough" connections="0">/, 'live: no <forward dev> with a <pf> (libvirt writes none then)');
  t.equal((live.match(/<interface /g) ?? []).length, 64);
  const inactive = d.nets.dumpxml('sriov', { inactive: true });
  t.notMatch(inactive, '<interface', '--inactive: no expanded list');
  t.match(inactive, /<pf dev=.eth0.\/>/);

  await d.nets.define(pfNet('gaps', 'vepa', 'eth1'));
  t.strictSame((await d.nets.start('gaps')).pool.map((p) => p.dev), gaps.devices, 'virtfn numbers with gaps');
  await d.nets.define(pfNet('some', 'bridge', 'eth6'));
  const some = await d.nets.start('some');
  t.strictSame(some.pool.map((p) => p.dev), ['vfa', 'vfc'], 'a VF without netdev is skipped');
  t.match(some.warnings, [/VF 1 .* has no network device .*skipped/]);

  await d.nets.define(pfNet('none', 'passthrough', 'eth3'));
  await rejected(t, () => d.nets.start('none'), { code: 'NO_VFS', field: 'pf', value: 'eth3' }, /^no usable VFs on PF eth3/);
  await d.nets.define(pfNet('plain', 'passthrough', 'eth4'));
  await rejected(t, () => d.nets.start('plain'), { code: 'NOT_SRIOV', field: 'pf', value: 'eth4' }, /not SR-IOV capable/);
  await d.nets.define(pfNet('absent', 'passthrough', 'eth9'));
  await rejected(t, () => d.nets.start('absent'), { code: 'ENODEV', field: 'pf', value: 'eth9' });
  t.strictSame(d.nets.activeNames(), ['gaps', 'some', 'sriov'], 'failed starts leave no live state');
  t.strictSame(fs.readdirSync(path.join(d.state, 'networks')).filter((f) => /^(none|plain|absent)\./.test(f)), []);
});

t.test('allocation: least-used spread on vepa, release and reuse, expansion again at each allocation', async (t) => {
  const d = dirs(t);
  pfN(d.sysfs, 4, 'eth5');
  await d.nets.define(pfNet('spread', 'vepa', 'eth5'));
  await d.nets.start('spread');
  const devs: string[] = [];
  for (let i = 0; i < 10; i++) devs.push((await d.nets.allocate('spread', { domain: `g${i}`, mac: mac(i) })).dev);
  const [v0, v1, v2, v3] = (await d.nets.status('spread')).pool.map((p) => p.dev);
  t.strictSame(devs, [v0, v1, v2, v3, v0, v1, v2, v3, v0, v1], 'round the pool, least used first');
  t.strictSame(counts(d.nets.dumpxml('spread')), { [v0]: 3, [v1]: 3, [v2]: 2, [v3]: 2 });
  t.equal(total(d.nets.dumpxml('spread')), 10);
  await rejected(t, () => d.nets.allocate('spread', { domain: 'g0', mac: mac(0) }), { code: 'EEXIST', field: 'mac', value: mac(0) }, /already has a connection/);

  await d.nets.release('spread', { domain: 'g0', mac: mac(0) });
  await d.nets.release('spread', { domain: 'g4', mac: mac(4) });
  t.strictSame(counts(d.nets.dumpxml('spread')), { [v0]: 1, [v1]: 3, [v2]: 2, [v3]: 2 }, 'released connections are gone from the counts');
  t.equal((await d.nets.allocate('spread', { domain: 'n1', mac: mac(100) })).dev, v0, 'the freed device is the least used');
  t.match(await d.nets.release('spread', { domain: 'nobody', mac: mac(999) }), { warnings: [] }, 'releasing what is not there changes nothing');

  // A VF enabled after net-start is in the pool at the next allocation.
  makePf(d.sysfs, { pf: 'eth7', vfs: [{ n: 0, netdev: 'late0' }] });
  await d.nets.define(pfNet('grow', 'vepa', 'eth7'));
  await d.nets.start('grow');
  t.equal((await d.nets.allocate('grow', { domain: 'a', mac: mac(1) })).dev, 'late0');
  const pci = fs.realpathSync(path.join(d.sysfs, 'class/net/eth7/device'));
  const vf1 = path.join(path.dirname(pci), '0000:99:00.1');
  fs.mkdirSync(path.join(vf1, 'net', 'late1'), { recursive: true });
  fs.symlinkSync(`../${path.basename(vf1)}`, path.join(pci, 'virtfn1'));
  t.equal((await d.nets.allocate('grow', { domain: 'b', mac: mac(2) })).dev, 'late1', 'the new VF, least used, is chosen');
  // A VF that disappears while in use stays listed with its connections.
  fs.rmSync(path.join(pci, 'virtfn0'));
  await d.nets.allocate('grow', { domain: 'c', mac: mac(3) });
  t.strictSame(counts(d.nets.dumpxml('grow')), { late1: 2, late0: 1 }, 'a vanished VF with a connection is still shown');
  await rejected(t, () => d.nets.destroy('grow'), { code: 'EBUSY', field: 'name', value: 'grow' }, /3 connection\(s\), from domain\(s\) a, b, c/);
});

t.test('allocating needs a running network', async (t) => {
  const d = dirs(t);
  await d.nets.define(explicit('off', 'vepa', ['p0']));
  await rejected(t, () => d.nets.allocate('off', { domain: 'g', mac: mac(1) }), { code: 'NETWORK_INACTIVE', field: 'network', value: 'off' }, /network 'off' is not active \(netfd net-start off\)/);
  await rejected(t, () => d.nets.allocate('nope', { domain: 'g', mac: mac(1) }), { code: 'ENOENT', field: 'network', value: 'nope' }, /no network named 'nope'/);
});

const CHILD = path.join(__dirname, '..', 'helpers', 'net-child.js');
const built = fs.existsSync(path.join(__dirname, '..', '..', 'dist', 'network', 'store.js'));

t.test('counts survive a restart: rebuilt from the domains, never double-counted; a crash before the domain state is reclaimed', { skip: built ? false : 'dist/ is not built (npm run build:ts)' }, async (t) => {
  const d = dirs(t);
  pfN(d.sysfs, 3, 'eth5');
  await d.nets.define(pfNet('p', 'bridge', 'eth5'));
  const [a, b, c] = (await d.nets.start('p')).pool.map((x) => x.dev);

  // Two domains connected, their live XML written: counted once each.
  const one = await d.nets.allocate('p', { domain: 'one', mac: mac(1) });
  liveDomain(d, 'one', [{ network: 'p', mac: mac(1), dev: one.dev, mode: 'bridge' }]);
  const two = await d.nets.allocate('p', { domain: 'two', mac: mac(2) });
  liveDomain(d, 'two', [{ network: 'p', mac: mac(2), dev: two.dev, mode: 'bridge' }]);
  t.strictSame([one.dev, two.dev], [a, b]);

  // A process that allocated and died before its domain's live XML (a crash
  // between the allocation and the state write): counted only while it lives.
  const child = (domain: string, m: string, wait: boolean) => spawnSync(process.execPath, [CHILD, d.state, d.sysfs, 'p', domain, m, '', ...(wait ? ['--wait'] : [])], { encoding: 'utf8' });
  const crashed = child('crashed', mac(3), false);
  t.equal(crashed.status, 0, crashed.stderr);
  t.equal(JSON.parse(crashed.stdout).dev, c, 'the dead process got the third device');
  const ledger = () => (JSON.parse(fs.readFileSync(d.nets.ledgerPath('p'), 'utf8')) as { connections: { domain: string }[] }).connections.map((x) => x.domain);
  t.strictSame(ledger(), ['one', 'two', 'crashed'], 'its connection is in the ledger');
  const next = await d.nets.allocate('p', { domain: 'three', mac: mac(4) });
  t.equal(next.dev, c, 'reclaimed: the crashed connection does not count');
  t.match(next.warnings, [/reclaimed the connection of crashed .* process \d+ died before the domain was recorded/]);
  t.strictSame(ledger(), ['one', 'two', 'three']);

  // A live process still setting up (no domain XML yet) keeps its connection.
  const p = spawn(process.execPath, [CHILD, d.state, d.sysfs, 'p', 'pending', mac(5), '', '--wait'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => p.kill('SIGKILL'));
  const line = await new Promise<string>((resolve) => p.stdout.once('data', (x) => resolve(String(x))));
  t.equal(JSON.parse(line).dev, a, 'all three used once: the first of equals');
  t.strictSame(counts(d.nets.dumpxml('p')), { [a]: 2, [b]: 1, [c]: 1 });
  t.equal((await d.nets.status('p')).connections.length, 4, 'the pending connection of a live process counts');
  p.kill('SIGKILL');
  await new Promise((r) => p.once('exit', r));
  t.equal((await d.nets.status('p')).connections.length, 3, 'once it is killed, it no longer does');

  // "Restart": the network's live state is lost (a fresh /run), the domains stay.
  fs.rmSync(path.join(d.state, 'networks'), { recursive: true });
  liveDomain(d, 'three', [{ network: 'p', mac: mac(4), dev: c, mode: 'bridge' }]);
  const again = await d.nets.start('p');
  t.strictSame(again.pool, [{ dev: a, connections: 1 }, { dev: b, connections: 1 }, { dev: c, connections: 1 }], 'rebuilt from the domains');
  t.strictSame(ledger().sort(), ['one', 'three', 'two']);
  // And a domain recorded in both the ledger and its live XML counts once.
  t.strictSame((await d.nets.status('p')).pool.map((x) => x.connections), [1, 1, 1], 'not double-counted');
  await d.nets.allocate('p', { domain: 'four', mac: mac(6) });
  t.equal(total(d.nets.dumpxml('p')), 4);

  // Domains torn down: releases bring the counts to zero and destroy is allowed.
  for (const [dom, m] of [['one', 1], ['two', 2], ['three', 4], ['four', 6]] as const) {
    fs.rmSync(path.join(d.state, `${dom}.xml`), { force: true });
    await d.nets.release('p', { domain: dom, mac: mac(m) });
  }
  t.equal(total(d.nets.dumpxml('p')), 0);
  await d.nets.destroy('p');
  noTemp(t, path.join(d.state, 'networks'));
});

t.test('a domain that is torn down without a release (killed teardown) stops counting once its state is gone', async (t) => {
  const d = dirs(t);
  await d.nets.define(explicit('x', 'bridge', ['p0', 'p1']));
  liveDomain(d, 'gone', [{ network: 'x', mac: mac(1), dev: 'p0', mode: 'bridge' }]);
  await d.nets.start('x');
  t.strictSame((await d.nets.status('x')).pool, [{ dev: 'p0', connections: 1 }, { dev: 'p1', connections: 0 }], 'counted from its live XML (net-start rebuilds the ledger)');
  t.equal((await d.nets.allocate('x', { domain: 'new', mac: mac(2) })).dev, 'p1');
  fs.rmSync(path.join(d.state, 'gone.xml'));
  const s = await d.nets.allocate('x', { domain: 'new2', mac: mac(3) });
  t.equal(s.dev, 'p0', 'the connection of a domain whose state is gone was reclaimed');
});

t.test('a PF that vanishes blocks new allocations, never releases or net-destroy', async (t) => {
  const d = dirs(t);
  makePf(d.sysfs, { pf: 'eth8', vfs: [{ n: 0, netdev: 'gone0' }, { n: 1, netdev: 'gone1' }] });
  await d.nets.define(pfNet('fragile', 'bridge', 'eth8'));
  await d.nets.start('fragile');
  await d.nets.allocate('fragile', { domain: 'g', mac: mac(1) });
  fs.rmSync(path.join(d.sysfs, 'class', 'net', 'eth8')); // the PF's driver unbound
  await rejected(t, () => d.nets.allocate('fragile', { domain: 'h', mac: mac(2) }), { code: 'ENODEV', field: 'pf', value: 'eth8' });
  const r = await d.nets.release('fragile', { domain: 'g', mac: mac(1) });
  t.match(r.warnings, [/no network device eth8.*; using the pool as last seen/]);
  t.strictSame(counts(d.nets.dumpxml('fragile')), { gone0: 0, gone1: 0 }, 'the pool as last seen, the connection gone');
  t.match((await d.nets.destroy('fragile')).warnings, [/using the pool as last seen/]);
  t.notOk(d.nets.isActive('fragile'));
});
