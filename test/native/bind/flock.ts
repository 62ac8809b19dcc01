// native/bind/flock.cc through lib/sys/flock.ts: argument abuse is a
// TypeError; flock(2) semantics between open files; lock files are opened
// close-on-exec, and a removed lock file is never the one locked.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { native } from '../../../lib/sys/native';
import { spawn } from 'node:child_process';
import { FileLock, flock } from '../../../lib/sys/flock';
import { openFds } from '../../helpers/host';

const b = native();

t.test('bad arguments are TypeErrors', async (t) => {
  const any = (f: unknown) => f as (...a: unknown[]) => unknown;
  const calls: [string, () => unknown][] = [
    ['flock()', () => any(b.flock)()],
    ['flock fd -1', () => b.flock(-1, 'exclusive')],
    ['flock op', () => any(b.flock)(0, 'write')],
    ['flock op missing', () => any(b.flock)(0)],
    ['lockFile()', () => any(b.lockFile)()],
    ['lockFile path missing', () => any(b.lockFile)({})],
    ['lockFile path empty', () => b.lockFile({ path: '' })],
    ['lockFile path NUL', () => b.lockFile({ path: '/tmp/a\0b' })],
    ['lockFile shared string', () => any(b.lockFile)({ path: '/tmp/x', shared: 'yes' })],
    ['lockFile timeoutMs -2', () => b.lockFile({ path: '/tmp/x', timeoutMs: -2 })],
    ['lockFile timeoutMs fraction', () => b.lockFile({ path: '/tmp/x', timeoutMs: 1.5 })],
    ['unlockFile path missing', () => any(b.unlockFile)(0)],
    ['unlockFile fd string', () => any(b.unlockFile)('3', '/tmp/x')],
    ['unlockFile exclusive string', () => any(b.unlockFile)(0, '/tmp/x', 'yes')],
    ['tryLockFile()', () => any(b.tryLockFile)()],
    ['tryLockFile path missing', () => any(b.tryLockFile)({})],
    ['tryLockFile path empty', () => b.tryLockFile({ path: '' })],
    ['tryLockFile path NUL', () => b.tryLockFile({ path: '/tmp/a\0b' })],
    ['tryLockFile note number', () => any(b.tryLockFile)({ path: '/tmp/x', note: 5 })],
    ['tryLockFile note with shared', () => b.tryLockFile({ path: '/tmp/x', shared: true, note: '1\n' })],
    ['lockFile note with shared', () => b.lockFile({ path: '/tmp/x', shared: true, note: '1\n' })],
  ];
  for (const [name, fn] of calls) t.throws(fn, TypeError, name);
});

t.test('system errors are Node-style', async (t) => {
  await t.rejects(FileLock.lock('/nonexistent/dir/x.lock'), { code: 'ENOENT', syscall: 'open' });
  t.throws(() => FileLock.tryLock('/nonexistent/dir/x.lock'), { code: 'ENOENT', syscall: 'open' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-flock-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.symlinkSync('/etc/hostname', path.join(dir, 'link.lock'));
  await t.rejects(FileLock.lock(path.join(dir, 'link.lock')), { code: 'ELOOP' }, 'a symlink is not followed');
  t.throws(() => flock(987654, 'exclusive'), { code: 'EBADF', syscall: 'flock' });
});

t.test('exclusive and shared locks between open files; the fd is close-on-exec and owned', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-flock-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'x.lock');
  const before = openFds();
  const a = (await FileLock.lock(file))!;
  t.ok(a.held);
  const flags = fs.readFileSync(`/proc/self/fdinfo/${a.fd}`, 'utf8').match(/flags:\s+(\d+)/)![1];
  t.ok(parseInt(flags, 8) & 0o2000000, 'O_CLOEXEC');
  t.equal(await FileLock.lock(file, { timeoutMs: 0 }), null, 'a second exclusive lock: none, at once');
  t.equal(await FileLock.lock(file, { shared: true, timeoutMs: 50 }), null, 'nor a shared one, after the timeout');
  const other = fs.openSync(file, 'r');
  t.equal(flock(other, 'shared'), false, 'raw flock LOCK_SH|LOCK_NB: EWOULDBLOCK is false');
  a.unlock();
  a.unlock();
  t.equal(a.fd, -1);
  t.notOk(fs.existsSync(file), 'the only holder removed the file');
  t.equal(flock(other, 'exclusive'), true, 'the removed file is no longer locked');
  t.equal(flock(other, 'unlock'), true);
  fs.closeSync(other);

  const s1 = (await FileLock.lock(file, { shared: true }))!;
  const s2 = (await FileLock.lock(file, { shared: true, timeoutMs: 0 }))!;
  t.ok(s1 && s2, 'two shared holders');
  t.equal(await FileLock.lock(file, { timeoutMs: 0 }), null, 'no exclusive one beside them');
  s1.unlock();
  t.ok(fs.existsSync(file), 'a shared holder leaves the file while another shares it');
  const ex = FileLock.lock(file, { timeoutMs: 5000 });
  await new Promise((r) => setTimeout(r, 50));
  s2.unlock();
  const e = (await ex)!;
  t.ok(e.held, 'the exclusive waiter got the new file once the last shared holder left');
  t.ok(fs.existsSync(file), 'and holds the file at the path');
  e.unlock();
  t.same(fs.readdirSync(dir), []);
  t.same(openFds(), before, 'no fd leaked');
});

t.test('a wait with no timeout ends when the holder leaves; many waiters do not hold libuv workers', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-flock-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'x.lock');
  const a = (await FileLock.lock(file))!;
  // More waiters than libuv has workers (4): fs calls still complete meanwhile.
  const waiters = Array.from({ length: 6 }, () => FileLock.lock(file));
  await new Promise((r) => setTimeout(r, 50));
  await fs.promises.readFile(__filename);
  t.pass('the threadpool is free while six waiters wait');
  a.unlock();
  await Promise.all(waiters.map((w) => w.then((l) => l!.unlock())));
  t.same(fs.readdirSync(dir), []);
});

t.test('tryLock: a free lock at once, without a promise; a held one is null; the note replaces the text', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-flock-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'x.lock');
  const before = openFds();
  const a = FileLock.tryLock(file, { note: '42\n' });
  t.ok(a instanceof FileLock && a.held, 'taken on this thread: a FileLock, not a promise');
  t.equal(fs.readFileSync(file, 'utf8'), '42\n', 'the note is the file');
  t.equal(FileLock.tryLock(file), null, 'held: null at once');
  t.equal(FileLock.tryLock(file, { shared: true }), null, 'no shared one beside it either');
  const waiter = FileLock.lock(file, { timeoutMs: 5000, note: '43\n' });
  await new Promise((r) => setTimeout(r, 50));
  a!.unlock();
  const w = (await waiter)!;
  t.ok(w.held, 'the waiter (the fallback after a failed try) got it when it was released');
  t.equal(fs.readFileSync(file, 'utf8'), '43\n', 'and wrote its note into the new file');
  w.unlock();
  t.notOk(fs.existsSync(file), 'the last holder removed the file');

  // A longer text left behind (a dead holder's): the note replaces all of it.
  fs.writeFileSync(file, '4194304999\n');
  const c = FileLock.tryLock(file, { note: '7\n' })!;
  t.equal(fs.readFileSync(file, 'utf8'), '7\n', 'truncated to the note');
  c.unlock();

  const s1 = FileLock.tryLock(file, { shared: true })!;
  const s2 = FileLock.tryLock(file, { shared: true })!;
  t.ok(s1.held && s2.held, 'two shared holders by tryLock');
  t.equal(FileLock.tryLock(file), null);
  s1.unlock();
  t.ok(fs.existsSync(file), 'a shared holder leaves the file to the other');
  s2.unlock();
  t.notOk(fs.existsSync(file), 'the last shared holder removes it');
  t.same(openFds(), before, 'no fd leaked');
});

t.test('tryLock: the lock of a holder killed with SIGKILL is free at once', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-flock-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'x.lock');
  const dist = path.resolve(__dirname, '..', '..', '..', 'dist', 'sys', 'flock.js');
  const code = `const l = require(${JSON.stringify(dist)}).FileLock.tryLock(${JSON.stringify(file)}, { note: process.pid + '\\n' }); console.log(l ? 'HELD' : 'NOT'); setInterval(() => {}, 1 << 30);`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => (d.toString().includes('HELD') ? resolve() : reject(new Error(d.toString()))));
    child.on('exit', () => reject(new Error('the holder exited')));
  });
  t.equal(fs.readFileSync(file, 'utf8'), `${child.pid}\n`, 'the holder wrote its pid');
  t.equal(FileLock.tryLock(file), null, 'held by the live child');
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  const mine = FileLock.tryLock(file, { note: `${process.pid}\n` });
  t.ok(mine?.held, "the dead holder's lock is taken by the first try");
  t.equal(fs.readFileSync(file, 'utf8'), `${process.pid}\n`, 'with this process as the holder');
  mine!.unlock();
  t.same(fs.readdirSync(dir), []);
});
