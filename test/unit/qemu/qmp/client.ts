// lib/qemu/qmp/client.ts against a fake monitor (test/helpers/fake-qmp.ts):
// handshake, connect failures, ids, errors, timeouts, close (pending
// commands and waiters reject QMP_CLOSED) and fd leaks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { QmpError } from '../../../../lib/qemu/qmp/client';
import { Qmp } from '../../../../lib/qemu/qmp/commands';
import { FakeQmp, connectFake, tempFile } from '../../../helpers/fake-qmp';
import { openFds } from '../../../helpers/host';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-qmp-test-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

t.test('handshake: greeting, version, capabilities negotiated first', async (t) => {
  const { f, q } = await connectFake(t);
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
  const { f, q } = await connectFake(t);
  const [slow, fast, echo] = await Promise.all([q.execute('slow', { ms: 80 }), q.execute('slow', { ms: 10 }), q.execute('echo', { a: [1, 'two', { three: null }] })]);
  t.same(slow, { slow: 80 });
  t.same(fast, { slow: 10 });
  t.same(echo, { a: [1, 'two', { three: null }] });
  const ids = f.conn.received.map((r) => r.cmd.id);
  t.equal(new Set(ids).size, ids.length, 'every id unique');
  t.same(
    ids,
    [...ids].sort((a, b) => Number(a) - Number(b)),
    'sent in call order',
  );
});

t.test('errors carry the qemu class and desc', async (t) => {
  const { q } = await connectFake(t);
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
  const { q } = await connectFake(t);
  const t0 = Date.now();
  await t.rejects(q.execute('hang', undefined, { timeoutMs: 100 }), { code: 'ETIMEDOUT', message: /qmp hang: no reply within 100 ms/ });
  t.ok(Date.now() - t0 >= 90, 'waited the timeout');
  await t.rejects(q.execute('slow', { ms: 150 }, { timeoutMs: 50 }), { code: 'ETIMEDOUT' });
  await new Promise((r) => setTimeout(r, 150)); // the late reply arrives and is dropped
  t.same(await q.execute('echo', { n: 1 }), { n: 1 });
  t.same(await q.execute('slow', { ms: 30 }, { timeoutMs: 0 }), { slow: 30 }, 'timeoutMs 0: none');
});

t.test('close: pending commands and waiters reject QMP_CLOSED', async (t) => {
  await t.test('the server drops the connection mid-command', async (t) => {
    const { q } = await connectFake(t);
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
    const { f, q } = await connectFake(t);
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
    const { q } = await connectFake(t);
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
