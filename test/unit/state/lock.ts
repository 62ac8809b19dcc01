// The domain lock (lib/state/lock.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { lockPath, withDomainLock } from '../../../lib/state/lock';

t.test('the domain lock serialises writers, takes over a dead owner, gives EBUSY for a live one', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-lock-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const order: string[] = [];
  const body = (n: string) => async () => {
    order.push(`${n} in`);
    await new Promise((r) => setTimeout(r, 30));
    order.push(`${n} out`);
    return n;
  };
  t.same(await Promise.all([withDomainLock(dir, 'd', body('a')), withDomainLock(dir, 'd', body('b'))]), ['a', 'b']);
  t.same(order, ['a in', 'a out', 'b in', 'b out'], 'one holder at a time');
  t.notOk(fs.existsSync(lockPath(dir, 'd')), 'released');
  await t.rejects(withDomainLock(dir, 'd', async () => Promise.reject(new Error('body failed'))), /body failed/);
  t.notOk(fs.existsSync(lockPath(dir, 'd')), 'released when the body throws');

  // a dead owner (a pid that cannot exist) is taken over
  fs.writeFileSync(lockPath(dir, 'd'), '4194304999\n');
  t.equal(await withDomainLock(dir, 'd', async () => 'took over'), 'took over');
  // a live owner (pid 1) is waited for, then EBUSY naming the domain
  fs.writeFileSync(lockPath(dir, 'd'), '1\n');
  await t.rejects(withDomainLock(dir, 'd', async () => 'never', 100), { code: 'EBUSY', field: 'name', value: 'd', message: /locked by process 1/ });
  t.equal(fs.readFileSync(lockPath(dir, 'd'), 'utf8'), '1\n', "someone else's lock is left alone");
  // an empty lock (a process killed while creating it, before locks were written aside) is stale after 5 s
  fs.writeFileSync(lockPath(dir, 'd'), '');
  await t.rejects(withDomainLock(dir, 'd', async () => 'never', 100), { code: 'EBUSY' }, 'a fresh empty lock is waited for');
  const old = (Date.now() - 10_000) / 1000;
  fs.utimesSync(lockPath(dir, 'd'), old, old);
  t.equal(await withDomainLock(dir, 'd', async () => 'took over'), 'took over', 'an old empty one is taken over');
  t.same(fs.readdirSync(dir), [], 'no lock or temporary file is left');
});
