// lib/state/lock.ts: object locks are flock(2) on STATE/NAME.lock. Two
// processes contend; a SIGKILLed holder's lock is free at once (the kernel
// drops it); a live holder is waited for, then EBUSY naming the object.
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { lockPath, withDomainLock, withLock } from '../../../lib/state/lock';

const dist = path.resolve(__dirname, '..', '..', '..', 'dist', 'state', 'lock.js');

/** A child process that takes the lock, says HELD, and holds it `holdMs` (forever: -1). */
function holder(dir: string, name: string, holdMs: number): Promise<ChildProcess> {
  const code = `require(${JSON.stringify(dist)}).withDomainLock(${JSON.stringify(dir)}, ${JSON.stringify(name)}, async () => {
    console.log('HELD');
    await new Promise((r) => ${holdMs < 0 ? 'setInterval(() => {}, 1 << 30)' : `setTimeout(r, ${holdMs})`});
    console.log('RELEASING');
  }).then(() => console.log('DONE'), (e) => { console.log('FAILED', e.code, e.message); process.exit(1); });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('HELD')) resolve(child);
      if (out.includes('FAILED')) reject(new Error(out));
    });
    child.on('exit', (c) => reject(new Error(`holder exited (${c}) before it held the lock: ${out}`)));
  });
}

const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

function tmp(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-lock-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('one holder at a time in a process; released on return and on throw; no file left', async (t) => {
  const dir = tmp(t);
  const order: string[] = [];
  const body = (n: string) => async () => {
    order.push(`${n} in`);
    t.ok(fs.existsSync(lockPath(dir, 'd')), `${n}: the lock file exists while held`);
    await new Promise((r) => setTimeout(r, 30));
    order.push(`${n} out`);
    return n;
  };
  t.same(await Promise.all([withDomainLock(dir, 'd', body('a')), withDomainLock(dir, 'd', body('b')), withDomainLock(dir, 'd', body('c'))]), ['a', 'b', 'c']);
  t.same(order.slice(0, 2), ['a in', 'a out'], 'the first caller took it at once');
  t.same(
    order.map((e) => e.split(' ')[1]),
    ['in', 'out', 'in', 'out', 'in', 'out'],
    `serialised (flock is not FIFO): ${order.join(', ')}`,
  );
  t.same(order.filter((e) => e.endsWith('in')).sort(), ['a in', 'b in', 'c in'], 'each ran once');
  t.notOk(fs.existsSync(lockPath(dir, 'd')), 'released: the last holder removed the file');
  await t.rejects(
    withDomainLock(dir, 'd', async () => Promise.reject(new Error('body failed'))),
    /body failed/,
  );
  t.notOk(fs.existsSync(lockPath(dir, 'd')), 'released when the body throws');
  // A file a dead netfd left behind (with or without a pid in it) is no lock.
  fs.writeFileSync(lockPath(dir, 'd'), '4194304999\n');
  t.equal(await withDomainLock(dir, 'd', async () => 'taken'), 'taken', 'a leftover file with a pid is taken at once');
  fs.writeFileSync(lockPath(dir, 'd'), '');
  t.equal(await withDomainLock(dir, 'd', async () => 'taken', 100), 'taken', 'a leftover empty file is taken at once');
  t.same(fs.readdirSync(dir), [], 'no lock or temporary file is left');
});

t.test('two processes contend: the second waits for the first, in the kernel', async (t) => {
  const dir = tmp(t);
  const child = await holder(dir, 'd', 400);
  t.teardown(() => child.kill('SIGKILL'));
  t.equal(fs.readFileSync(lockPath(dir, 'd'), 'utf8'), `${child.pid}\n`, 'the holder wrote its pid');
  let childOut = '';
  child.stdout!.on('data', (d: Buffer) => (childOut += d.toString()));
  const started = Date.now();
  const got = await withDomainLock(
    dir,
    'd',
    async () => {
      t.match(childOut, /RELEASING/, 'the holder finished its body first');
      t.equal(fs.readFileSync(lockPath(dir, 'd'), 'utf8'), `${process.pid}\n`, 'now this process holds it');
      return Date.now() - started;
    },
    10_000,
  );
  t.ok(got >= 250, `waited for the holder (${got} ms)`);
  t.ok(got < 5000, `and not for the timeout (${got} ms)`);
  await exited(child);
  t.same(fs.readdirSync(dir), [], 'no file left');
});

t.test('a live holder: EBUSY after the timeout, naming the object and the holder; its file stays', async (t) => {
  const dir = tmp(t);
  const child = await holder(dir, 'net1', -1);
  t.teardown(() => child.kill('SIGKILL'));
  const started = Date.now();
  await t.rejects(
    withLock(dir, 'net1', async () => 'never', 300, 'network'),
    {
      code: 'EBUSY',
      field: 'name',
      value: 'net1',
      message: new RegExp(`^network net1 is locked by process ${child.pid} \\(.*net1\\.lock\\); another netfd command is changing it$`),
    },
  );
  const waited = Date.now() - started;
  t.ok(waited >= 280 && waited < 3000, `gave up at the timeout (${waited} ms)`);
  t.equal(fs.readFileSync(lockPath(dir, 'net1'), 'utf8'), `${child.pid}\n`, "the holder's lock file is left alone");
  await t.rejects(
    withDomainLock(dir, 'net1', async () => 'never', 0),
    { code: 'EBUSY' },
    'timeout 0: one try',
  );
  child.kill('SIGKILL');
  await exited(child);
});

t.test("a SIGKILLed holder's lock is taken at once, also by a process already waiting", async (t) => {
  const dir = tmp(t);
  let child = await holder(dir, 'd', -1);
  t.teardown(() => child.kill('SIGKILL'));
  child.kill('SIGKILL');
  await exited(child);
  const started = Date.now();
  t.equal(await withDomainLock(dir, 'd', async () => 'mine', 5000), 'mine');
  t.ok(Date.now() - started < 2500, `no wait for a dead holder (${Date.now() - started} ms)`);

  child = await holder(dir, 'd', -1);
  const waiting = withDomainLock(dir, 'd', async () => Date.now(), 20_000);
  await new Promise((r) => setTimeout(r, 200));
  const killed = Date.now();
  child.kill('SIGKILL');
  const got = await waiting;
  t.ok(got - killed < 2500, `the waiter got it when the holder died (${got - killed} ms after the kill)`);
  t.same(fs.readdirSync(dir), [], 'no file left');
});

t.test('a waiter whose file the holder removed locks the new file, so two never hold at once', async (t) => {
  const dir = tmp(t);
  const events: string[] = [];
  let releaseA!: () => void;
  const a = withDomainLock(dir, 'd', async () => {
    events.push('a');
    await new Promise<void>((r) => (releaseA = r));
  });
  await new Promise((r) => setTimeout(r, 50));
  // b and c wait on the file a holds; a removes it when it releases.
  const b = withDomainLock(dir, 'd', async () => {
    events.push('b in');
    await new Promise((r) => setTimeout(r, 100));
    events.push('b out');
  });
  const c = withDomainLock(dir, 'd', async () => {
    events.push('c in');
    await new Promise((r) => setTimeout(r, 100));
    events.push('c out');
  });
  await new Promise((r) => setTimeout(r, 100));
  releaseA();
  await Promise.all([a, b, c]);
  t.equal(events[0], 'a');
  t.same(
    events.slice(1).map((e) => e.split(' ')[1]),
    ['in', 'out', 'in', 'out'],
    `never two holders: ${events.join(', ')}`,
  );
  t.same(fs.readdirSync(dir), [], 'no file left');
});

t.test('a free lock is taken without waiting; the directory is made when missing; the holder is written over what was left', async (t) => {
  const dir = path.join(tmp(t), 'a', 'b');
  t.equal(await withLock(dir, 'n', async () => fs.readFileSync(lockPath(dir, 'n'), 'utf8'), 0, 'network'), `${process.pid}\n`, 'timeout 0 (one try) takes a free lock, in a directory it made');
  t.same(fs.readdirSync(dir), [], 'released: no file left');
  fs.rmSync(dir, { recursive: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(lockPath(dir, 'n'), '4194304999\n');
  t.equal(await withDomainLock(dir, 'n', async () => fs.readFileSync(lockPath(dir, 'n'), 'utf8')), `${process.pid}\n`, "a dead holder's longer pid is replaced whole");
  t.same(fs.readdirSync(dir), []);
});
