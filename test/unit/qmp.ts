// The QMP client against a fake monitor (test/helpers/fake-qmp.ts) that
// reads with the addon's fdRecv, so fds passed with getfd really arrive:
// handshake, ids, errors, timeouts, events and their buffer, framing, close,
// fd passing and fd leaks. With qemu-system-x86_64 installed, the same
// against a real qemu (-machine none).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { QmpError } from '../../lib/qemu/qmp/client';
import { Qmp } from '../../lib/qemu/qmp/commands';
import { QmpEvent } from '../../lib/qemu/qmp/events';
import { LineFramer } from '../../lib/qemu/qmp/transport';
import { FakeQmp } from '../helpers/fake-qmp';
import { openFds } from '../helpers/host';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-qmp-test-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A regular file of its own (distinct inode) to pass around; closed at the end of the test. */
function tempFile(t: Test, name: string): number {
  const p = path.join(tmp, `${name}-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(p, name);
  const fd = fs.openSync(p, 'r');
  t.teardown(() => fs.closeSync(fd));
  return fd;
}

const sameFile = (a: number, b: number) => {
  const x = fs.fstatSync(a);
  const y = fs.fstatSync(b);
  return x.dev === y.dev && x.ino === y.ino;
};

async function setup(t: Test, o: Parameters<typeof FakeQmp.start>[0] = {}): Promise<{ f: FakeQmp; q: Qmp }> {
  const f = await FakeQmp.start(o);
  const q = await Qmp.connect(f.path, { timeoutMs: 2000 });
  t.teardown(async () => {
    await q.close();
    await f.stop();
  });
  return { f, q };
}

t.test('line framing', async (t) => {
  const f = new LineFramer();
  t.same(f.push(Buffer.from('{"a":1}\r\n{"b"')), ['{"a":1}']);
  t.same(f.push(Buffer.from(':2}\r\n\r\n\n  \r\n{"c":3}\r\n{"d":')), ['{"b":2}', '{"c":3}'], 'blank lines dropped');
  const euro = Buffer.from('4,"e":"€"}\r\n');
  const cut = euro.indexOf(0xe2) + 1; // inside the 3-byte €
  t.same(f.push(euro.subarray(0, cut)), []);
  t.same(f.push(euro.subarray(cut)), ['{"d":4,"e":"€"}'], 'a character split between chunks');
  const small = new LineFramer(10);
  t.throws(() => small.push('x'.repeat(11)), { code: 'QMP_PROTOCOL' });
});

t.test('handshake: greeting, version, capabilities negotiated first', async (t) => {
  const { f, q } = await setup(t);
  t.same(q.version, { major: 7, minor: 2, micro: 3, package: 'fake 7.2.3' });
  t.same(q.capabilities, ['oob']);
  t.equal(f.conn.received[0].cmd.execute, 'qmp_capabilities');
  t.notOk('arguments' in f.conn.received[0].cmd, 'no arguments key when none are given');
  t.same(await q.queryStatus(), { status: 'running', singlestep: false, running: true });
});

t.test('connect failures', async (t) => {
  await t.rejects(Qmp.connect(path.join(tmp, 'missing.sock'), { timeoutMs: 1000 }), { name: 'NetfdError', code: 'ENOENT', syscall: 'connect' });
  const silent = await FakeQmp.start({ greeting: null });
  t.teardown(() => silent.stop());
  const t0 = Date.now();
  await t.rejects(Qmp.connect(silent.path, { timeoutMs: 150 }), { code: 'ETIMEDOUT', message: /no greeting within 150 ms/ });
  t.ok(Date.now() - t0 < 1500, 'the timeout is honoured');
  const wrong = await FakeQmp.start({ greeting: '{"hello": 1}\r\n' });
  t.teardown(() => wrong.stop());
  await t.rejects(Qmp.connect(wrong.path, { timeoutMs: 1000 }), { code: 'QMP_PROTOCOL', message: /expected the QMP greeting/ });
  const refuses = await FakeQmp.start({
    handler: (cmd) => (cmd.execute === 'qmp_capabilities' ? { error: { class: 'CommandNotFound', desc: 'nope' } } : undefined),
  });
  t.teardown(() => refuses.stop());
  await t.rejects(Qmp.connect(refuses.path), { code: 'QMP_ERROR', errorClass: 'CommandNotFound' });
  const dies = await FakeQmp.start({ handler: (cmd) => (cmd.execute === 'qmp_capabilities' ? (setImmediate(() => void dies.conn.close()), 'none') : undefined) });
  t.teardown(() => dies.stop());
  await t.rejects(Qmp.connect(dies.path), { code: 'QMP_CLOSED' });
  t.rejects(Qmp.connect(''), { code: 'INVALID_ARGUMENT' });
});

t.test('ids: unique, replies matched out of order', async (t) => {
  const { f, q } = await setup(t);
  const [slow, fast, echo] = await Promise.all([
    q.execute('slow', { ms: 80 }),
    q.execute('slow', { ms: 10 }),
    q.execute('echo', { a: [1, 'two', { three: null }] }),
  ]);
  t.same(slow, { slow: 80 });
  t.same(fast, { slow: 10 });
  t.same(echo, { a: [1, 'two', { three: null }] });
  const ids = f.conn.received.map((r) => r.cmd.id);
  t.equal(new Set(ids).size, ids.length, 'every id unique');
  t.same(ids, [...ids].sort((a, b) => Number(a) - Number(b)), 'sent in call order');
});

t.test('errors carry the qemu class and desc', async (t) => {
  const { q } = await setup(t);
  const err = await q.execute('fail', { class: 'DeviceNotFound', desc: "Device 'nic9' not found" }).catch((e: unknown) => e);
  t.type(err, QmpError);
  t.match(err, { name: 'QmpError', code: 'QMP_ERROR', errorClass: 'DeviceNotFound', desc: "Device 'nic9' not found", command: 'fail', message: "qmp fail: DeviceNotFound: Device 'nic9' not found" });
  await t.rejects(q.execute('no-such-command'), { code: 'QMP_ERROR', errorClass: 'CommandNotFound' });
  await t.rejects(q.closefd('nothing'), { code: 'QMP_ERROR', message: /GenericError: File descriptor named 'nothing' not found/ });
  await t.rejects(q.execute(''), { code: 'INVALID_ARGUMENT', field: 'command' });
  await t.rejects(q.execute('echo', [1] as unknown as object), { code: 'INVALID_ARGUMENT', field: 'arguments' });
  await t.rejects(q.execute('echo', {}, { fds: [-1] }), { code: 'INVALID_ARGUMENT', field: 'fds[0]' });
  await t.rejects(q.getfd('x', 1.5), { code: 'INVALID_ARGUMENT', field: 'fd' });
  t.same(await q.execute('echo', { still: 'works' }), { still: 'works' });
});

t.test('timeouts: ETIMEDOUT, a late reply ignored, the connection still usable', async (t) => {
  const { q } = await setup(t);
  const t0 = Date.now();
  await t.rejects(q.execute('hang', undefined, { timeoutMs: 100 }), { code: 'ETIMEDOUT', message: /qmp hang: no reply within 100 ms/ });
  t.ok(Date.now() - t0 >= 90, 'waited the timeout');
  await t.rejects(q.execute('slow', { ms: 150 }, { timeoutMs: 50 }), { code: 'ETIMEDOUT' });
  await new Promise((r) => setTimeout(r, 150)); // the late reply arrives and is dropped
  t.same(await q.execute('echo', { n: 1 }), { n: 1 });
  t.same(await q.execute('slow', { ms: 30 }, { timeoutMs: 0 }), { slow: 30 }, 'timeoutMs 0: none');
});

t.test('framing from the server: split, joined, blank lines, junk', async (t) => {
  const { f, q } = await setup(t, {
    handler: async (cmd, conn) => {
      if (cmd.execute !== 'split') return undefined;
      const reply = Buffer.from(`${JSON.stringify({ return: { text: 'naïve €' }, id: cmd.id })}\r\n`);
      const ev = (n: number) => JSON.stringify({ event: 'TICK', data: { n }, timestamp: { seconds: 1, microseconds: n } });
      await conn.sendRaw(`\r\n${ev(1)}\r\nnot json\r\n[1,2]\r\n${ev(2)}\r\n`);
      for (let i = 0; i < reply.length; i += 3) {
        await conn.sendRaw(reply.subarray(i, i + 3)); // splits the multi-byte characters too
        await new Promise((r) => setImmediate(r));
      }
      await conn.sendRaw(`${ev(3)}\r\n\r\n${JSON.stringify({ return: 'stray', id: 99999 })}\r\n${JSON.stringify({ return: {}, id: 'nope' })}\r\n`);
      return 'none';
    },
  });
  const seen: number[] = [];
  q.on('event', (ev) => seen.push(Number(ev.data.n)));
  t.same(await q.execute('split'), { text: 'naïve €' });
  await q.waitEvent('TICK', (ev) => ev.data.n === 3, 1000);
  t.same(seen, [1, 2, 3], 'events in order, junk lines skipped');
  t.same(await q.execute('echo', { ok: true }), { ok: true }, 'stray replies ignored');
  t.equal(f.conns.length, 1);
});

t.test('events: listener, buffer, waiters, since', async (t) => {
  const { f, q } = await setup(t);
  const all: QmpEvent[] = [];
  q.on('event', (ev) => all.push(ev));
  // The event arrives with the reply, before waitEvent is called.
  await q.execute('event-then-reply', { event: 'NIC_RX_FILTER_CHANGED', data: { name: 'nic0' } });
  const ev = await q.waitEvent('NIC_RX_FILTER_CHANGED', (e) => e.data.name === 'nic0', 100);
  t.match(ev, { event: 'NIC_RX_FILTER_CHANGED', data: { name: 'nic0' }, timestamp: { seconds: 1, microseconds: 2 }, seq: 1 });
  t.equal(q.lastEventSeq, 1);
  t.equal(all.length, 1);
  // ... but not when the caller says it is too old.
  await t.rejects(q.waitEvent('NIC_RX_FILTER_CHANGED', undefined, 80, q.lastEventSeq), { code: 'ETIMEDOUT', message: /no NIC_RX_FILTER_CHANGED event within 80 ms/ });
  // A waiter registered first, the event later; others with a predicate that does not match wait on.
  const mark = q.lastEventSeq;
  const w1 = q.waitEvent('WATCHDOG', (e) => e.data.action === 'reset', 1000, mark);
  const w2 = q.waitEvent('WATCHDOG', undefined, 1000, mark);
  await f.conn.event('WATCHDOG', { action: 'pause' });
  await f.conn.event('WATCHDOG', { action: 'reset' });
  t.equal((await w2).data.action, 'pause');
  t.equal((await w1).data.action, 'reset');
  t.equal(all.length, 3);
  // A throwing predicate rejects its waiter only.
  await t.rejects(q.waitEvent('WATCHDOG', () => { throw new Error('bad predicate'); }, 100), { message: 'bad predicate' });
  // The buffer is bounded.
  for (let i = 0; i < 70; i++) await f.conn.event('SPAM', { i });
  await q.waitEvent('SPAM', (e) => e.data.i === 69, 1000);
  await t.rejects(q.waitEvent('SPAM', (e) => e.data.i === 0, 50), { code: 'ETIMEDOUT' }, 'the oldest were dropped');
  t.ok(await q.waitEvent('SPAM', (e) => e.data.i === 10, 50), 'the newest 64 kept');
});

t.test('deviceDelAndWait: the DEVICE_DELETED for the id, before or after the reply', async (t) => {
  for (const eventFirst of [false, true]) {
    const { f, q } = await setup(t, { deviceDelEventFirst: eventFirst });
    // A stale event from an earlier device with the same id must not count.
    await q.execute('event-then-reply', { event: 'DEVICE_DELETED', data: { device: 'nic0', path: '/machine/peripheral/nic0' } });
    const ev = await q.deviceDelAndWait('nic0', 1000);
    t.match(ev, { event: 'DEVICE_DELETED', data: { device: 'nic0', path: '/machine/peripheral/nic0' } }, `event first: ${eventFirst}`);
    t.ok(ev.seq > 1, 'not the stale one');
    t.same(f.conn.received.at(-1)?.cmd.arguments, { id: 'nic0' });
  }
  const { q } = await setup(t, { handler: (cmd) => (cmd.execute === 'device_del' ? { error: { class: 'DeviceNotFound', desc: "Device 'x' not found" } } : undefined) });
  await t.rejects(q.deviceDelAndWait('x', 1000), { code: 'QMP_ERROR', errorClass: 'DeviceNotFound' });
});

t.test('convenience commands send what qemu expects', async (t) => {
  const { f, q } = await setup(t);
  await q.netdevAdd({ type: 'tap', id: 'net0', fd: 'tap0', vhost: false });
  await q.deviceAdd({ driver: 'virtio-net-pci', id: 'nic0', netdev: 'net0', mac: '52:54:00:12:34:56' });
  await q.deviceDel('nic0');
  await q.netdevDel('net0');
  t.same(
    f.conn.received.slice(1).map((r) => [r.cmd.execute, r.cmd.arguments]),
    [
      ['netdev_add', { type: 'tap', id: 'net0', fd: 'tap0', vhost: false }],
      ['device_add', { driver: 'virtio-net-pci', id: 'nic0', netdev: 'net0', mac: '52:54:00:12:34:56' }],
      ['device_del', { id: 'nic0' }],
      ['netdev_del', { id: 'net0' }],
    ],
  );
  await t.rejects(q.netdevAdd({ type: '', id: 'x' }), { code: 'INVALID_ARGUMENT', field: 'netdev.type' });
  await t.rejects(q.deviceAdd({} as { driver: string }), { code: 'INVALID_ARGUMENT', field: 'device.driver' });
});

t.test('fd passing: the server receives the same file, with the right command', async (t) => {
  const { f, q } = await setup(t);
  const a = tempFile(t, 'a');
  await q.getfd('tap0', a);
  const held = f.conn.named.get('tap0');
  t.type(held, 'number');
  t.not(held, a, 'a new fd on the other side');
  t.ok(sameFile(held!, a), 'the same file (dev/ino)');
  t.equal(fs.readlinkSync(`/proc/self/fd/${held}`), fs.readlinkSync(`/proc/self/fd/${a}`));
  const rec = f.conn.received.find((r) => r.cmd.execute === 'getfd');
  t.equal(rec?.fds.length, 1, 'the fd came with the getfd bytes');
  t.ok(fs.fstatSync(a).isFile(), 'the caller still owns its fd');
  await q.closefd('tap0');
  t.notOk(f.conn.named.has('tap0'));
  await t.rejects(q.execute('getfd', { fdname: 'none' }), { code: 'QMP_ERROR', message: /No file descriptor supplied/ });
});

t.test('fd passing interleaved with ordinary commands keeps order and pairing', async (t) => {
  const { f, q } = await setup(t);
  const files = Array.from({ length: 12 }, (_, i) => tempFile(t, `f${i}`));
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < files.length; i++) {
    calls.push(q.execute('echo', { i, pad: 'x'.repeat(i * 500) }));
    calls.push(q.getfd(`fd${i}`, files[i]));
    calls.push(q.execute('echo', { after: i }));
  }
  await Promise.all(calls);
  for (let i = 0; i < files.length; i++) t.ok(sameFile(f.conn.named.get(`fd${i}`)!, files[i]), `fd${i} is file ${i}`);
  const ids = f.conn.received.map((r) => Number(r.cmd.id));
  t.same(ids, [...ids].sort((x, y) => x - y), 'the stream was not interleaved: commands arrived whole and in order');
  t.equal(f.conn.received.filter((r) => r.fds.length > 0).length, files.length);
  t.ok(f.conn.received.every((r) => r.fds.length === 0 || r.cmd.execute === 'getfd'), 'fds only with getfd');
});

t.test('fd passing with a payload larger than the socket buffer (partial sendmsg)', async (t) => {
  const { f, q } = await setup(t);
  const a = tempFile(t, 'big');
  const big = 'y'.repeat(4 << 20);
  const r = (await q.execute('echo', { big }, { fds: [a], timeoutMs: 10_000 })) as { big: string };
  t.equal(r.big.length, big.length, 'the whole message arrived');
  t.equal(f.conn.received.at(-1)?.fds.length, 1, 'the fd came with the first part');
  await q.getfd('after', a);
  t.ok(sameFile(f.conn.named.get('after')!, a));
});

t.test('close: pending commands and waiters reject QMP_CLOSED', async (t) => {
  await t.test('the server drops the connection mid-command', async (t) => {
    const { q } = await setup(t);
    let closed = 0;
    q.on('close', () => closed++);
    const hang = q.execute('hang');
    const waiter = q.waitEvent('NEVER', undefined, 5000);
    const drop = q.execute('drop');
    await Promise.all([
      t.rejects(hang, { code: 'QMP_CLOSED', message: /qmp hang: qmp: qemu closed the monitor connection/ }),
      t.rejects(drop, { code: 'QMP_CLOSED' }),
      t.rejects(waiter, { code: 'QMP_CLOSED' }),
    ]);
    await t.rejects(q.execute('echo'), { code: 'QMP_CLOSED' }, 'later commands too');
    await t.rejects(q.waitEvent('X', undefined, 100), { code: 'QMP_CLOSED' });
    t.ok(q.isClosed);
    await q.close();
    t.equal(closed, 1, "one 'close'");
  });
  await t.test('close() from our side', async (t) => {
    const { f, q } = await setup(t);
    const hang = q.execute('hang');
    const fdCmd = q.getfd('never', tempFile(t, 'never')); // queued behind nothing, may or may not be sent
    const waiter = q.waitEvent('NEVER');
    const rejected = [t.rejects(hang, { code: 'QMP_CLOSED' }), t.rejects(fdCmd, { code: 'QMP_CLOSED' }), t.rejects(waiter, { code: 'QMP_CLOSED' })];
    await q.close();
    await Promise.all(rejected);
    await q.close(); // twice is fine
    await new Promise((r) => setTimeout(r, 100));
    t.ok(f.conn.closed, 'the server saw EOF');
  });
  await t.test('quit: reply, SHUTDOWN, close', async (t) => {
    const { q } = await setup(t);
    const shutdown = q.waitEvent('SHUTDOWN', undefined, 1000);
    await q.quit(1000);
    t.ok(q.isClosed);
    t.match(await shutdown, { data: { reason: 'host-qmp-quit' } });
  });
});

t.test('no fd leaks', async (t) => {
  const scenario = async () => {
    const f = await FakeQmp.start();
    const q = await Qmp.connect(f.path);
    const a = fs.openSync(__filename, 'r');
    await q.getfd('x', a);
    await q.getfd('x', a); // replaces: the server closes the old one
    await q.execute('hang', undefined, { timeoutMs: 20 }).catch(() => {});
    await q.waitEvent('NONE', undefined, 20).catch(() => {});
    await q.closefd('x');
    await q.getfd('y', a); // left for the server to close
    fs.closeSync(a);
    const q2 = await Qmp.connect(f.path);
    await q2.execute('drop').catch(() => {});
    await q2.close();
    await q.quit(1000);
    await Qmp.connect(path.join(tmp, 'nope.sock')).catch(() => {});
    await f.stop();
  };
  await scenario(); // warm up (thread pool, lazy handles)
  const before = openFds();
  for (let i = 0; i < 3; i++) await scenario();
  await new Promise((r) => setTimeout(r, 50));
  t.same(openFds(), before, 'the same fds open as before');
});

const qemu = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64'], { encoding: 'utf8' }).stdout.trim();

t.test('a real qemu (-machine none)', { skip: qemu ? false : 'qemu-system-x86_64 is not installed (skipped, not passed)' }, async (t) => {
  const sock = path.join(tmp, 'real.sock');
  const child = spawn(qemu, ['-accel', 'tcg', '-machine', 'none', '-nodefaults', '-display', 'none', '-qmp', `unix:${sock},server=on,wait=off`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
  t.ok(fs.existsSync(sock), `qemu made its socket ${stderr}`);
  const q = await Qmp.connect(sock, { timeoutMs: 5000 });
  t.ok(q.version.major >= 2, `qemu ${q.version.major}.${q.version.minor}.${q.version.micro}`);
  t.match(await q.queryStatus(), { running: true });
  t.match(await q.execute('query-version'), { qemu: { major: q.version.major } });
  const qemuHolds = (target: string) =>
    fs.readdirSync(`/proc/${child.pid}/fd`).some((n) => {
      try {
        return fs.readlinkSync(`/proc/${child.pid}/fd/${n}`) === target;
      } catch {
        return false;
      }
    });
  const file = path.join(tmp, 'passed-to-qemu');
  fs.writeFileSync(file, 'x');
  const fd = fs.openSync(file, 'r');
  try {
    t.notOk(qemuHolds(file));
    await q.getfd('f0', fd);
    t.ok(qemuHolds(file), 'qemu holds the file after getfd');
    await q.closefd('f0');
    t.notOk(qemuHolds(file), 'and not after closefd');
  } finally {
    fs.closeSync(fd);
  }
  await t.rejects(q.execute('getfd', { fdname: 'none' }), { code: 'QMP_ERROR', errorClass: 'GenericError', message: /SCM_RIGHTS/ });
  await t.rejects(q.execute('no-such-thing'), { code: 'QMP_ERROR', errorClass: 'CommandNotFound' });
  await t.rejects(q.deviceDel('nic9'), { code: 'QMP_ERROR', errorClass: 'DeviceNotFound' });
  const shutdown = q.waitEvent('SHUTDOWN', undefined, 5000);
  await q.quit(5000);
  t.match(await shutdown, { event: 'SHUTDOWN' });
  t.equal(await exited, 0, 'qemu exited');
});
