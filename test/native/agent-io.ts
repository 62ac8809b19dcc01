// The agent's socket layer without network devices: unix seqpacket
// listen/connect/accept, non-blocking recv/send with fds, Conn and Listener
// (lib/agent/conn.ts, over lib/sys/unixsock.ts), and AgentClient against a
// fake agent answering by hand.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { fdFlags, openFds } from '../helpers/host';
import { NetfdError } from '../../lib/errors';
import { native, NativeMessage } from '../../lib/sys/native';
import { recvFds } from '../../lib/sys/fdpass';
import { AgentClient } from '../../lib/agent/client';
import { Conn, Listener } from '../../lib/agent/conn';
import { errorReply, idOf, MAX_REQUEST, okReply, parseRequest, Request } from '../../lib/agent/protocol';
import { rejected } from '../helpers/refused';

const b = native();

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `p`, or a failure after `ms` (a ref'd timer: an unref'd connection alone does not keep the process alive). */
function within<T>(p: Promise<T>, what: string, ms = 2000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Waits until `pred` holds, polling. */
async function until(pred: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

function tempDir(t: { teardown: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-agent-io-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Fills `fd`'s send buffer (its peer does not read); returns how many messages went. */
function fill(fd: number, size = 1024): number {
  const chunk = Buffer.alloc(size, 0x61);
  let n = 0;
  while (b.sendNow(fd, chunk) >= 0) {
    n++;
    if (n > 100_000) throw new Error('the socket never filled');
  }
  return n;
}

/** Reads and discards up to `n` messages that are already waiting; returns how many there were. */
function drain(fd: number, n: number): number {
  let got = 0;
  for (let i = 0; i < n; i++) {
    const m = b.recvNow(fd, 1 << 16, 0);
    if (!m || m.eof) break;
    got++;
  }
  return got;
}

t.test('unixListen, unixConnect, acceptNow, socketInfo', async (t) => {
  const dir = tempDir(t);
  const sock = path.join(dir, 'a.sock');
  const before = openFds();
  const lfd = b.unixListen(sock);
  t.ok(fs.lstatSync(sock).isSocket(), 'the socket file exists');
  t.ok(fdFlags(lfd) & O_CLOEXEC, 'the listener is close-on-exec');
  t.ok(fdFlags(lfd) & O_NONBLOCK, 'the listener is non-blocking');
  t.equal(b.acceptNow(lfd), -1, 'no connection waits: -1');
  t.strictSame(b.socketInfo(lfd), { family: 'unix', type: 'seqpacket', listening: true });

  const cfd = await b.unixConnect(sock);
  t.ok(fdFlags(cfd) & O_CLOEXEC, 'the connected socket is close-on-exec');
  t.notOk(fdFlags(cfd) & O_NONBLOCK, 'and blocking (its I/O passes MSG_DONTWAIT)');
  const afd = b.acceptNow(lfd);
  t.ok(afd >= 0, 'accepted');
  t.equal(b.acceptNow(lfd), -1, 'only one was waiting');
  t.ok(fdFlags(afd) & O_CLOEXEC, 'the accepted socket is close-on-exec');
  t.ok(fdFlags(afd) & O_NONBLOCK, 'and non-blocking');
  t.strictSame(b.socketInfo(afd), { family: 'unix', type: 'seqpacket', listening: false });
  t.strictSame(b.socketInfo(cfd), { family: 'unix', type: 'seqpacket', listening: false });
  t.equal(b.sendNow(cfd, Buffer.from('over the path')), 13);
  t.equal(b.recvNow(afd, 100, 0)?.data.toString(), 'over the path', 'connected to each other');

  const [s1, s2] = b.socketPair('stream');
  t.strictSame(b.socketInfo(s1), { family: 'unix', type: 'stream', listening: false }, 'a stream pair');
  const [q1, q2] = b.socketPair();
  t.strictSame(b.socketInfo(q1), { family: 'unix', type: 'seqpacket', listening: false }, 'seqpacket by default');
  const devnull = fs.openSync('/dev/null', 'r');
  t.throws(() => b.socketInfo(devnull), { code: 'ENOTSOCK', syscall: 'getsockname' }, 'not a socket');
  t.throws(() => b.setNonblock(987654), { code: 'EBADF', syscall: 'fcntl' });
  b.setNonblock(q1);
  t.ok(fdFlags(q1) & O_NONBLOCK, 'setNonblock');

  t.throws(() => b.unixListen(sock), { code: 'EADDRINUSE', syscall: 'bind' }, 'the path is taken');
  t.throws(() => b.unixListen(path.join(dir, 'x'.repeat(200))), { code: 'ENAMETOOLONG', message: /1 to 107 bytes/ }, 'a 200-byte path');
  t.throws(() => b.unixListen(''), { code: 'ENAMETOOLONG' }, 'an empty path');
  t.throws(() => b.unixListen(path.join(dir, 'no', 'such', 'dir.sock')), { code: 'ENOENT', syscall: 'bind' });
  await t.rejects(b.unixConnect(path.join(dir, 'x'.repeat(200))), { code: 'ENAMETOOLONG' }, 'connect: a 200-byte path');
  await t.rejects(b.unixConnect(path.join(dir, 'missing.sock')), { code: 'ENOENT', syscall: 'connect' });
  fs.writeFileSync(path.join(dir, 'plain'), '');
  await t.rejects(b.unixConnect(path.join(dir, 'plain')), { code: 'ECONNREFUSED', syscall: 'connect' }, 'not a socket file');

  for (const fd of [lfd, cfd, afd, s1, s2, q1, q2]) b.close(fd);
  fs.closeSync(devnull);
  await t.rejects(b.unixConnect(sock), { code: 'ECONNREFUSED' }, 'nobody listens any more');
  t.strictSame(openFds(), before, 'no fd leaked');
});

t.test('recvNow', async (t) => {
  const dir = tempDir(t);
  const before = openFds();
  const [a, c] = b.socketPair();
  t.equal(b.recvNow(c, 100, 0), null, 'nothing waits: null');

  t.equal(b.sendNow(a, Buffer.from('one')), 3);
  t.equal(b.sendNow(a, Buffer.from('two!!')), 5);
  t.equal(b.sendNow(a, Buffer.from('3')), 1);
  t.strictSame(b.recvNow(c, 100, 0), { data: Buffer.from('one'), fds: [], size: 3, truncated: false, ctrunc: false, eof: false }, 'one message per call');
  t.strictSame(b.recvNow(c, 100, 4), { data: Buffer.from('two!!'), fds: [], size: 5, truncated: false, ctrunc: false, eof: false }, 'boundaries kept');
  t.strictSame(b.recvNow(c, 1, 0), { data: Buffer.from('3'), fds: [], size: 1, truncated: false, ctrunc: false, eof: false }, 'exactly maxBytes is not truncated');
  t.equal(b.recvNow(c, 100, 0), null, 'all read');

  const long = Buffer.alloc(100, 'z');
  long.write('head', 0);
  b.sendNow(a, long);
  b.sendNow(a, Buffer.from('next'));
  const m = b.recvNow(c, 10, 0)!;
  t.strictSame({ data: m.data.toString(), size: m.size, truncated: m.truncated }, { data: 'headzzzzzz', size: 100, truncated: true }, 'longer than maxBytes: the head, the real size, truncated');
  t.equal(b.recvNow(c, 100, 0)?.data.toString(), 'next', 'the rest of the long one is gone, the next message is whole');

  // fds to a receiver that takes none: dropped by the kernel, ctrunc.
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, 'hello');
  const ffd = fs.openSync(file, 'r');
  const nfd = fs.openSync('/dev/null', 'r');
  const opened = openFds();
  b.sendNow(a, Buffer.from('with fds'), [ffd, nfd]);
  const dropped = b.recvNow(c, 100, 0)!;
  t.strictSame({ data: dropped.data.toString(), fds: dropped.fds, ctrunc: dropped.ctrunc, eof: dropped.eof }, { data: 'with fds', fds: [], ctrunc: true, eof: false }, 'maxFds 0: ctrunc, no fds');
  t.strictSame(openFds(), opened, 'nothing arrived in the fd table');
  b.sendNow(a, Buffer.from('three'), [ffd, nfd, ffd]);
  const some = b.recvNow(c, 100, 2)!;
  t.equal(some.fds.length, 2, 'maxFds 2 of 3: two fds');
  t.equal(some.ctrunc, true, 'and ctrunc');
  some.fds.forEach((fd) => b.close(fd));
  t.strictSame(openFds(), opened, 'the rest were closed by the kernel');
  // The control buffer is CMSG_SPACE(4 * maxFds), padded to 8 bytes, and the
  // kernel fills what fits: an odd maxFds lets one more fd in.
  b.sendNow(a, Buffer.from('two'), [ffd, nfd]);
  const odd = b.recvNow(c, 100, 1)!;
  t.equal(odd.fds.length, 1, 'maxFds 1 of 2: one fd');
  t.equal(odd.ctrunc, true, 'and ctrunc');
  odd.fds.forEach((fd) => b.close(fd));
  t.strictSame(openFds(), opened, 'whatever came was closed');

  // fds taken: real, the same files, close-on-exec.
  b.sendNow(a, Buffer.from('two fds'), [ffd, nfd]);
  const got = b.recvNow(c, 100, 4)!;
  t.equal(got.data.toString(), 'two fds');
  t.equal(got.ctrunc, false);
  t.equal(got.fds.length, 2);
  t.notOk(got.fds.includes(ffd) || got.fds.includes(nfd), 'new fd numbers');
  const [gf, gn] = got.fds;
  t.equal(fs.fstatSync(gf).ino, fs.fstatSync(ffd).ino, 'the first is the file');
  const buf = Buffer.alloc(5);
  fs.readSync(gf, buf, 0, 5, 0);
  t.equal(buf.toString(), 'hello', 'and reads as the file');
  t.ok(fs.fstatSync(gn).isCharacterDevice(), 'the second is /dev/null');
  t.equal(fs.fstatSync(gn).rdev, fs.statSync('/dev/null').rdev);
  for (const fd of got.fds) t.ok(fdFlags(fd) & O_CLOEXEC, `received fd ${fd} is close-on-exec`);
  for (const fd of got.fds) b.close(fd);
  fs.closeSync(ffd);
  fs.closeSync(nfd);

  // The peer closes: what it sent first still arrives, then eof (and eof again).
  b.sendNow(a, Buffer.from('last words'));
  b.close(a);
  t.equal(b.recvNow(c, 100, 0)?.data.toString(), 'last words', 'sent before the close');
  t.strictSame(b.recvNow(c, 100, 0), { data: Buffer.alloc(0), fds: [], size: 0, truncated: false, ctrunc: false, eof: true }, 'then eof');
  t.equal(b.recvNow(c, 100, 0)?.eof, true, 'eof stays');
  t.throws(() => b.sendNow(c, Buffer.from('x')), { code: 'EPIPE', syscall: 'sendmsg' }, 'sending to a closed peer is EPIPE (no SIGPIPE)');
  b.close(c);

  // A peer that closes with messages it never read: ECONNRESET, reported as eof.
  const [x, y] = b.socketPair();
  b.sendNow(x, Buffer.from('never read'));
  b.close(y);
  t.equal(b.recvNow(x, 100, 0)?.eof, true, 'reset by the peer: eof, not an error');
  b.close(x);
  // What such a peer sent before it closed still arrives (the kernel reports the reset first).
  const [x2, y2] = b.socketPair();
  b.sendNow(x2, Buffer.from('never read'));
  b.sendNow(y2, Buffer.from('refused, because'));
  b.close(y2);
  t.equal(b.recvNow(x2, 100, 0)?.data.toString(), 'refused, because', 'reset by the peer: its last message first');
  t.equal(b.recvNow(x2, 100, 0)?.eof, true, 'then eof');
  t.equal(b.recvNow(x2, 100, 0)?.eof, true, 'eof stays');
  b.close(x2);

  // A stream socket: eof when the peer closes too.
  const [s1, s2] = b.socketPair('stream');
  b.sendNow(s1, Buffer.from('ab'));
  b.sendNow(s1, Buffer.from('cd'));
  t.equal(b.recvNow(s2, 100, 0)?.data.toString(), 'abcd', 'a stream has no boundaries');
  b.close(s1);
  t.equal(b.recvNow(s2, 100, 0)?.eof, true, 'stream eof');
  b.close(s2);
  t.strictSame(openFds(), before, 'no fd leaked');
});

t.test('sendNow on a full socket; Conn.send waits for room', async (t) => {
  const before = openFds();
  const [a, c] = b.socketPair();
  const n = fill(a);
  t.ok(n > 0, `${n} messages filled the socket`);
  t.equal(b.sendNow(a, Buffer.from('x')), -1, 'full: -1');
  t.throws(() => b.sendNow(a, Buffer.alloc(0)), { code: 'EINVAL' }, 'an empty message is refused');

  const closes: string[] = [];
  const conn = new Conn(a, { maxBytes: 64, maxFds: 0, onMessage: () => t.fail('nothing is sent to this end'), onClose: (why) => closes.push(why) });
  const devnull = fs.openSync('/dev/null', 'r');
  const settled: string[] = [];
  const sends = ['one', 'two', 'three'].map((s, i) => conn.send(Buffer.from(s), i === 1 ? [devnull] : []).then(() => void settled.push(s)));
  await sleep(30);
  t.strictSame(settled, [], 'no room: the sends wait');
  t.equal(drain(c, n), n, 'the peer reads what filled it');
  await within(Promise.all(sends), 'the queued sends');
  t.strictSame(settled, ['one', 'two', 'three'], 'sent in order once there was room');
  fs.closeSync(devnull); // the fds stay the caller's

  const r1 = await recvFds(c, 100, 4, 1000);
  const r2 = await recvFds(c, 100, 4, 1000);
  const r3 = await recvFds(c, 100, 4, 1000);
  t.strictSame([r1.data.toString(), r2.data.toString(), r3.data.toString()], ['one', 'two', 'three']);
  t.strictSame([r1.fds.length, r2.fds.length, r3.fds.length], [0, 1, 0], 'the fd came with its message');
  t.ok(fs.fstatSync(r2.fds[0]).isCharacterDevice(), 'a real fd');
  b.close(r2.fds[0]);

  // Too large for the socket at all: that send fails, the connection stays.
  await t.rejects(conn.send(Buffer.alloc(8 << 20)), { code: 'EMSGSIZE' }, 'larger than the send buffer');
  await conn.send(Buffer.from('still here'));
  t.equal(b.recvNow(c, 100, 0)?.data.toString(), 'still here', 'the connection is still usable');
  t.notOk(conn.closed);

  conn.close();
  t.strictSame(closes, ['closed']);
  b.close(c);
  t.strictSame(openFds(), before, 'no fd leaked');
});

t.test('Conn: messages in order, onClose once', async (t) => {
  const before = openFds();
  const [a, c] = b.socketPair();
  const got: NativeMessage[] = [];
  const closes: string[] = [];
  const conn = new Conn(a, { maxBytes: 8, maxFds: 2, onMessage: (m) => void got.push(m), onClose: (why) => void closes.push(why) });
  t.equal(conn.fd, a);
  const want: string[] = [];
  for (let i = 0; i < 40; i++) {
    want.push(`m${i}`);
    b.sendNow(c, Buffer.from(`m${i}`));
  }
  await until(() => got.length === 40, '40 messages (more than one burst)');
  t.strictSame(
    got.map((m) => m.data.toString()),
    want,
    'in order',
  );

  b.sendNow(c, Buffer.from('much too long'));
  const devnull = fs.openSync('/dev/null', 'r');
  b.sendNow(c, Buffer.from('fds'), [devnull, devnull, devnull]);
  fs.closeSync(devnull);
  await until(() => got.length === 42, 'a long message and one with fds');
  t.strictSame({ data: got[40].data.toString(), size: got[40].size, truncated: got[40].truncated }, { data: 'much too', size: 13, truncated: true }, 'a long one arrives truncated');
  t.equal(got[41].fds.length, 2, 'maxFds fds');
  t.equal(got[41].ctrunc, true, 'and ctrunc for the rest');
  for (const fd of got[41].fds) b.close(fd);

  b.sendNow(c, Buffer.from('last'));
  b.close(c);
  await until(() => closes.length > 0, 'onClose');
  t.equal(got.at(-1)?.data.toString(), 'last', 'what the peer sent before closing arrives first');
  t.strictSame(closes, ['the peer closed the connection']);
  t.ok(conn.closed);
  conn.close('again');
  await sleep(10);
  t.strictSame(closes, ['the peer closed the connection'], 'onClose ran once');
  await t.rejects(conn.send(Buffer.from('x')), { code: 'ECONNRESET', message: 'the connection is closed' }, 'send after close');
  t.strictSame(openFds(), before, 'the Conn closed its fd');
});

t.test('Conn.close rejects the sends that wait', async (t) => {
  const before = openFds();
  const [a, c] = b.socketPair();
  const n = fill(a);
  const closes: string[] = [];
  const conn = new Conn(a, { maxBytes: 64, maxFds: 0, onMessage: () => undefined, onClose: (why) => void closes.push(why) });
  const outcomes = [1, 2, 3].map((i) =>
    conn.send(Buffer.from(`w${i}`)).then(
      () => 'sent',
      (e: NetfdError) => `${e.code}: ${e.message}`,
    ),
  );
  await sleep(10);
  conn.close('shutting down');
  const why = 'ECONNRESET: the connection closed before the message was sent (shutting down)';
  t.strictSame(await outcomes[0], why);
  t.strictSame(await Promise.all(outcomes), [why, why, why], 'every waiting send fails');
  t.strictSame(closes, ['shutting down']);
  t.equal(drain(c, n + 3), n, 'none of them went out');
  b.close(c);

  // More waiting than maxQueue: the peer is not reading, the connection closes.
  const [x, y] = b.socketPair();
  fill(x);
  const closes2: string[] = [];
  const conn2 = new Conn(x, { maxBytes: 64, maxFds: 0, maxQueue: 2, onMessage: () => undefined, onClose: (why) => void closes2.push(why) });
  const out2 = [1, 2, 3].map((i) =>
    conn2.send(Buffer.from(`q${i}`)).then(
      () => 'sent',
      (e: NetfdError) => e.code,
    ),
  );
  t.strictSame(await Promise.all(out2), ['ECONNRESET', 'ECONNRESET', 'ECONNRESET']);
  t.match(closes2, [/the peer is not reading \(more than 2 messages waiting\)/]);
  t.ok(conn2.closed);
  b.close(y);

  // A send that fails otherwise closes the connection: an fd that is not open.
  const [p, q] = b.socketPair();
  const closes3: string[] = [];
  const conn3 = new Conn(p, { maxBytes: 64, maxFds: 0, onMessage: () => undefined, onClose: (why) => void closes3.push(why) });
  await t.rejects(conn3.send(Buffer.from('x'), [987654]), { code: 'ECONNRESET' });
  t.match(closes3, [/send failed: .*Bad file descriptor/]);
  b.close(q);
  t.strictSame(openFds(), before, 'no fd leaked');
});

t.test('200 Conn open/close cycles leak nothing', async (t) => {
  const before = openFds();
  const devnull = fs.openSync('/dev/null', 'r');
  for (let i = 0; i < 200; i++) {
    const [a, c] = b.socketPair();
    let closed!: () => void;
    const gone = new Promise<void>((r) => (closed = r));
    const conn = new Conn(a, {
      maxBytes: 64,
      maxFds: 2,
      onMessage: (m) => m.fds.forEach((fd) => b.close(fd)),
      onClose: () => closed(),
    });
    if (i % 2 === 0) {
      await conn.send(Buffer.from('x'), [devnull]);
      conn.close();
      const m = b.recvNow(c, 64, 2)!;
      m.fds.forEach((fd) => b.close(fd));
      b.close(c);
    } else {
      b.sendNow(c, Buffer.from('y'), [devnull]);
      b.close(c);
    }
    await within(gone, `cycle ${i}`);
  }
  fs.closeSync(devnull);
  t.strictSame(openFds(), before, 'every fd was closed');
});

t.test('Listener accepts; AgentClient against a fake agent', async (t) => {
  const dir = tempDir(t);
  const sock = path.join(dir, 'agent.sock');
  const served: Conn[] = [];
  const seen: Request[] = [];
  const held: Request[] = [];
  const devnullStat = fs.statSync('/dev/null');
  const sendFd = (conn: Conn, reply: Buffer, count = 1) => {
    const fd = fs.openSync('/dev/null', 'r');
    void conn.send(reply, new Array<number>(count).fill(fd)).finally(() => fs.closeSync(fd));
  };
  const answer = (r: Request, conn: Conn): void => {
    const name = r.args.name as string;
    switch (r.op) {
      case 'hello':
        void conn.send(okReply(r.id, { agent: 'fake', caller: r.id }));
        return;
      case 'claim':
        sendFd(conn, okReply(r.id, { name, fds: ['tap'] }, 1));
        return;
      case 'release':
        void conn.send(
          errorReply(r.id, Object.assign(new NetfdError(`bob may not release ${name}`, { code: 'ACCESS_DENIED', field: 'name', value: name }), { rule: '/etc/netfd/acl:3 deny user bob all' })),
        );
        return;
      case 'probe':
        void conn.send(errorReply(r.id, new Error('plain failure')));
        return;
      case 'detach':
        sendFd(conn, okReply(r.id, { fds: ['tap', 'vhost'] }, 2), 1); // announces 2, carries 1
        return;
      case 'net-undefine':
        sendFd(conn, okReply(r.id + 1000, { stray: true }, 1)); // an id nobody waits for, with an fd
        void conn.send(okReply(r.id, { undefined: name }));
        return;
      case 'net-dumpxml':
        // Answered in reverse order once three wait: replies match by id.
        held.push(r);
        if (held.length === 3) for (const h of held.splice(0).reverse()) void conn.send(okReply(h.id, { xml: `<network><name>${h.args.name as string}</name></network>` }));
        return;
      case 'net-list':
        void conn.send(Buffer.from('this is not json'));
        return;
      case 'net-start':
        void conn.send(errorReply(null, new NetfdError('the agent serves at most 0 connections', { code: 'EAGAIN' })));
        return;
      case 'net-destroy':
        conn.close('the fake agent hangs up');
        return;
      default: // list: never answered
        return;
    }
  };
  let accepted = 0;
  const listener = new Listener(b.unixListen(sock), (fd) => {
    accepted++;
    const conn: Conn = new Conn(fd, {
      maxBytes: MAX_REQUEST,
      maxFds: 0,
      onMessage: (m) => {
        let r: Request;
        try {
          r = parseRequest(m.data);
        } catch (e) {
          void conn.send(errorReply(idOf(m.data), e));
          return;
        }
        seen.push(r);
        answer(r, conn);
      },
      onClose: () => undefined,
    });
    served.push(conn);
  });
  t.teardown(() => {
    listener.close();
    for (const c of served) c.close();
  });
  const before = openFds();

  const client = await AgentClient.connect(sock);
  const closes: string[] = [];
  client.onClose = (why) => void closes.push(why);
  t.equal(client.socket, sock);
  t.notOk(client.closed);

  t.strictSame(await client.request('hello'), { result: { agent: 'fake', caller: 1 }, fds: [] }, 'a result, no fds');
  await until(() => accepted === 1, 'the Listener accepted');
  t.strictSame(seen[0], { v: 1, id: 1, op: 'hello', args: {} }, 'the request as the agent read it');
  const connected = openFds(); // with both ends of the connection

  const claimed = await client.request<{ name: string; fds: string[] }>('claim', { name: 'vm1' });
  t.strictSame(claimed.result, { name: 'vm1', fds: ['tap'] });
  t.equal(claimed.fds.length, 1, 'one fd came');
  const st = fs.fstatSync(claimed.fds[0]);
  t.ok(st.isCharacterDevice() && st.rdev === devnullStat.rdev, 'it is /dev/null');
  t.ok(fdFlags(claimed.fds[0]) & O_CLOEXEC, 'close-on-exec');
  b.close(claimed.fds[0]);

  const denied = await rejected(t, () => client.request('release', { name: 'vm1' }), { code: 'ACCESS_DENIED', field: 'name', value: 'vm1' }, /bob may not release vm1/);
  t.equal((denied as NetfdError & { rule?: string }).rule, '/etc/netfd/acl:3 deny user bob all', 'the rule came along');
  await t.rejects(client.request('probe'), { name: 'NetfdError', code: 'EUNKNOWN', message: 'plain failure' }, 'a plain Error on the agent side');

  await t.rejects(client.request('detach', { name: 'vm1', mac: '52:54:00:00:00:01' }), { code: 'PROTOCOL_ERROR', message: /announced 2 fds but 1 arrived/ }, 'fewer fds than announced');
  t.strictSame(openFds(), connected, 'the fd that came was closed');

  t.strictSame(await client.request('net-undefine', { name: 'n1' }), { result: { undefined: 'n1' }, fds: [] }, 'a reply for an unknown id is skipped');
  t.strictSame(openFds(), connected, 'and its fd closed');

  const xmls = await Promise.all(['a', 'b', 'c'].map((name) => client.request<{ xml: string }>('net-dumpxml', { name })));
  t.strictSame(
    xmls.map((x) => x.result.xml),
    ['a', 'b', 'c'].map((n) => `<network><name>${n}</name></network>`),
    'replies out of order match their requests',
  );

  const started = Date.now();
  await t.rejects(client.request('list', {}, 50), { code: 'ETIMEDOUT', message: 'the agent did not answer list within 50 ms' });
  t.ok(Date.now() - started < 1000, 'on time');
  t.strictSame((await client.request('hello')).fds, [], 'the connection survives a timeout');

  // Garbage: the connection closes and everything waiting fails.
  const waiting = client.request('list', {}, 5000).then(
    () => 'answered',
    (e: NetfdError) => `${e.code}: ${e.message}`,
  );
  const garbage = client.request('net-list').then(
    () => 'answered',
    (e: NetfdError) => `${e.code}: ${e.message}`,
  );
  const [w, g] = await within(Promise.all([waiting, garbage]), 'the garbage reply');
  t.match(w, /^ECONNRESET: the agent connection closed \(the agent sent a reply that is not JSON/, 'the other request fails');
  t.match(g, /^ECONNRESET: the agent connection closed \(the agent sent a reply that is not JSON/, 'the request answered with garbage fails');
  t.equal(closes.length, 1, 'onClose ran once');
  t.match(closes[0], /not JSON/);
  t.ok(client.closed);
  await t.rejects(
    client.request('hello'),
    { code: 'ECONNRESET', message: /the agent connection closed \(the agent sent a reply that is not JSON/ },
    'later requests fail at once, with the same error',
  );
  client.close();
  t.equal(closes.length, 1, 'close() after that does not call onClose again');

  // The agent hangs up.
  const c2 = await AgentClient.connect(sock);
  const closes2: string[] = [];
  c2.onClose = (why) => void closes2.push(why);
  await t.rejects(c2.request('net-destroy', { name: 'n' }), { code: 'ECONNRESET', message: /the peer closed the connection/ });
  t.strictSame(closes2, ['the peer closed the connection']);

  // The agent refuses the connection (an error reply with id null).
  const c3 = await AgentClient.connect(sock);
  const closes3: string[] = [];
  c3.onClose = (why) => void closes3.push(why);
  await t.rejects(
    c3.request('net-start', { name: 'n' }),
    { name: 'NetfdError', code: 'EAGAIN', message: 'the agent refused the connection: the agent serves at most 0 connections' },
    "the agent's code and message",
  );
  t.equal(closes3.length, 1);
  await t.rejects(c3.request('hello'), { code: 'EAGAIN', message: /refused the connection/ }, 'and again for later requests');

  // The client closes.
  const c4 = await AgentClient.connect(sock);
  const closes4: string[] = [];
  c4.onClose = (why) => void closes4.push(why);
  const pending = c4.request('list', {}, 5000).then(
    () => 'answered',
    (e: NetfdError) => e.code,
  );
  c4.close();
  t.equal(await pending, 'ECONNRESET', 'close() fails what waits');
  t.strictSame(closes4, ['closed by the client']);
  await until(() => served.filter((s) => s.closed).length === 4, 'the fake agent saw every client go');

  await rejected(t, () => AgentClient.connect(path.join(dir, 'none.sock')), { code: 'ENOENT', field: 'connect', value: path.join(dir, 'none.sock') }, /is `netfd agent` running\?/);

  t.equal(accepted, 4, 'four connections accepted');
  for (const s of served) s.close();
  t.strictSame(openFds(), before, 'no fd leaked');
});

t.test('AgentClient refused before its first request: the refusal, not EPIPE', async (t) => {
  const dir = tempDir(t);
  const before = openFds();
  const lfd = b.unixListen(path.join(dir, 'agent.sock'));
  for (const [why, code] of [
    ['the agent serves at most 1 connections', 'EAGAIN'],
    ['the agent is stopping', 'EAGAIN'],
  ] as const) {
    const client = await AgentClient.connect(path.join(dir, 'agent.sock'));
    const fd = b.acceptNow(lfd);
    b.sendNow(fd, errorReply(null, new NetfdError(why, { code })));
    b.close(fd); // as the agent does: the client's send now fails with EPIPE
    await t.rejects(within(client.request('hello'), 'the refusal'), { name: 'NetfdError', code, message: `the agent refused the connection: ${why}` }, `${code}: ${why}`);
    t.ok(client.closed, 'the connection is closed');
    client.close();
  }
  // Closed without a word: ECONNRESET.
  const client = await AgentClient.connect(path.join(dir, 'agent.sock'));
  b.close(b.acceptNow(lfd));
  await t.rejects(within(client.request('hello'), 'the reset'), { code: 'ECONNRESET', message: /^the agent connection closed \(/ });
  client.close();
  b.close(lfd);
  t.strictSame(openFds(), before, 'no fd leaked');
});

t.test('bad arguments are TypeErrors, not crashes', async (t) => {
  const [a, c] = b.socketPair();
  const data = Buffer.from('x');
  type Any = (...args: unknown[]) => unknown;
  const f = (fn: unknown) => fn as Any;
  const calls: [string, () => unknown][] = [
    ['unixListen()', () => f(b.unixListen)()],
    ['unixListen number', () => f(b.unixListen)(5)],
    ['unixListen NUL', () => b.unixListen('/tmp/a\0b')],
    ['unixListen backlog 0', () => b.unixListen('/tmp/netfd-never', 0)],
    ['unixListen backlog 1.5', () => b.unixListen('/tmp/netfd-never', 1.5)],
    ['unixListen backlog 65536', () => b.unixListen('/tmp/netfd-never', 65536)],
    ['unixListen backlog string', () => f(b.unixListen)('/tmp/netfd-never', '5')],
    ['unixConnect()', () => f(b.unixConnect)()],
    ['unixConnect number', () => f(b.unixConnect)(3)],
    ['unixConnect NUL', () => b.unixConnect('/tmp/a\0b')],
    ['acceptNow()', () => f(b.acceptNow)()],
    ['acceptNow string', () => f(b.acceptNow)('3')],
    ['acceptNow -1', () => b.acceptNow(-1)],
    ['acceptNow 1.5', () => b.acceptNow(1.5)],
    ['acceptNow NaN', () => b.acceptNow(NaN)],
    ['acceptNow 2^31', () => b.acceptNow(2 ** 31)],
    ['recvNow()', () => f(b.recvNow)()],
    ['recvNow fd string', () => f(b.recvNow)(String(c), 10, 0)],
    ['recvNow fd -1', () => b.recvNow(-1, 10, 0)],
    ['recvNow no maxFds', () => f(b.recvNow)(c, 10)],
    ['recvNow maxBytes string', () => f(b.recvNow)(c, '10', 0)],
    ['recvNow maxBytes 0', () => b.recvNow(c, 0, 0)],
    ['recvNow maxBytes -5', () => b.recvNow(c, -5, 0)],
    ['recvNow maxBytes 1.5', () => b.recvNow(c, 1.5, 0)],
    ['recvNow maxBytes 16M+1', () => b.recvNow(c, (1 << 24) + 1, 0)],
    ['recvNow maxBytes NaN', () => b.recvNow(c, NaN, 0)],
    ['recvNow maxFds 254', () => b.recvNow(c, 10, 254)],
    ['recvNow maxFds -1', () => b.recvNow(c, 10, -1)],
    ['recvNow maxFds 0.5', () => b.recvNow(c, 10, 0.5)],
    ['sendNow()', () => f(b.sendNow)()],
    ['sendNow no data', () => f(b.sendNow)(a)],
    ['sendNow string data', () => f(b.sendNow)(a, 'x')],
    ['sendNow fd -1', () => b.sendNow(-1, data)],
    ['sendNow fd string', () => f(b.sendNow)(String(a), data)],
    ['sendNow fds not an array', () => f(b.sendNow)(a, data, 5)],
    ['sendNow fds object', () => f(b.sendNow)(a, data, { 0: 1, length: 1 })],
    ['sendNow fds [-1]', () => b.sendNow(a, data, [-1])],
    ['sendNow fds [1.5]', () => b.sendNow(a, data, [1.5])],
    ['sendNow fds ["3"]', () => f(b.sendNow)(a, data, ['3'])],
    ['sendNow fds [2^31]', () => b.sendNow(a, data, [2 ** 31])],
    ['sendNow 254 fds', () => b.sendNow(a, data, new Array<number>(254).fill(0))],
    ['socketInfo()', () => f(b.socketInfo)()],
    ['socketInfo -1', () => b.socketInfo(-1)],
    ['socketInfo string', () => f(b.socketInfo)('0')],
    ['setNonblock null', () => f(b.setNonblock)(null)],
    ['setNonblock -1', () => b.setNonblock(-1)],
  ];
  for (const [name, fn] of calls) t.throws(fn, TypeError, name);

  // Nothing above sent anything.
  t.equal(b.recvNow(c, 10, 0), null, 'no message went out');
  b.close(a);
  b.close(c);
});
