// A network's live state (lib/network/store.ts) through Networks: <pf>
// pools expanded from sysfs fixture trees, allocation sequences, connection
// counts rebuilt after a restart, dead connections reclaimed, and the host
// half called as the ledger decides (a recording ConnectionUndo). No root:
// the pools here are fixture devices that exist only in sysfs (passthrough,
// which saves a real device's MAC, runs in test/privileged/networks.ts).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { formatLedger } from '../../../lib/network/ledger';
import { ConnectionUndo, NetworkStore } from '../../../lib/network/store';
import { replaceFileAtomic } from '../../../lib/state/atomic';
import { processStart } from '../../../lib/state/pidfile';
import { pf64, pfAllNoNetdev, pfGaps, pfN, pfNotSriov, makePf } from '../../../scripts/sriov-fixture';
import { counts, dirs, explicit, liveDomain, mac, noTemp, pfNet, total } from '../../helpers/networks';
import { rejected } from '../../helpers/refused';

t.test('<pf> pools: expanded at net-start from sysfs fixtures; --inactive shows the <pf> alone', async (t) => {
  const d = dirs(t);
  const pf = pf64(d.sysfs);
  const gaps = pfGaps(d.sysfs);
  pfAllNoNetdev(d.sysfs);
  pfNotSriov(d.sysfs);
  makePf(d.sysfs, {
    pf: 'eth6',
    vfs: [
      { n: 0, netdev: 'vfa' },
      { n: 1, netdev: null },
      { n: 2, netdev: 'vfc' },
    ],
  });
  await d.nets.define(pfNet('sriov', 'passthrough', 'eth0'));
  const s = await d.nets.start('sriov');
  t.equal(s.pool.length, 64);
  t.strictSame(
    s.pool.map((p) => p.dev),
    pf.devices,
    'the 64 VF netdevs, in virtfn order',
  );
  const live = d.nets.dumpxml('sriov');
  t.match(live, /<pf dev=["']eth0["']\/>\s*<interface dev="enp1s0f0v0" connections="0"\/>/, 'live: the <pf> and then its expansion, as libvirt');
  t.match(live, /<forward mode="passthrough" connections="0">/, 'live: no <forward dev> with a <pf> (libvirt writes none then)');
  t.equal((live.match(/<interface /g) ?? []).length, 64);
  const inactive = d.nets.dumpxml('sriov', { inactive: true });
  t.notMatch(inactive, '<interface', '--inactive: no expanded list');
  t.match(inactive, /<pf dev=.eth0.\/>/);

  await d.nets.define(pfNet('gaps', 'vepa', 'eth1'));
  t.strictSame(
    (await d.nets.start('gaps')).pool.map((p) => p.dev),
    gaps.devices,
    'virtfn numbers with gaps',
  );
  await d.nets.define(pfNet('some', 'bridge', 'eth6'));
  const some = await d.nets.start('some');
  t.strictSame(
    some.pool.map((p) => p.dev),
    ['vfa', 'vfc'],
    'a VF without netdev is skipped',
  );
  t.match(some.warnings, [/VF 1 .* has no network device .*skipped/]);

  await d.nets.define(pfNet('none', 'passthrough', 'eth3'));
  await rejected(t, () => d.nets.start('none'), { code: 'NO_VFS', field: 'pf', value: 'eth3' }, /^no usable VFs on PF eth3/);
  await d.nets.define(pfNet('plain', 'passthrough', 'eth4'));
  await rejected(t, () => d.nets.start('plain'), { code: 'NOT_SRIOV', field: 'pf', value: 'eth4' }, /not SR-IOV capable/);
  await d.nets.define(pfNet('absent', 'passthrough', 'eth9'));
  await rejected(t, () => d.nets.start('absent'), { code: 'ENODEV', field: 'pf', value: 'eth9' });
  t.strictSame(d.nets.activeNames(), ['gaps', 'some', 'sriov'], 'failed starts leave no live state');
  t.strictSame(
    fs.readdirSync(path.join(d.state, 'networks')).filter((f) => /^(none|plain|absent)\./.test(f)),
    [],
  );
});

t.test('allocation: least-used spread on vepa, release and reuse, expansion again when sriov_numvfs changes', async (t) => {
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

  // A VF enabled after net-start (sriov_numvfs raised) is in the pool at the next allocation.
  makePf(d.sysfs, { pf: 'eth7', vfs: [{ n: 0, netdev: 'late0' }] });
  await d.nets.define(pfNet('grow', 'vepa', 'eth7'));
  await d.nets.start('grow');
  t.equal((await d.nets.allocate('grow', { domain: 'a', mac: mac(1) })).dev, 'late0');
  const pci = fs.realpathSync(path.join(d.sysfs, 'class/net/eth7/device'));
  const vf1 = path.join(path.dirname(pci), '0000:99:00.1');
  fs.mkdirSync(path.join(vf1, 'net', 'late1'), { recursive: true });
  fs.symlinkSync(`../${path.basename(vf1)}`, path.join(pci, 'virtfn1'));
  t.equal((await d.nets.allocate('grow', { domain: 'x', mac: mac(7) })).dev, 'late0', 'sysfs is not walked again while sriov_numvfs stays the same');
  await d.nets.release('grow', { domain: 'x', mac: mac(7) });
  fs.writeFileSync(path.join(pci, 'sriov_numvfs'), '2\n');
  t.equal((await d.nets.allocate('grow', { domain: 'b', mac: mac(2) })).dev, 'late1', 'the new VF, least used, is chosen');
  // A VF that disappears while in use stays listed with its connections.
  fs.rmSync(path.join(pci, 'virtfn0'));
  fs.writeFileSync(path.join(pci, 'sriov_numvfs'), '1\n');
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

const CHILD = path.join(__dirname, '..', '..', 'helpers', 'net-child.js');
const built = fs.existsSync(path.join(__dirname, '..', '..', '..', 'dist', 'netdev', 'network.js'));

t.test(
  'counts survive a restart: rebuilt from the domains, never double-counted; a crash before the domain state is reclaimed',
  { skip: built ? false : 'dist/ is not built (npm run build:ts)' },
  async (t) => {
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
    t.strictSame(
      again.pool,
      [
        { dev: a, connections: 1 },
        { dev: b, connections: 1 },
        { dev: c, connections: 1 },
      ],
      'rebuilt from the domains',
    );
    t.strictSame(ledger().sort(), ['one', 'three', 'two']);
    // And a domain recorded in both the ledger and its live XML counts once.
    t.strictSame(
      (await d.nets.status('p')).pool.map((x) => x.connections),
      [1, 1, 1],
      'not double-counted',
    );
    await d.nets.allocate('p', { domain: 'four', mac: mac(6) });
    t.equal(total(d.nets.dumpxml('p')), 4);

    // Domains torn down: releases bring the counts to zero and destroy is allowed.
    for (const [dom, m] of [
      ['one', 1],
      ['two', 2],
      ['three', 4],
      ['four', 6],
    ] as const) {
      fs.rmSync(path.join(d.state, `${dom}.xml`), { force: true });
      await d.nets.release('p', { domain: dom, mac: mac(m) });
    }
    t.equal(total(d.nets.dumpxml('p')), 0);
    await d.nets.destroy('p');
    noTemp(t, path.join(d.state, 'networks'));
  },
);

t.test('a domain that is torn down without a release (killed teardown) stops counting once its state is gone', async (t) => {
  const d = dirs(t);
  await d.nets.define(explicit('x', 'bridge', ['p0', 'p1']));
  liveDomain(d, 'gone', [{ network: 'x', mac: mac(1), dev: 'p0', mode: 'bridge' }]);
  await d.nets.start('x');
  t.strictSame(
    (await d.nets.status('x')).pool,
    [
      { dev: 'p0', connections: 1 },
      { dev: 'p1', connections: 0 },
    ],
    'counted from its live XML (net-start rebuilds the ledger)',
  );
  t.equal((await d.nets.allocate('x', { domain: 'new', mac: mac(2) })).dev, 'p1');
  fs.rmSync(path.join(d.state, 'gone.xml'));
  const s = await d.nets.allocate('x', { domain: 'new2', mac: mac(3) });
  t.equal(s.dev, 'p0', 'the connection of a domain whose state is gone was reclaimed');
});

t.test('a PF that vanishes blocks new allocations, never releases or net-destroy', async (t) => {
  const d = dirs(t);
  makePf(d.sysfs, {
    pf: 'eth8',
    vfs: [
      { n: 0, netdev: 'gone0' },
      { n: 1, netdev: 'gone1' },
    ],
  });
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

t.test('the host half is called as the ledger decides: reclaim for dead connections (not by status), restore on release', async (t) => {
  const d = dirs(t);
  const calls: string[] = [];
  const undo: ConnectionUndo = {
    reclaim: async (c, warnings) => {
      calls.push(`reclaim ${c.domain} ${c.dev}`);
      warnings.push(`undid ${c.domain}`);
    },
    restore: async (c, warnings) => {
      calls.push(`restore ${c.domain} ${c.saved?.mac ?? 'none'}`);
      warnings.push(`restored ${c.dev}`);
    },
  };
  const store = new NetworkStore({ configDir: d.config, stateDir: d.state, sysfsRoot: d.sysfs }, undo);
  await store.define(explicit('pt', 'passthrough', ['p0', 'p1', 'p2']));
  await store.start('pt');
  const gone = spawnSync(process.execPath, ['-e', '0']).pid; // a process that has exited
  const me = { pid: process.pid, start: processStart(process.pid) };
  const ledger = [
    { dev: 'p0', domain: 'dead', mac: mac(1), pid: gone, start: '1' },
    { dev: 'p1', domain: 'alive', mac: mac(2), ...me, saved: { mac: mac(9) } },
  ];
  fs.writeFileSync(store.ledgerPath('pt'), formatLedger(ledger));

  const s = await store.status('pt');
  t.strictSame(
    s.pool,
    [
      { dev: 'p0', connections: 0 },
      { dev: 'p1', connections: 1 },
      { dev: 'p2', connections: 0 },
    ],
    'the dead connection does not count',
  );
  t.strictSame(calls, [], 'status changes nothing');
  t.strictSame(JSON.parse(fs.readFileSync(store.ledgerPath('pt'), 'utf8')).connections, ledger, 'nor the ledger');

  t.strictSame(await store.reclaim('pt'), { warnings: ['undid dead'] });
  t.strictSame(calls, ['reclaim dead p0'], 'reclaim undoes the dead connection, once');
  t.strictSame(JSON.parse(fs.readFileSync(store.ledgerPath('pt'), 'utf8')).connections, [ledger[1]], 'and drops it from the ledger');

  t.strictSame(await store.release('pt', { domain: 'alive', mac: mac(2) }), { warnings: ['restored p1'] });
  t.strictSame(calls, ['reclaim dead p0', `restore alive ${mac(9)}`], "release gives the device's saved MAC back");
  t.strictSame(counts(store.dumpxml('pt')), { p0: 0, p1: 0, p2: 0 });
  await store.destroy('pt');
  t.equal(calls.length, 2, 'nothing left to undo at destroy');
});

t.test('the index kept between calls follows the files: another writer of the ledger, a restarted network, a domain state gone', async (t) => {
  const d = dirs(t);
  await d.nets.define(explicit('ix', 'bridge', ['p0', 'p1']));
  await d.nets.start('ix');
  t.equal((await d.nets.allocate('ix', { domain: 'a', mac: mac(1) })).dev, 'p0');
  // Another process adds a connection (as a CLI beside the agent would): the next allocation counts it.
  const other = JSON.parse(fs.readFileSync(d.nets.ledgerPath('ix'), 'utf8')).connections;
  other.push({ dev: 'p1', domain: 'b', mac: mac(2), pid: process.pid, start: processStart(process.pid) });
  fs.writeFileSync(d.nets.ledgerPath('ix'), formatLedger(other));
  t.equal((await d.nets.allocate('ix', { domain: 'c', mac: mac(3) })).dev, 'p0', "p1 carries the other writer's connection: the first of equals");
  await rejected(t, () => d.nets.allocate('ix', { domain: 'b', mac: mac(2) }), { code: 'EEXIST', field: 'mac', value: mac(2) });
  t.strictSame(counts(d.nets.dumpxml('ix')), { p0: 2, p1: 1 });
  for (const [dom, m] of [
    ['a', 1],
    ['b', 2],
    ['c', 3],
  ] as const)
    await d.nets.release('ix', { domain: dom, mac: mac(m) });
  t.strictSame(counts(d.nets.dumpxml('ix')), { p0: 0, p1: 0 });

  // Destroyed and started again from another definition: the same empty ledger, another pool.
  await d.nets.destroy('ix');
  await d.nets.define(explicit('ix', 'bridge', ['q0']));
  await d.nets.start('ix');
  t.equal((await d.nets.allocate('ix', { domain: 'a', mac: mac(1) })).dev, 'q0', 'the new definition, not the index of the old one');
  await d.nets.release('ix', { domain: 'a', mac: mac(1) });

  // A connection its domain records (its process gone); the domain's state goes without a release (a teardown cut short).
  await d.nets.define(explicit('ix2', 'bridge', ['r0', 'r1']));
  await d.nets.start('ix2');
  const dead = { pid: spawnSync(process.execPath, ['-e', '0']).pid, start: '1' };
  fs.writeFileSync(d.nets.ledgerPath('ix2'), formatLedger([{ dev: 'r0', domain: 'kept', mac: mac(5), ...dead }]));
  liveDomain(d, 'kept', [{ network: 'ix2', mac: mac(5), dev: 'r0', mode: 'bridge' }]);
  t.equal((await d.nets.allocate('ix2', { domain: 'n', mac: mac(6) })).dev, 'r1', 'recorded by its domain: it holds');
  await new Promise((r) => setTimeout(r, 150)); // past a change too recent to trust
  t.strictSame((await d.nets.allocate('ix2', { domain: 'm', mac: mac(7) })).warnings, [], 'still held, nothing reclaimed');
  fs.rmSync(path.join(d.state, 'kept.xml'));
  const a = await d.nets.allocate('ix2', { domain: 'o', mac: mac(8) });
  t.match(a.warnings, [/reclaimed the connection of kept/], 'its connection is reclaimed at the next allocation');
  t.notOk(
    (JSON.parse(fs.readFileSync(d.nets.ledgerPath('ix2'), 'utf8')).connections as { domain: string }[]).some((c) => c.domain === 'kept'),
    'and gone from the ledger',
  );
});

t.test('the index checks the files by identity: a ledger another writer replaced with a text of the same size, or rewrote in place, is read again', async (t) => {
  const d = dirs(t);
  await d.nets.define(explicit('sz', 'bridge', ['p0', 'p1']));
  await d.nets.start('sz');
  t.equal((await d.nets.allocate('sz', { domain: 'aa', mac: mac(1) })).dev, 'p0');
  const file = d.nets.ledgerPath('sz');
  // Another writer's replacement (by rename, as netfd writes): the same size, another domain.
  replaceFileAtomic(file, fs.readFileSync(file, 'utf8').replace('"aa"', '"bb"'));
  await rejected(t, () => d.nets.allocate('sz', { domain: 'bb', mac: mac(1) }), { code: 'EEXIST', field: 'mac', value: mac(1) });
  t.equal((await d.nets.allocate('sz', { domain: 'aa', mac: mac(1) })).dev, 'p1', "aa's connection is gone: bb's holds p0");
  // In place (the same inode), the same size again: its times changed.
  await new Promise((r) => setTimeout(r, 20));
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"bb"', '"cc"'));
  await rejected(t, () => d.nets.allocate('sz', { domain: 'cc', mac: mac(1) }), { code: 'EEXIST', field: 'mac', value: mac(1) });
  for (const dom of ['aa', 'cc']) await d.nets.release('sz', { domain: dom, mac: mac(1) });
  t.strictSame(counts(d.nets.dumpxml('sz')), { p0: 0, p1: 0 });
});
