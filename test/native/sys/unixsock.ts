// lib/sys/unixsock.ts and the addon's UnixSocket (native/uvsock.h): one
// non-blocking unix socket on Node's own loop. Listen/connect/accept,
// messages and stream bytes with fds, waiting for room, MSG_CTRUNC and
// truncation without fd leaks, SO_PEERCRED, ref/unref, close once, callbacks
// that throw, and sendFds/recvFds waiting without a pool thread.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { Test } from 'tap';
import { NetfdError } from '../../../lib/errors';
import { native, NativeMessage } from '../../../lib/sys/native';
import { recvFds, sendFds } from '../../../lib/sys/fdpass';
import { UnixMessage, UnixSocket } from '../../../lib/sys/unixsock';
import { fdFlags, openFds } from '../../helpers/host';

const b = native();
const DIST = path.join(__dirname, '..', '..', '..', 'dist', 'sys');

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `p`, or a failure after `ms`. */
function within<T>(p: Promise<T>, what: string, ms = 3000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-unixsock-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The next `n` messages `s` reads. */
function messages(s: UnixSocket, n: number, o = { maxBytes: 1 << 16, maxFds: 8 }): Promise<UnixMessage[]> {
  const got: UnixMessage[] = [];
  return new Promise((resolve, reject) =>
    s.read(
      o,
      (m) => {
        got.push(m);
        if (got.length === n) {
          s.pause();
          resolve(got);
        }
      },
      reject,
    ),
  );
}

function child(code: string, timeout = 20_000, nofile = 0): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const pre = `const b = require(${JSON.stringify(path.join(DIST, 'native'))}).native();\nconst { UnixSocket } = require(${JSON.stringify(path.join(DIST, 'unixsock'))});\n`;
  const argv = [process.execPath, '-e', pre + code];
  const r = nofile ? spawnSync('prlimit', [`--nofile=${nofile}`, ...argv], { encoding: 'utf8', timeout }) : spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function noAbort(t: Test, r: { signal: NodeJS.Signals | null; stderr: string }, what: string): void {
  t.not(r.signal, 'SIGABRT', `${what}: not SIGABRT`);
  t.notMatch(r.stderr, /terminate called|Aborted|FATAL ERROR|Assertion/, `${what}: no std::terminate, no fatal error`);
}

t.test('listen, connect, accept; a message with fds; peer credentials', async (t) => {
  const dir = tempDir(t);
  const before = openFds();
  const file = path.join(dir, 'a.sock');
  const listener = UnixSocket.listen(file, 'seqpacket');
  t.ok(fs.statSync(file).isSocket(), 'the socket file exists');
  t.ok(fdFlags(listener.fd) & O_CLOEXEC, 'close-on-exec');
  t.strictSame(b.socketInfo(listener.fd), { family: 'unix', type: 'seqpacket', listening: true });
  const accepted = new Promise<number>((resolve) => listener.accept(resolve));
  const client = await within(UnixSocket.connect(file, 'seqpacket'), 'connect');
  const server = UnixSocket.adopt(await within(accepted, 'accept'));
  t.ok(fdFlags(server.fd) & O_NONBLOCK && fdFlags(server.fd) & O_CLOEXEC, 'accepted: O_NONBLOCK, O_CLOEXEC');
  const me = { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() };
  t.strictSame(client.peerCred(), me, 'SO_PEERCRED: this process');
  t.strictSame(server.peerCred(), me);

  const devnull = fs.openSync('/dev/null', 'r');
  const got = messages(server, 2);
  t.equal(await client.send('hello', [devnull, devnull]), 5, 'bytes sent');
  t.equal(await client.send(Buffer.from('plain')), 5);
  fs.closeSync(devnull); // ours stay ours
  const [m1, m2] = await within(got, 'two messages');
  t.equal(m1.data.toString(), 'hello');
  t.equal(m1.fds.length, 2, 'two fds came');
  for (const fd of m1.fds) {
    t.ok(fs.fstatSync(fd).isCharacterDevice(), 'a real fd');
    t.ok(fdFlags(fd) & O_CLOEXEC, 'received O_CLOEXEC');
    b.close(fd);
  }
  t.strictSame({ ...m2, data: m2.data.toString() }, { data: 'plain', fds: [], size: 5, truncated: false, ctrunc: false, eof: false });

  // The end: the peer closes, eof comes once and reading stops.
  const end = messages(server, 1);
  client.close();
  client.close();
  t.ok(client.closed);
  t.equal((await within(end, 'eof'))[0].eof, true, 'eof');
  await t.rejects(client.send('x'), { code: 'ECONNRESET' }, 'send after close');
  server.close();

  t.throws(() => UnixSocket.listen(file, 'seqpacket'), { code: 'EADDRINUSE', syscall: 'bind' }, 'the path is taken');
  t.throws(() => UnixSocket.listen(path.join(dir, 'x'.repeat(200)), 'stream'), { code: 'ENAMETOOLONG' });
  await t.rejects(UnixSocket.connect(path.join(dir, 'missing.sock')), { name: 'NetfdError', code: 'ENOENT', syscall: 'connect', message: /^connect to .*missing\.sock: No such file or directory$/ });
  fs.writeFileSync(path.join(dir, 'plain'), '');
  await t.rejects(UnixSocket.connect(path.join(dir, 'plain')), { code: 'ECONNREFUSED' }, 'not a socket file');
  await t.rejects(UnixSocket.connect(file, 'stream'), { code: 'EPROTOTYPE' }, 'a stream to a seqpacket listener');
  listener.close();
  await t.rejects(UnixSocket.connect(file, 'seqpacket'), { code: 'ECONNREFUSED' }, 'nobody listens any more');
  t.strictSame(openFds(), before, 'no fd leaked');
});

t.test('a stream: a large send goes whole, in pieces, with its fds on the first', async (t) => {
  const dir = tempDir(t);
  const before = openFds();
  const listener = UnixSocket.listen(path.join(dir, 's.sock'), 'stream');
  const accepted = new Promise<number>((resolve) => listener.accept(resolve));
  const client = await UnixSocket.connect(path.join(dir, 's.sock'));
  const server = UnixSocket.adopt(await accepted);
  listener.close();
  const big = Buffer.alloc(4 << 20);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
  const chunks: Buffer[] = [];
  const fds: number[] = [];
  let total = 0;
  const done = new Promise<void>((resolve) =>
    server.read({ maxBytes: 65536, maxFds: 4 }, (m) => {
      chunks.push(m.data);
      fds.push(...m.fds);
      total += m.data.length;
      if (total === big.length) resolve();
    }),
  );
  const devnull = fs.openSync('/dev/null', 'r');
  const sent = client.send(big, [devnull]);
  t.ok(client.queued === 1, 'more than the socket holds: it waits for room');
  t.equal(await within(sent, 'the big send', 10_000), big.length, 'every byte');
  fs.closeSync(devnull);
  await within(done, 'every byte read', 10_000);
  t.ok(chunks.length > 1, `read in ${chunks.length} chunks`);
  t.ok(Buffer.concat(chunks).equals(big), 'the same bytes, in order');
  t.equal(fds.length, 1, 'the fd came once');
  for (const fd of fds) b.close(fd);
  client.close();
  server.close();
  t.strictSame(openFds(), before, 'no fd leaked');
});

t.test('a full socket: sends wait for room, in order; a timeout; close fails what waits', async (t) => {
  const before = openFds();
  const [a, c] = b.socketPair();
  let n = 0;
  while (b.sendNow(a, Buffer.alloc(1024)) >= 0) n++;
  const s = UnixSocket.adopt(a);
  const settled: string[] = [];
  const sends = ['one', 'two'].map((x) => s.send(x).then(() => void settled.push(x)));
  await t.rejects(s.send('late', [], { timeoutMs: 30 }), { code: 'ETIMEDOUT' }, 'no room within 30 ms');
  t.strictSame(settled, [], 'no room: nothing went');
  for (let i = 0; i < n; i++) b.recvNow(c, 2048, 0);
  await within(Promise.all(sends), 'room');
  t.strictSame(settled, ['one', 'two'], 'in order once there was room');
  t.equal(b.recvNow(c, 10, 0)?.data.toString(), 'one');
  t.equal(b.recvNow(c, 10, 0)?.data.toString(), 'two');
  t.equal(b.recvNow(c, 10, 0), null, 'the timed-out one never went');

  while (b.sendNow(a, Buffer.alloc(1024)) >= 0);
  const waiting = s.send('never');
  s.close();
  await t.rejects(waiting, { code: 'ECONNRESET', message: /closed before the message was sent/ });
  await t.rejects(s.send(Buffer.alloc(0)), { code: 'ECONNRESET' }, 'closed');
  b.close(c);

  const [x, y] = b.socketPair();
  const sx = UnixSocket.adopt(x);
  await t.rejects(sx.send(Buffer.alloc(0)), { code: 'EINVAL' }, 'an empty message');
  await t.rejects(sx.send(Buffer.alloc(8 << 20)), { code: 'EMSGSIZE' }, 'larger than the socket can ever hold');
  await t.rejects(sx.send('x', [987654]), { code: 'EBADF', syscall: 'sendmsg' }, 'an fd that is not open');
  b.close(y);
  await t.rejects(sx.send('x'), { code: 'EPIPE' }, 'the peer is gone: EPIPE (no SIGPIPE)');
  sx.close();
  t.strictSame(openFds(), before, 'no fd leaked');
});

t.test('more fds than maxFds (MSG_CTRUNC) and long messages: nothing leaks', async (t) => {
  const before = openFds();
  const [a, c] = b.socketPair();
  const s = UnixSocket.adopt(c);
  const devnull = fs.openSync('/dev/null', 'r');
  const got = messages(s, 3, { maxBytes: 4, maxFds: 1 });
  b.sendNow(a, Buffer.from('three'), [devnull, devnull, devnull]);
  b.sendNow(a, Buffer.from('none'), [devnull]);
  b.sendNow(a, Buffer.from('ok'), [devnull]);
  const [m1, m2, m3] = await within(got, 'three messages');
  t.strictSame([m1.fds.length, m1.ctrunc, m1.truncated, m1.size, m1.data.toString()], [1, true, true, 5, 'thre'], 'one fd kept, the rest closed by the kernel; the bytes cut');
  t.strictSame([m2.fds.length, m2.ctrunc, m2.truncated], [1, false, false]);
  t.strictSame([m3.fds.length, m3.data.toString()], [1, 'ok']);
  for (const m of [m1, m2, m3]) for (const fd of m.fds) b.close(fd);

  const none = messages(s, 1, { maxBytes: 16, maxFds: 0 });
  b.sendNow(a, Buffer.from('fds'), [devnull, devnull]);
  const [m4] = await within(none, 'a message with fds nobody wants');
  t.strictSame([m4.fds, m4.ctrunc], [[], true], 'maxFds 0: every fd closed');
  s.close();

  b.close(a);

  // recvFds refuses both, closing what came.
  const [x, y] = b.socketPair();
  b.sendNow(x, Buffer.from('x'), [devnull, devnull, devnull]);
  await t.rejects(recvFds(y, 100, 1, 1000), { code: 'ECTRUNC', errno: -90, syscall: 'recvmsg', message: 'receive fds: the peer sent more fds than the 1 expected; they were closed' });
  b.sendNow(x, Buffer.from('toolong'), [devnull]);
  await t.rejects(recvFds(y, 3, 1, 1000), { code: 'EMSGSIZE', syscall: 'recvmsg' });
  fs.closeSync(devnull);
  b.close(x);
  b.close(y);
  t.strictSame(openFds(), before, 'no fd leaked');
});

t.test('recvFds/sendFds wait on the loop: 8 waiting for ever pin no pool thread', async (t) => {
  const before = openFds();
  const pairs = Array.from({ length: 8 }, () => b.socketPair());
  const waiting = pairs.map(([, mine]) => recvFds(mine, 100, 2));
  // With a thread each, four waits would take the whole pool (UV_THREADPOOL_SIZE 4).
  const read = await within(fs.promises.readFile(__filename, 'utf8'), 'fs.readFile while 8 recvFds wait', 2000);
  t.match(read, /pin no pool thread/, 'fs.readFile completed');
  const devnull = fs.openSync('/dev/null', 'r');
  for (const [i, [peer]] of pairs.entries()) await sendFds(peer, `m${i}`, i % 2 ? [devnull] : []);
  fs.closeSync(devnull);
  const got = await within(Promise.all(waiting), 'the 8 messages');
  t.strictSame(
    got.map((r) => r.data.toString()),
    pairs.map((_, i) => `m${i}`),
    'each got its message',
  );
  t.strictSame(
    got.map((r) => r.fds.length),
    [0, 1, 0, 1, 0, 1, 0, 1],
  );
  for (const r of got) for (const fd of r.fds) b.close(fd);

  // A borrowed fd gets its flags back; a recv and a send wait on one fd at once.
  const [x, y] = pairs[0];
  t.notOk(fdFlags(x) & O_NONBLOCK, 'blocking as socketpair made it');
  const reply = recvFds(x, 100, 0, 2000);
  t.ok(fdFlags(x) & O_NONBLOCK, 'non-blocking while watched');
  const echo = recvFds(y, 100, 0, 2000).then((m) => sendFds(y, `re: ${m.data.toString()}`));
  t.equal(await sendFds(x, 'ping'), 4);
  await echo;
  t.equal((await reply).data.toString(), 're: ping', 'request and reply over one borrowed fd');
  t.notOk(fdFlags(x) & O_NONBLOCK, 'blocking again once nothing waits');
  await t.rejects(recvFds(x, 100, 0, 30), { code: 'ETIMEDOUT', message: 'receive fds: timed out after 30 ms' });
  b.close(y);
  t.strictSame(await recvFds(x, 100, 0, 1000), { data: Buffer.alloc(0), fds: [] }, 'the end: an empty message');
  await t.rejects(sendFds(x, ''), { code: 'EINVAL' });
  await t.rejects(recvFds(-1), TypeError);
  for (const [p, q] of pairs.slice(1)) {
    b.close(p);
    b.close(q);
  }
  b.close(x);
  t.strictSame(openFds(), before, 'no fd leaked');
});

t.test('200 open/close cycles leak nothing', async (t) => {
  const dir = tempDir(t);
  const before = openFds();
  const devnull = fs.openSync('/dev/null', 'r');
  for (let i = 0; i < 200; i++) {
    const [a, c] = b.socketPair(i % 2 ? 'stream' : 'seqpacket');
    const s = UnixSocket.adopt(a);
    const r = UnixSocket.adopt(c);
    const got = messages(r, 1);
    await s.send('x', [devnull]);
    const [m] = await got;
    for (const fd of m.fds) b.close(fd);
    if (i % 3 === 0) await s.send('unread', [devnull]); // closed with an fd in flight
    s.close();
    r.close();
  }
  for (let i = 0; i < 20; i++) {
    const file = path.join(dir, `l${i}.sock`);
    const l = UnixSocket.listen(file, 'seqpacket');
    const accepted = new Promise<number>((resolve) => l.accept(resolve));
    const c = await UnixSocket.connect(file, 'seqpacket');
    UnixSocket.adopt(await accepted).close();
    c.close();
    l.close();
  }
  fs.closeSync(devnull);
  t.strictSame(openFds(), before, 'every fd was closed');
});

t.test('the native class: bad arguments are TypeErrors; closed is EBADF; one watch per fd', async (t) => {
  const [a, c] = b.socketPair();
  type Any = (...args: unknown[]) => unknown;
  const f = (fn: unknown) => fn as Any;
  const fresh = () => new b.UnixSocket({});
  const calls: [string, () => unknown][] = [
    ['new UnixSocket()', () => new (b.UnixSocket as unknown as new () => unknown)()],
    ['new UnixSocket(5)', () => new (b.UnixSocket as unknown as new (x: unknown) => unknown)(5)],
    ['new UnixSocket(fn)', () => new (b.UnixSocket as unknown as new (x: unknown) => unknown)(() => undefined)],
    ['UnixSocket() without new', () => f(b.UnixSocket)({})],
    ['adopt -1', () => fresh().adopt(-1, true)],
    ['adopt 1.5', () => fresh().adopt(1.5, true)],
    ['adopt no own', () => f(fresh().adopt.bind(fresh()))(a)],
    ['listen number', () => f(fresh().listen.bind(fresh()))(5, 'stream', 1)],
    ['listen NUL', () => fresh().listen('/tmp/a\0b', 'stream', 1)],
    ['listen type', () => fresh().listen('/tmp/netfd-never', 'dgram' as 'stream', 1)],
    ['listen backlog 0', () => fresh().listen('/tmp/netfd-never', 'stream', 0)],
    ['connect type', () => f(fresh().connect.bind(fresh()))('/tmp/netfd-never')],
  ];
  for (const [name, fn] of calls) t.throws(fn, TypeError, name);
  const s = new b.UnixSocket({});
  t.throws(() => s.readStart(10, 0), { code: 'EBADF', message: /not open yet/ }, 'no socket yet');
  s.adopt(a, true);
  t.equal(s.fd, a);
  const scalls: [string, () => unknown][] = [
    ['readStart maxBytes 0', () => s.readStart(0, 0)],
    ['readStart maxBytes 16M+1', () => s.readStart((1 << 24) + 1, 0)],
    ['readStart maxFds 254', () => s.readStart(10, 254)],
    ['readStart maxFds -1', () => s.readStart(10, -1)],
    ['send string', () => f(s.send.bind(s))('x')],
    ['send fds not an array', () => f(s.send.bind(s))(Buffer.from('x'), 5)],
    ['send fds [-1]', () => s.send(Buffer.from('x'), [-1])],
    ['send fds ["3"]', () => f(s.send.bind(s))(Buffer.from('x'), ['3'])],
    ['send 254 fds', () => s.send(Buffer.from('x'), new Array<number>(254).fill(0))],
  ];
  for (const [name, fn] of scalls) t.throws(fn, TypeError, `UnixSocket.${name}`);
  t.throws(() => s.adopt(c, true), { message: /had its socket already/ }, 'one socket per object');
  t.throws(() => new b.UnixSocket({}).adopt(a, false), { code: 'EEXIST', syscall: 'uv_poll_init' }, 'the loop watches an fd once');
  t.ok(fs.fstatSync(a).isSocket(), 'the refused adopt left the fd alone');
  t.equal(b.recvNow(c, 10, 0), null, 'nothing went out');
  s.close();
  s.close();
  t.equal(s.fd, -1, 'closed: fd -1');
  t.throws(() => s.send(Buffer.from('x')), { code: 'EBADF', message: /is closed/ });
  t.throws(() => s.readStart(10, 0), { code: 'EBADF' });
  t.doesNotThrow(() => {
    s.ref();
    s.unref();
  }, 'ref and unref after close are no-ops');
  t.throws(() => fs.fstatSync(a), { code: 'EBADF' }, 'an owned fd is closed with it');
  const devnull = fs.openSync('/dev/null', 'r');
  t.throws(() => UnixSocket.adopt(devnull), { code: 'EPERM', syscall: 'uv_poll_init' }, 'a file the loop cannot watch');
  t.ok(fs.fstatSync(devnull).isCharacterDevice(), "a failed adopt leaves the fd open, the caller's");
  fs.closeSync(devnull);
  b.close(c);
});

t.test('no event after close(), even for data already waiting', async (t) => {
  const [a, c] = b.socketPair();
  const seen: NativeMessage[] = [];
  const s = new b.UnixSocket({ message: (m) => void seen.push(m) });
  s.adopt(c, true);
  s.readStart(100, 4);
  const devnull = fs.openSync('/dev/null', 'r');
  b.sendNow(a, Buffer.from('waiting'), [devnull]);
  fs.closeSync(devnull);
  const before = openFds();
  s.close();
  await sleep(30);
  t.strictSame(seen, [], 'nothing delivered');
  t.equal(openFds().length, before.length - 1, 'closing the socket dropped the queued fd with it');
  b.close(a);
});

t.test('callbacks that throw reach uncaughtException, their fds closed; never an abort', async (t) => {
  for (const [value, shown] of [
    ["new Error('boom in the callback')", 'Error: boom in the callback'],
    ['42', 'number 42'],
    ['undefined', 'undefined undefined'],
  ]) {
    const r = child(`
const fs = require('fs');
const [x, y] = b.socketPair();
const devnull = fs.openSync('/dev/null', 'r');
const s = new b.UnixSocket({ message: (m) => { globalThis.got = m.fds; throw ${value}; } });
s.adopt(x, true);
s.readStart(100, 4);
b.sendNow(y, Buffer.from('wake up'), [devnull]);
process.on('uncaughtException', (e) => {
  setImmediate(() => {
    const open = globalThis.got.filter((fd) => { try { fs.fstatSync(fd); return true; } catch { return false; } });
    process.stdout.write('CAUGHT ' + (e instanceof Error ? String(e) : typeof e + ' ' + String(e)) + ' open ' + open.length + '\\n');
    process.exit(7);
  });
});
setTimeout(() => { process.stdout.write('NOT RAISED\\n'); process.exit(0); }, 3000);
`);
    noAbort(t, r, `throw ${value}`);
    t.equal(r.status, 7, `throw ${value}: the uncaughtException handler ran`);
    t.equal(r.stdout, `CAUGHT ${shown} open 0\n`, `throw ${value}: it got the thrown value; the fd it did not take is closed`);
  }
  const r = child(`
const [x, y] = b.socketPair();
const s = new b.UnixSocket({ message: () => { throw new Error('nobody listens'); } });
s.adopt(x, true);
s.readStart(100, 0);
b.sendNow(y, Buffer.from('x'));
setTimeout(() => { process.stdout.write('NOT RAISED\\n'); process.exit(0); }, 3000);
`);
  noAbort(t, r, 'no handler');
  t.equal(r.status, 1, 'without a handler: exit 1, as for any uncaught error');
  t.match(r.stderr, /Error: nobody listens/, 'the error is printed');

  const w = child(`
const s = new b.UnixSocket({ writable: () => { throw new Error('in writable'); }, connect: () => { throw new Error('in connect'); } });
const [x, y] = b.socketPair();
s.adopt(x, true);
s.waitWritable();
const seen = [];
process.on('uncaughtException', (e) => { seen.push(e.message); if (seen.length === 1) process.stdout.write(seen.join(',') + '\\n'); });
`);
  noAbort(t, w, 'writable throws');
  t.equal(w.stdout, 'in writable\n', 'the writable callback too');
});

t.test("ref/unref: an idle unref'd listener lets the process exit, a ref'd one keeps it", async (t) => {
  const dir = tempDir(t);
  const unrefd = child(
    `const l = UnixSocket.listen(${JSON.stringify(path.join(dir, 'u.sock'))}, 'seqpacket'); l.accept(() => undefined); l.unref(); process.on('exit', () => process.stdout.write('EXIT\\n'));`,
    10_000,
  );
  t.equal(unrefd.status, 0, 'exits by itself');
  t.equal(unrefd.stdout, 'EXIT\n');
  const refd = child(
    `const l = UnixSocket.listen(${JSON.stringify(path.join(dir, 'r.sock'))}, 'seqpacket'); l.accept(() => undefined); setTimeout(() => { l.unref(); process.stdout.write('UNREF\\n'); }, 800);`,
    10_000,
  );
  t.equal(refd.status, 0, "exits once unref'd");
  t.equal(refd.stdout, 'UNREF\n', 'alive until then');
  // A socket left open while Node tears down (process end, a worker ending) closes without calling JS.
  const teardown = child(`
const { Worker } = require('worker_threads');
const w = new Worker(\`
  const b = require(${JSON.stringify(path.join(DIST, 'native'))}).native();
  const { UnixSocket } = require(${JSON.stringify(path.join(DIST, 'unixsock'))});
  const l = UnixSocket.listen(${JSON.stringify(path.join(dir, 'w.sock'))}, 'seqpacket');
  l.accept(() => undefined);
  const [x, y] = b.socketPair();
  const s = UnixSocket.adopt(x);
  s.read({ maxBytes: 10, maxFds: 0 }, () => undefined);
  require('worker_threads').parentPort.postMessage('up');
\`, { eval: true });
w.on('message', () => w.terminate().then(() => { process.stdout.write('TERMINATED\\n'); const l = UnixSocket.listen(${JSON.stringify(path.join(dir, 'm.sock'))}, 'stream'); l.accept(() => undefined); setTimeout(() => process.exit(0), 50); }));
`);
  noAbort(t, teardown, 'teardown with open sockets');
  t.equal(teardown.status, 0);
  t.equal(teardown.stdout, 'TERMINATED\n', 'a worker ends with its sockets open');
});

t.test('Listener errors: accepting stops and says why', async (t) => {
  // EMFILE on accept, in a child with a low fd limit.
  const dir = tempDir(t);
  const r = child(
    `
const file = ${JSON.stringify(path.join(dir, 'e.sock'))};
const l = UnixSocket.listen(file, 'seqpacket');
const fs = require('fs');
const hold = [];
l.accept((fd) => b.close(fd), (e) => { process.stdout.write('ERROR ' + e.code + ' ' + e.syscall + '\\n'); hold.forEach((fd) => fs.closeSync(fd)); l.close(); process.exit(0); });
UnixSocket.connect(file, 'seqpacket').then(() => {
  try { for (;;) hold.push(fs.openSync('/dev/null', 'r')); } catch {}
  fs.closeSync(hold.pop()); // room for the client's socket, none for the accepted one
  UnixSocket.connect(file, 'seqpacket').catch(() => undefined);
});
`,
    20_000,
    128,
  );
  noAbort(t, r, 'EMFILE');
  t.match(r.stdout, /^ERROR (EMFILE|ENFILE) accept4\n$/, 'the error, with its syscall');
});

t.test('errors are NetfdErrors with code, errno and syscall', async (t) => {
  const err = (await UnixSocket.connect('/nonexistent/dir/x.sock').then(
    () => undefined,
    (e: NetfdError) => e,
  ))!;
  t.type(err, NetfdError);
  t.match(err, { code: 'ENOENT', errno: -2, syscall: 'connect' });
  t.notMatch(err.message, /—/, 'no device hint glued on');
});
