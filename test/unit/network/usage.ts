// The pool's usage as an index (lib/network/usage.ts): counts kept as
// connections come and go, equal to countPool over the same connections;
// which connections a call has to check (not checked yet, of a changed
// scope, of another process) and which it may take as holding; settling
// what was checked with reconcile's rules; and the live XML's cut text
// (lib/network/livetext.ts) equal to a full render.
import t from 'tap';
import { Connection, countPool, DomainRef, formatLedger } from '../../../lib/network/ledger';
import { LiveText } from '../../../lib/network/livetext';
import { PoolUsage } from '../../../lib/network/usage';
import { NetworkXml } from '../../../lib/xml/network';

const DIR = '/run/netfd';
const AGENT = '/run/netfd/agent/1000';
const ME = 4242;
const mac = (n: number) => `52:54:00:00:00:${n.toString(16).padStart(2, '0')}`;
const conn = (domain: string, n: number, dev: string, more: Partial<Connection> = {}): Connection => ({ dev, domain, mac: mac(n), pid: ME, start: '1', ...more });
const ref = (c: Connection, dev = c.dev): DomainRef => ({ network: 'n', domain: c.domain, mac: c.mac, dev, scope: c.scope ?? DIR });
const none = new Set<string>();
const DEVS = ['p0', 'p1', 'p2'];

t.test('counts follow add and remove, as countPool counts the same connections', async (t) => {
  const u = new PoolUsage([conn('a', 1, 'p0'), conn('b', 2, 'p1')], DIR);
  t.strictSame(u.pool(DEVS), countPool(DEVS, u.connections));
  u.add(conn('c', 3, 'p0'));
  u.add(conn('d', 4, 'p2', { scope: AGENT }));
  t.strictSame(u.pool(DEVS), [
    { dev: 'p0', connections: 2 },
    { dev: 'p1', connections: 1 },
    { dev: 'p2', connections: 1 },
  ]);
  t.ok(u.has({ domain: 'd', scope: AGENT, mac: mac(4) }), 'a connection is known by scope, domain and MAC');
  t.notOk(u.has({ domain: 'd', mac: mac(4) }), 'the same domain name in another scope is another domain');
  t.ok(u.has({ domain: 'a', scope: DIR, mac: mac(1) }), 'the default scope named or not is the same');
  t.strictSame(u.remove({ domain: 'a', mac: mac(1) }), [conn('a', 1, 'p0')]);
  t.strictSame(u.remove({ domain: 'a', mac: mac(1) }), [], 'removing what is not there removes nothing');
  t.strictSame(
    u.connections.map((c) => c.domain),
    ['b', 'c', 'd'],
    'ledger order kept',
  );
  t.strictSame(u.pool(DEVS), countPool(DEVS, u.connections));
  t.equal(u.size, 3);
  t.strictSame(u.scopes().sort(), [AGENT, DIR].sort(), 'the scopes of the connections');
  u.remove({ domain: 'd', scope: AGENT, mac: mac(4) });
  t.strictSame(u.scopes(), [DIR], 'a scope without connections is no longer watched');

  // A device outside the pool (a VF gone) that carries connections is listed after the pool, as countPool does.
  u.add(conn('e', 5, 'gone'));
  t.strictSame(u.pool(DEVS), countPool(DEVS, u.connections));
  t.match(u.pool(DEVS).at(-1), { dev: 'gone', connections: 1, outside: true });
});

t.test('pool(): one array per device list, kept up to date; a list with a device twice or another list is counted anew', async (t) => {
  const u = new PoolUsage([conn('a', 1, 'p0')], DIR);
  const devs = ['p0', 'p1', 'p2'];
  const first = u.pool(devs);
  t.equal(u.pool(devs), first, 'the same list: the same array');
  u.add(conn('b', 2, 'p1'));
  u.add(conn('c', 3, 'p1'));
  t.equal(u.pool(devs), first);
  t.strictSame(first, countPool(devs, u.connections), 'its counts followed the adds');
  u.remove({ domain: 'c', mac: mac(3) });
  u.settle(u.due({ changed: none, pid: ME + 1 }), { recorded: [], starts: new Map([[ME, '1']]) });
  t.strictSame(u.pool(devs), countPool(devs, u.connections), 'and the removes and a settle');
  const other = ['p2', 'p1', 'p0'];
  t.strictSame(u.pool(other), countPool(other, u.connections), 'another list: counted for it');
  t.strictSame(u.pool(devs), countPool(devs, u.connections), 'and back');
  const twice = ['p0', 'p1', 'p0'];
  t.strictSame(u.pool(twice), countPool(twice, u.connections), 'a device listed twice: as countPool counts it');
  u.add(conn('d', 4, 'gone'));
  t.strictSame(u.pool(devs), countPool(devs, u.connections), 'a connection outside the list: as countPool lists it');
  u.remove({ domain: 'd', mac: mac(4) });
  t.strictSame(u.pool(devs), countPool(devs, u.connections));
});

t.test('ledgerText(): formatLedger of the connections, kept through adds, removes at the end and elsewhere, and settles', async (t) => {
  const u = new PoolUsage([conn('a', 1, 'p0'), conn('b', 2, 'p1')], DIR);
  const same = (what: string) => t.equal(u.ledgerText(), formatLedger(u.connections), what);
  same('as read');
  u.add(conn('c', 3, 'p2'));
  same('one added');
  u.remove({ domain: 'c', mac: mac(3) });
  same('the last one removed');
  u.remove({ domain: 'b', mac: mac(2) });
  u.remove({ domain: 'a', mac: mac(1) });
  same('all removed');
  t.equal(u.ledgerText(), formatLedger([]));
  u.add(conn('d', 4, 'p0'));
  u.add(conn('e', 5, 'p1'));
  u.add(conn('f', 6, 'p2'));
  same('added to none');
  u.remove({ domain: 'd', mac: mac(4) });
  same('the first one removed');
  u.add(conn('g', 7, 'p0', { scope: AGENT }));
  same('added after');
  u.settle(u.due({ changed: none, pid: ME + 1 }), { recorded: [ref(conn('e', 5, 'p1'), 'p2')], starts: new Map([[ME, null]]) });
  same('settled: one moved to the device its domain records, the others dead');
  t.equal(u.size, 1);
  u.add(conn('h', 8, 'p0'));
  same('added after a settle');
});

t.test('due: what a call checks, and what holds without a check', async (t) => {
  const other = { pid: 77, start: '9' };
  const u = new PoolUsage([conn('mine', 1, 'p0'), conn('theirs', 2, 'p1', other), conn('agent', 3, 'p2', { ...other, scope: AGENT }), conn('rebuilt', 4, 'p0', { pid: 0, start: null })], DIR);
  t.strictSame(
    u.due({ changed: none, pid: ME }).map((c) => c.domain),
    ['mine', 'theirs', 'agent', 'rebuilt'],
    'read from a ledger: every connection, once',
  );
  const all = u.connections;
  const dead = u.settle(all, {
    recorded: [ref(all[2]), ref(all[3], 'p1')],
    starts: new Map([
      [ME, '1'],
      [77, '9'],
    ]),
  });
  t.strictSame(dead, []);
  t.strictSame([...u.standings().values()], ['running', 'running', 'recorded', 'recorded']);
  t.equal(u.connections[3].dev, 'p1', 'a connection takes the device its domain records');
  t.strictSame(
    u.due({ changed: none, pid: ME }).map((c) => c.domain),
    ['theirs'],
    'then only what another process holds while it runs (it may die)',
  );
  t.strictSame(
    u.due({ changed: new Set([DIR]), pid: ME }).map((c) => c.domain),
    ['mine', 'theirs', 'rebuilt'],
    'and everything of a scope whose directory changed',
  );
  t.strictSame(
    u.due({ changed: new Set([AGENT]), pid: ME }).map((c) => c.domain),
    ['theirs', 'agent'],
  );
  u.add(conn('new', 5, 'p2'));
  t.notOk(
    u.due({ changed: none, pid: ME }).some((c) => c.domain === 'new'),
    "this process's own new connection holds while it runs",
  );
});

t.test('settle: the dead are removed and returned, duplicates dropped, the rest untouched', async (t) => {
  const gone = { pid: 66, start: '3' };
  const a = conn('a', 1, 'p0', gone);
  const b = conn('b', 2, 'p1', gone);
  const dup = conn('b', 2, 'p2', gone);
  const c = conn('c', 3, 'p2');
  const u = new PoolUsage([a, b, dup, c], DIR);
  const dead = u.settle([a, b, dup], { recorded: [ref(b)], starts: new Map([[66, null]]) });
  t.strictSame(dead, [a], 'a dead process, its domain recording nothing: dead');
  t.strictSame(u.connections, [b, c], 'b recorded (its second entry dropped), c not checked and kept');
  t.strictSame(u.pool(DEVS), [
    { dev: 'p0', connections: 0 },
    { dev: 'p1', connections: 1 },
    { dev: 'p2', connections: 1 },
  ]);
  t.strictSame(u.settle([], { recorded: [], starts: new Map() }), [], 'nothing to check: nothing changes');
  // A recorded connection whose live XML is gone, of a process that no longer runs: dead at its next check.
  const [held] = u.connections; // what settle kept (the connections to check come from the index, as due gives them)
  t.strictSame(u.settle([held], { recorded: [], starts: new Map([[66, null]]) }), [b]);
  t.strictSame(u.connections, [c]);
  t.notOk(u.has(b));
});

t.test('formatLedger: the same text as JSON.stringify with one space, made from entries kept', async (t) => {
  const list = [conn('a', 1, 'p0'), conn('b"\n', 2, 'p1', { scope: AGENT, saved: { mac: mac(9) }, group: 7, netns: 'ns' }), conn('c', 3, 'p2', { pid: 0, start: null })];
  for (const cs of [[], list.slice(0, 1), list, [list[2], list[0]]]) t.equal(formatLedger(cs), `${JSON.stringify({ version: 1, connections: cs }, null, 1)}\n`);
});

t.test('the live XML cut at its counts renders as NetworkXml.live does', async (t) => {
  const defs = [
    "<network><name>pool</name><forward mode='bridge'><pf dev='eth0'/></forward></network>",
    "<network>\n  <name>listed</name>\n  <forward mode='vepa'>\n    <interface dev='x'/>\n    <interface dev='y'/>\n  </forward>\n</network>\n",
    "<network><name>one</name><forward mode='passthrough'><interface dev='only'/></forward></network>",
    "<network><name>tricky</name><title>7340000000000 7340000000001</title><forward mode='vepa'><interface dev='a'/><interface dev='b'/></forward></network>",
    "<network><name>accents</name><title>réseau ☃ 𝄞</title><forward mode='vepa'><interface dev='a'/><interface dev='b'/></forward></network>",
  ];
  const pools = [
    [
      { dev: 'vf0', connections: 0 },
      { dev: 'vf1', connections: 3 },
      { dev: 'vf2', connections: 0 },
    ],
    [
      { dev: 'y', connections: 2 },
      { dev: 'x', connections: 0 },
      { dev: 'z', connections: 1, outside: true },
    ],
    [{ dev: 'only', connections: 1 }],
    [
      { dev: 'a', connections: 5 },
      { dev: 'b', connections: 12 },
    ],
    [
      { dev: 'a', connections: 1 },
      { dev: 'b', connections: 0 },
    ],
  ];
  for (const [i, text] of defs.entries()) {
    const xml = NetworkXml.parse(text);
    const pool = pools[i];
    const lt = new LiveText(LiveText.keyOf(text, pool), pool, (p) => xml.live(p));
    t.ok(lt.cut, `${xml.def.name}: cut`);
    for (const counts of [
      [0, 0, 0],
      [1, 0, 2],
      [10, 200, 3000],
    ]) {
      const p = pool.map((d, n) => ({ ...d, connections: counts[n] ?? 0 }));
      t.equal(lt.text(p), xml.live(p), `${xml.def.name}: counts ${counts.slice(0, pool.length).join(',')}`);
    }
    const other = pool.map((d) => ({ ...d, dev: `${d.dev}x` }));
    t.equal(lt.text(other), xml.live(other), 'another device list: rendered in full');
  }
  // Marker counts the definition already holds cannot be cut: rendered in full each time.
  const odd = NetworkXml.parse("<network><name>odd</name><title>\"7340000000000\"</title><forward mode='vepa'><interface dev='a'/><interface dev='b'/></forward></network>");
  const pool = [
    { dev: 'a', connections: 1 },
    { dev: 'b', connections: 0 },
  ];
  const lt = new LiveText('k', pool, (p) => odd.live(p));
  t.notOk(lt.cut, 'a marker found twice: not cut');
  t.equal(lt.text(pool), odd.live(pool));
});
