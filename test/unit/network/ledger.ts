// The connection ledger as pure code (lib/network/ledger.ts): which entries
// hold, which are dead, what net-start's rebuild adds (a table of reconcile
// cases), counts per pool device, new entries, and the file format.
import t from 'tap';
import { Connection, connectionsOf, countPool, DomainRef, formatLedger, newConnection, parseLedger, reconcile, ReconcileInput, sameOwner } from '../../../lib/network/ledger';

const DIR = '/run/netfd/qemu';
const A = '52:54:00:00:00:0a';
const B = '52:54:00:00:00:0b';
const conn = (domain: string, mac: string, dev: string, more: Partial<Connection> = {}): Connection => ({ dev, domain, mac, pid: 0, start: null, ...more });
const ref = (domain: string, mac: string, dev: string, scope = DIR): DomainRef => ({ network: 'n', domain, mac, dev, scope });

interface Case {
  name: string;
  in: Partial<ReconcileInput>;
  held: Connection[];
  dead: Connection[];
}

const live = { pid: 100, start: '5000' };
const cases: Case[] = [
  { name: 'an empty ledger: nothing', in: {}, held: [], dead: [] },
  {
    name: "an entry its domain's live XML records holds, on the device the domain records",
    in: { ledger: [conn('g', A, 'p0', live)], recorded: [ref('g', A, 'p1')] },
    held: [conn('g', A, 'p1', live)],
    dead: [],
  },
  {
    name: 'an entry whose allocating process still runs holds (it is setting up)',
    in: { ledger: [conn('g', A, 'p0', live)], starts: new Map([[100, '5000']]) },
    held: [conn('g', A, 'p0', live)],
    dead: [],
  },
  { name: 'a dead process: the entry is dead', in: { ledger: [conn('g', A, 'p0', live)], starts: new Map([[100, null]]) }, held: [], dead: [conn('g', A, 'p0', live)] },
  { name: 'a pid not looked up counts as not running', in: { ledger: [conn('g', A, 'p0', live)] }, held: [], dead: [conn('g', A, 'p0', live)] },
  { name: 'a reused pid (another start time) is not the allocating process', in: { ledger: [conn('g', A, 'p0', live)], starts: new Map([[100, '9999']]) }, held: [], dead: [conn('g', A, 'p0', live)] },
  {
    name: 'an entry rebuilt from a domain (pid 0) holds only while its domain records it',
    in: { ledger: [conn('g', A, 'p0'), conn('h', B, 'p1')], recorded: [ref('h', B, 'p1')] },
    held: [conn('h', B, 'p1')],
    dead: [conn('g', A, 'p0')],
  },
  {
    name: 'the same connection twice: once held, the second entry is dropped',
    in: { ledger: [conn('g', A, 'p0'), conn('g', A, 'p1', live)], recorded: [ref('g', A, 'p0')], starts: new Map([[100, '5000']]) },
    held: [conn('g', A, 'p0')],
    dead: [],
  },
  {
    name: 'the same connection twice: a dead entry does not hide a live one after it',
    in: {
      ledger: [conn('g', A, 'p0', { pid: 7, start: '1' }), conn('g', A, 'p1', live)],
      starts: new Map([
        [7, null],
        [100, '5000'],
      ]),
    },
    held: [conn('g', A, 'p1', live)],
    dead: [conn('g', A, 'p0', { pid: 7, start: '1' })],
  },
  {
    name: 'a domain of the same name in another scope does not confirm an entry',
    in: { ledger: [conn('g', A, 'p0')], recorded: [ref('g', A, 'p0', '/run/netfd/qemu/agent/1000')] },
    held: [],
    dead: [conn('g', A, 'p0')],
  },
  {
    name: 'an entry naming the default scope is the entry naming none',
    in: { ledger: [conn('g', A, 'p0', { scope: DIR })], recorded: [ref('g', A, 'p2')] },
    held: [conn('g', A, 'p2', { scope: DIR })],
    dead: [],
  },
  { name: 'a domain recording another MAC does not confirm an entry', in: { ledger: [conn('g', A, 'p0')], recorded: [ref('g', B, 'p0')] }, held: [], dead: [conn('g', A, 'p0')] },
  {
    name: 'rebuild: what domains record and the ledger lacks is added (pid 0), a scope only when not the default',
    in: { scanned: [ref('g', A, 'p0'), ref('u', B, 'p1', '/s/agent/1000'), ref('g', A, 'p0')] },
    held: [conn('g', A, 'p0'), conn('u', B, 'p1', { scope: '/s/agent/1000' })],
    dead: [],
  },
  { name: 'rebuild: a scanned connection the ledger has is not added twice', in: { ledger: [conn('g', A, 'p0', live)], scanned: [ref('g', A, 'p3')] }, held: [conn('g', A, 'p3', live)], dead: [] },
  {
    name: "rebuild: the ledger's domains' own record wins over the scan",
    in: { ledger: [conn('g', A, 'p0')], scanned: [ref('g', A, 'p3')], recorded: [ref('g', A, 'p4')] },
    held: [conn('g', A, 'p4')],
    dead: [],
  },
  {
    name: 'a dead entry is not brought back by the scan of another domain',
    in: { ledger: [conn('g', A, 'p0', live)], scanned: [ref('h', A, 'p0')] },
    held: [conn('h', A, 'p0')],
    dead: [conn('g', A, 'p0', live)],
  },
];

t.test('reconcile: which ledger entries hold, which are dead, what a rebuild adds', async (t) => {
  for (const c of cases) {
    const input: ReconcileInput = { ledger: [], recorded: [], starts: new Map(), domainDir: DIR, ...c.in };
    const frozen = JSON.stringify(input.ledger);
    t.strictSame(reconcile(input), { held: c.held, dead: c.dead }, c.name);
    t.equal(JSON.stringify(input.ledger), frozen, `${c.name}: the ledger given is not changed`);
  }
});

t.test('countPool: per device in pool order, devices outside the pool after it', async (t) => {
  t.strictSame(countPool([], []), []);
  t.strictSame(countPool(['p0', 'p1'], []), [
    { dev: 'p0', connections: 0 },
    { dev: 'p1', connections: 0 },
  ]);
  t.strictSame(countPool(['p0', 'p1'], [conn('a', A, 'p1'), conn('b', B, 'p1'), conn('c', A, 'p0')]), [
    { dev: 'p0', connections: 1 },
    { dev: 'p1', connections: 2 },
  ]);
  t.strictSame(
    countPool(['p0'], [conn('a', A, 'gone'), conn('b', B, 'p0'), conn('c', A, 'gone')]),
    [
      { dev: 'p0', connections: 1 },
      { dev: 'gone', connections: 2, outside: true },
    ],
    'a vanished device with connections stays listed',
  );
});

t.test('owners: a domain in a scope, the default scope when none is named', async (t) => {
  t.ok(sameOwner({ domain: 'g' }, { domain: 'g', scope: DIR }, DIR));
  t.notOk(sameOwner({ domain: 'g' }, { domain: 'g', scope: '/other' }, DIR));
  t.notOk(sameOwner({ domain: 'g' }, { domain: 'h' }, DIR));
  const ledger = [conn('g', A, 'p0'), conn('g', B, 'p1'), conn('g', A, 'p2', { scope: '/other' })];
  t.strictSame(connectionsOf(ledger, { domain: 'g', mac: A }, DIR), [ledger[0]]);
  t.strictSame(connectionsOf(ledger, { domain: 'g', mac: A, scope: '/other' }, DIR), [ledger[2]]);
  t.strictSame(connectionsOf(ledger, { domain: 'x', mac: A }, DIR), []);
});

t.test('newConnection: the allocating process, the scope only when not the default, netns and group when given', async (t) => {
  const o = { pid: 42, start: '77', domainDir: DIR };
  t.strictSame(newConnection('p0', { domain: 'g', mac: A }, o), { dev: 'p0', domain: 'g', mac: A, pid: 42, start: '77' });
  t.strictSame(newConnection('p0', { domain: 'g', mac: A, scope: DIR, netns: undefined, group: undefined }, o), { dev: 'p0', domain: 'g', mac: A, pid: 42, start: '77' });
  const c = newConnection('p0', { domain: 'g', mac: A, scope: '/s', netns: 'ns1', group: 9 }, o);
  t.strictSame(c, { dev: 'p0', domain: 'g', mac: A, pid: 42, start: '77', scope: '/s', netns: 'ns1', group: 9 });
  t.strictSame(Object.keys(c), ['dev', 'domain', 'mac', 'pid', 'start', 'scope', 'netns', 'group'], 'the order the ledger file has always had');
});

t.test('the ledger file: version 1, one entry per connection; anything else is an error saying what', async (t) => {
  const entries = [conn('g', A, 'p0', { pid: 5, start: '9', saved: { mac: B } }), conn('h', B, 'p1', { scope: '/s', group: 3 })];
  const text = formatLedger(entries);
  t.equal(text, `${JSON.stringify({ version: 1, connections: entries }, null, 1)}\n`);
  t.strictSame(parseLedger(text), entries, 'round trip');
  t.strictSame(parseLedger(formatLedger([])), []);
  t.throws(() => parseLedger('{"connections": ['), SyntaxError, 'cut off mid-write');
  t.throws(() => parseLedger('{"version": 1}'), { message: 'no connections array' });
  t.throws(() => parseLedger('{"connections": [{"dev": "p0", "domain": "g", "mac": "x"}]}'), { message: 'bad entry {"dev":"p0","domain":"g","mac":"x"}' });
  t.throws(() => parseLedger('{"connections": [null]}'), { message: 'bad entry null' });
});
