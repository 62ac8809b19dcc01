// The addon's unixStreamListen (native/unixsock.cc): the listening stream
// socket netfd makes for qemu's QMP monitor. Bound and listening at once,
// O_CLOEXEC and blocking, the file's mode set before bind (less the umask),
// reaching a child only through a spawn slot (and listening there), errors
// with their syscall, and argument abuse refused with a TypeError.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { Test } from 'tap';
import { native } from '../../../lib/sys/native';
import { UnixSocket } from '../../../lib/sys/unixsock';
import { fdFlags, openFds } from '../../helpers/host';

const b = native();
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const NATIVE = path.join(__dirname, '..', '..', '..', 'dist', 'sys', 'native');

function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-qmplisten-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function withUmask<T>(mask: number, fn: () => T): T {
  const old = process.umask(mask);
  try {
    return fn();
  } finally {
    process.umask(old);
  }
}

t.test('a listening stream socket: O_CLOEXEC, blocking, its mode set before bind', async (t) => {
  const dir = tempDir(t);
  const before = openFds();
  const file = path.join(dir, 'a.qmp');
  const fd = withUmask(0o022, () => b.unixStreamListen(file, 1, 0o600));
  t.ok(fs.lstatSync(file).isSocket(), 'the socket file exists');
  t.equal(fs.lstatSync(file).mode & 0o777, 0o600, 'mode 0600');
  t.strictSame(b.socketInfo(fd), { family: 'unix', type: 'stream', listening: true });
  t.ok(fdFlags(fd) & O_CLOEXEC, 'close-on-exec');
  t.notOk(fdFlags(fd) & O_NONBLOCK, 'blocking, as a program that listens itself has it');
  const c = await UnixSocket.connect(file, 'stream');
  t.pass('a connect completes while nobody accepts');
  c.close();
  b.close(fd);

  const wide = path.join(dir, 'b.qmp');
  const fd2 = withUmask(0o027, () => b.unixStreamListen(wide, 4, 0o666));
  t.equal(fs.lstatSync(wide).mode & 0o777, 0o640, 'the umask applies, as bind applies it');
  t.throws(() => b.unixStreamListen(wide, 1, 0o600), { code: 'EADDRINUSE', syscall: 'bind' }, 'the path is taken');
  b.close(fd2);
  t.strictSame(openFds(), before, 'no fd leaked');
});

t.test('it reaches a child only through a spawn slot, and listens there', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'c.qmp');
  const fd = b.unixStreamListen(file, 1, 0o600);
  t.teardown(() => b.close(fd));
  const probe = `const b = require(${JSON.stringify(NATIVE)}).native();
const fs = require('fs');
const me = fs.readdirSync('/proc/self/fd').map((n) => { try { return fs.readlinkSync('/proc/self/fd/' + n); } catch { return ''; } });
console.log(JSON.stringify({ at3: (() => { try { return b.socketInfo(3); } catch (e) { return e.code; } })(), links: me }));`;
  const inode = fs.readlinkSync(`/proc/self/fd/${fd}`);
  const plain = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  t.equal(plain.status, 0, plain.stderr);
  t.notOk((JSON.parse(plain.stdout) as { links: string[] }).links.includes(inode), 'not inherited without a slot (close-on-exec)');
  const slotted = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', fd], env: { ...process.env, NODE_OPTIONS: '' } });
  t.equal(slotted.status, 0, slotted.stderr);
  const got = JSON.parse(slotted.stdout) as { at3: unknown; links: string[] };
  t.strictSame(got.at3, { family: 'unix', type: 'stream', listening: true }, 'fd 3 of the child is the listener');
  t.ok(got.links.includes(inode), 'the same socket');
});

t.test('errors name their syscall; a failed call leaves no file', async (t) => {
  const dir = tempDir(t);
  const before = openFds();
  t.throws(() => b.unixStreamListen(path.join(dir, 'no', 'such', 'x.qmp'), 1, 0o600), { code: 'ENOENT', syscall: 'bind' });
  t.throws(() => b.unixStreamListen(path.join(dir, 'x'.repeat(200)), 1, 0o600), { code: 'ENAMETOOLONG', message: /1 to 107 bytes/ });
  t.throws(() => b.unixStreamListen('', 1, 0o600), { code: 'ENAMETOOLONG' });
  t.same(fs.readdirSync(dir), [], 'nothing made');
  t.strictSame(openFds(), before, 'no fd leaked');
});

t.test('argument abuse: TypeError, nothing made', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'd.qmp');
  const call = b.unixStreamListen as unknown as (...a: unknown[]) => number;
  for (const [args, re] of [
    [[], /path must be a string/],
    [[42, 1, 0o600], /path must be a string/],
    [[`${file}\0x`, 1, 0o600], /NUL/],
    [[file], /backlog must be an integer from 1 to 65535/],
    [[file, 0, 0o600], /backlog must be an integer from 1 to 65535/],
    [[file, 1.5, 0o600], /backlog/],
    [[file, '1', 0o600], /backlog/],
    [[file, 1], /mode must be an integer from 0 to 511/],
    [[file, 1, 0o1000], /mode must be an integer from 0 to 511/],
    [[file, 1, -1], /mode/],
  ] as [unknown[], RegExp][])
    t.throws(() => call(...args), { name: 'TypeError', message: re }, JSON.stringify(args));
  t.same(fs.readdirSync(dir), [], 'nothing made');
});
