// The agent's CNI records: one file per (container id, ifname), written
// new (a second one for the same attachment is EEXIST and leaves the first),
// replaced atomically, listed without unfinished writes, unreadable ones
// reported by name; one attachment's operations run one at a time.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { CniRecord, CniStore } from '../../../lib/agent/cni-store';
import { refused } from '../../helpers/refused';

function store(t: { teardown: (fn: () => void) => void }): CniStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-cni-store-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return new CniStore(dir);
}

const rec = (containerId: string, ifname: string, extra: Partial<CniRecord> = {}): CniRecord => ({
  v: 1,
  uid: 0,
  containerId,
  ifname,
  network: 'vmnet',
  netns: '/run/netns/pod',
  netnsIno: 4026532000,
  state: 'adding',
  kind: 'tap',
  xml: "<interface type='ethernet'/>",
  since: '2026-01-01T00:00:00.000Z',
  ...extra,
});

t.test('create, get, update, list, drop', async (t) => {
  const s = store(t);
  t.same(s.list(0), [], 'no directory yet: nothing');
  t.equal(s.get(0, 'c1', 'net1'), undefined);
  s.create(rec('c1', 'net1'));
  t.equal(fs.statSync(s.dir).mode & 0o777, 0o700, "root's alone");
  t.equal(fs.statSync(s.scope(0)).mode & 0o777, 0o700);
  t.same(s.get(0, 'c1', 'net1'), rec('c1', 'net1'));
  const again = refused(t, () => s.create(rec('c1', 'net1', { state: 'ready' })), { code: 'EEXIST', field: 'CNI_IFNAME', value: 'net1' }, /already has net1 from netfd \(since 2026/);
  t.equal(again?.errno, -17);
  t.equal(s.get(0, 'c1', 'net1')?.state, 'adding', 'the first record is left as it was');
  s.update(rec('c1', 'net1', { state: 'ready', ifindex: 7 }));
  t.match(s.get(0, 'c1', 'net1'), { state: 'ready', ifindex: 7 });
  s.create(rec('c1', 'eth0'));
  s.create(rec('c2.x_y-z', '.odd-name'));
  fs.writeFileSync(path.join(s.scope(0), '.c3~6e657431.json.123.abc.tmp'), 'half');
  fs.writeFileSync(path.join(s.scope(0), 'README'), 'not a record');
  s.create(rec('c1', 'net1', { uid: 1000 }));
  t.equal(s.get(1000, 'c1', 'net1')?.uid, 1000, "another caller's attachment of the same names is its own");
  t.same(
    s.list(0).map((r) => `${r.containerId}/${r.ifname}`),
    ['c1/eth0', 'c1/net1', 'c2.x_y-z/.odd-name'],
    'every record; no unfinished write',
  );
  s.drop(0, 'c1', 'net1');
  s.drop(0, 'c1', 'net1');
  t.equal(s.get(0, 'c1', 'net1'), undefined, 'dropped (twice is fine)');
});

t.test('no two attachments share a file', async (t) => {
  const s = store(t);
  const pairs: [string, string][] = [
    ['a', 'b~c'],
    ['a~b', 'c'],
    ['ab', 'c'],
    ['a', 'bc'],
  ];
  for (const [c, i] of pairs) s.create(rec(c, i));
  t.equal(new Set(pairs.map(([c, i]) => s.file(0, c, i))).size, pairs.length);
  for (const [c, i] of pairs) t.equal(s.get(0, c, i)?.ifname, i);
});

t.test('an unreadable record is CORRUPT_STATE naming the file, and left where it is', async (t) => {
  const s = store(t);
  s.create(rec('c1', 'net1'));
  const file = s.file(0, 'c1', 'net1');
  for (const text of ['{', '{"v":2}', 'null']) {
    fs.writeFileSync(file, text);
    refused(t, () => s.get(0, 'c1', 'net1'), { code: 'CORRUPT_STATE', field: 'record', value: file });
    refused(t, () => s.list(0), { code: 'CORRUPT_STATE', field: 'record', value: file });
    t.ok(fs.existsSync(file));
  }
});

t.test("one attachment's operations run one at a time; others do not wait", async (t) => {
  const s = store(t);
  const order: string[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const first = s.exclusive(0, 'c1', 'net1', async () => {
    order.push('first starts');
    await gate;
    order.push('first ends');
    throw new Error('first failed');
  });
  const second = s.exclusive(0, 'c1', 'net1', async () => {
    order.push('second runs');
    return 2;
  });
  const other = await s.exclusive(0, 'c2', 'net1', async () => {
    order.push('other runs');
    return 3;
  });
  t.equal(other, 3);
  release();
  await t.rejects(first, /first failed/);
  t.equal(await second, 2, 'runs after a failure too');
  t.same(order, ['first starts', 'other runs', 'first ends', 'second runs']);
});

t.test("holding: a caller's attachments for its limits, one interface and the record's bytes each", async (t) => {
  const s = store(t);
  t.strictSame(s.holding(0), { interfaces: 0, domains: 0, bytes: 0 }, 'none yet');
  s.create(rec('c1', 'net1'));
  s.create(rec('c2', 'net1'));
  s.create(rec('c3', 'net1', { uid: 1000 }));
  const size = (id: string, uid = 0) => fs.statSync(s.file(uid, id, 'net1')).size;
  t.strictSame(s.holding(0), { interfaces: 2, domains: 0, bytes: size('c1') + size('c2') });
  t.strictSame(s.holding(1000), { interfaces: 1, domains: 0, bytes: size('c3', 1000) }, "another caller's apart");
  fs.writeFileSync(path.join(s.scope(0), '.c4~6e657431.json.tmp'), 'x'.repeat(100));
  t.strictSame(s.holding(0), { interfaces: 2, domains: 0, bytes: size('c1') + size('c2') + 100 }, 'an unfinished write: its bytes, no interface');
  s.drop(0, 'c1', 'net1');
  t.equal(s.holding(0).interfaces, 1, 'dropped: no longer held');
});
