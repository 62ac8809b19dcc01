// lib/qemu/runstate.ts against the fake monitor: the state from query-status,
// then RESUME / STOP; one apply at a time, always ending with the newest
// state; failures reported and retried; and Qmp.open on a socket pair end
// (netfd's own monitor).
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { socketPair } from '../../../lib/sys/fdpass';
import { Qmp } from '../../../lib/qemu/qmp/commands';
import { RunState, runningAfter } from '../../../lib/qemu/runstate';
import { FakeHandler, FakeQmp } from '../../helpers/fake-qmp';
import { openFds } from '../../helpers/host';

const status = (running: boolean) => ({ return: { status: running ? 'running' : 'prelaunch', singlestep: false, running } });

async function setup(t: Test, handler?: FakeHandler): Promise<{ f: FakeQmp; q: Qmp }> {
  const f = await FakeQmp.start({ handler });
  const q = await Qmp.connect(f.path, { timeoutMs: 2000 });
  t.teardown(async () => {
    await q.close();
    await f.stop();
  });
  return { f, q };
}

/** An apply that records calls, takes `ms`, and checks it never overlaps itself. */
function recorder(ms = 0) {
  const calls: boolean[] = [];
  let active = 0;
  let overlapped = false;
  let fail: Error | null = null;
  const apply = async (running: boolean) => {
    active++;
    if (active > 1) overlapped = true;
    calls.push(running);
    try {
      if (ms) await new Promise((r) => setTimeout(r, ms));
      if (fail) throw fail;
    } finally {
      active--;
    }
  };
  return { apply, calls, overlapped: () => overlapped, failWith: (e: Error | null) => (fail = e) };
}

const until = async (cond: () => boolean, ms = 2000) => {
  for (const end = Date.now() + ms; !cond() && Date.now() < end;) await new Promise((r) => setTimeout(r, 5));
};

t.test('runningAfter', async (t) => {
  t.equal(runningAfter({ event: 'RESUME' }), true);
  t.equal(runningAfter({ event: 'STOP' }), false);
  t.equal(runningAfter({ event: 'SHUTDOWN' }), null);
  t.equal(runningAfter({ event: 'DEVICE_DELETED' }), null);
});

t.test('paused at start (-S): applied down; RESUME up, STOP down', async (t) => {
  const { f, q } = await setup(t, (c) => (c.execute === 'query-status' ? status(false) : undefined));
  const r = recorder();
  const s = await RunState.follow(q, r.apply);
  t.strictSame(r.calls, [false], 'the state from query-status, applied before follow resolves');
  t.equal(s.running, false);
  t.equal(s.applied, true);
  await f.conn.event('RESUME');
  await until(() => r.calls.length === 2);
  await s.settled();
  t.strictSame(r.calls, [false, true]);
  t.equal(s.running, true);
  await f.conn.event('SHUTDOWN', { guest: true });
  await f.conn.event('STOP');
  await until(() => r.calls.length === 3);
  t.strictSame(r.calls, [false, true, false], 'other events change nothing');
  s.close();
  await f.conn.event('RESUME');
  await new Promise((res) => setTimeout(res, 50));
  t.strictSame(r.calls, [false, true, false], 'closed: no more applies');
});

t.test('appliedAtStart: a start in that state applies nothing; a start in the other state does', async (t) => {
  const paused = await setup(t, (c) => (c.execute === 'query-status' ? status(false) : undefined));
  const r = recorder();
  const s = await RunState.follow(paused.q, r.apply, { appliedAtStart: false });
  t.strictSame(r.calls, [], 'made down, starting paused: nothing to do');
  t.equal(s.applied, true);
  await paused.f.conn.event('RESUME');
  await until(() => r.calls.length === 1);
  t.strictSame(r.calls, [true]);
  const running = await setup(t);
  const r2 = recorder();
  await RunState.follow(running.q, r2.apply, { appliedAtStart: false });
  t.strictSame(r2.calls, [true], 'made down, starting running: up');
});

t.test('a burst of events while an apply runs: never two at once, and the newest state wins', async (t) => {
  const { f, q } = await setup(t);
  const r = recorder(40);
  const s = await RunState.follow(q, r.apply);
  t.strictSame(r.calls, [true], 'running at start');
  await f.conn.event('STOP');
  await until(() => r.calls.length === 2);
  // While "down" is being applied: up, down, up.
  await f.conn.event('RESUME');
  await f.conn.event('STOP');
  await f.conn.event('RESUME');
  await until(() => s.running === true);
  await s.settled();
  t.notOk(r.overlapped(), 'applies never overlap');
  t.equal(r.calls[r.calls.length - 1], true, 'the last apply is the newest state');
  t.ok(r.calls.length <= 4, `intermediate states coalesced (${r.calls.join(',')})`);
  t.equal(s.applied, true);
});

t.test('an event that arrives after the query-status reply supersedes it', async (t) => {
  const { q } = await setup(t, async (c, conn) => {
    if (c.execute !== 'query-status') return undefined;
    // The reply (running), then at once a STOP: both before follow looks.
    await conn.sendRaw(`${JSON.stringify({ ...status(true), id: c.id })}\r\n${JSON.stringify({ event: 'STOP', timestamp: { seconds: 1, microseconds: 0 } })}\r\n`);
    return 'none';
  });
  const r = recorder();
  const s = await RunState.follow(q, r.apply);
  await s.settled();
  t.equal(s.running, false);
  t.strictSame(r.calls, [false], 'applied once, with the newer word');
});

t.test('a failed apply is reported; the next event and resync() try again', async (t) => {
  const { f, q } = await setup(t);
  const r = recorder();
  r.failWith(new Error('EPERM-ish'));
  const errors: string[] = [];
  const s = await RunState.follow(q, r.apply, { onError: (e) => errors.push(e.message) });
  t.strictSame(errors, ['EPERM-ish'], 'follow resolves; the failure goes to onError');
  t.equal(s.applied, false);
  r.failWith(null);
  s.resync();
  await s.settled();
  t.equal(s.applied, true, 'resync applied it');
  t.strictSame(r.calls, [true, true]);
  r.failWith(new Error('again'));
  await f.conn.event('STOP');
  await until(() => errors.length === 2);
  t.equal(s.applied, false);
  r.failWith(null);
  await f.conn.event('RESUME');
  await until(() => s.applied);
  t.strictSame(r.calls, [true, true, false, true]);
});

t.test('query-status refused: follow rejects; the connection closing ends following', async (t) => {
  const { q } = await setup(t, (c) => (c.execute === 'query-status' ? { error: { class: 'GenericError', desc: 'no' } } : undefined));
  await t.rejects(RunState.follow(q, recorder().apply), { code: 'QMP_ERROR' });
  const { f, q: q2 } = await setup(t);
  const r = recorder();
  await RunState.follow(q2, r.apply);
  await f.conn.close();
  await until(() => q2.isClosed);
  t.ok(q2.isClosed);
  t.strictSame(r.calls, [true]);
});

t.test("Qmp.open: a monitor on a socket pair end; the fd is the connection's, also when it fails", async (t) => {
  const before = openFds();
  const [mine, theirs] = socketPair('stream');
  const peer = new net.Socket({ fd: theirs, readable: true, writable: true });
  let buf = '';
  peer.on('data', (d) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const cmd = JSON.parse(buf.slice(0, i)) as { execute: string; id: number };
      buf = buf.slice(i + 1);
      peer.write(`${JSON.stringify({ return: cmd.execute === 'query-status' ? { status: 'paused', running: false } : {}, id: cmd.id })}\r\n`);
    }
  });
  peer.write('{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}\r\n');
  const q = await Qmp.open(mine, { timeoutMs: 2000 });
  t.equal(q.version.major, 7);
  t.match(await q.queryStatus(), { running: false });
  await q.close();
  peer.destroy();
  await new Promise((r) => setTimeout(r, 20));
  t.strictSame(openFds(), before, 'both ends closed');

  const [a, b] = socketPair('stream');
  const silent = new net.Socket({ fd: b, readable: true, writable: true });
  await t.rejects(Qmp.open(a, { timeoutMs: 50 }), { code: 'ETIMEDOUT', message: /qmp fd \d+: no greeting within 50 ms/ });
  silent.destroy();
  await new Promise((r) => setTimeout(r, 20));
  t.strictSame(openFds(), before, 'closed after a failed handshake');
  await t.rejects(Qmp.open(-1), { code: 'INVALID_ARGUMENT', field: 'fd' });
});
