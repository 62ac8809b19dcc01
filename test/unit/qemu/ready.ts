// lib/qemu/ready.ts: the QMP socket netfd makes for qemu (listening before
// anyone accepts, mode 0600, a stale file replaced, netfd's fd closed, the
// file removed), and whenUp against the fake monitor with a stand-in child:
// up on greeting + capabilities + a post-init query-status, the ready hook
// on that connection, and a rejection as soon as qemu exits, fails to spawn,
// drops the connection or reports a state short of up; the timeout only as
// the upper bound.
import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { native } from '../../../lib/sys/native';
import { UnixSocket } from '../../../lib/sys/unixsock';
import { Qmp } from '../../../lib/qemu/qmp/commands';
import { QmpSocket, UP_STATES, whenUp } from '../../../lib/qemu/ready';
import { FakeHandler, FakeQmp } from '../../helpers/fake-qmp';
import { openFds } from '../../helpers/host';

/** What whenUp reads of a ChildProcess: exitCode, signalCode and the 'exit' and 'error' events. */
class FakeChild extends EventEmitter {
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    this.exitCode = code;
    this.signalCode = signal;
    this.emit('exit', code, signal);
  }
}
const asChild = (c: FakeChild) => c as unknown as ChildProcess;

function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-ready-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function fake(t: Test, o: { handler?: FakeHandler; greeting?: unknown } = {}): Promise<FakeQmp> {
  const f = await FakeQmp.start(o);
  t.teardown(() => f.stop());
  return f;
}

const statusIs =
  (status: string): FakeHandler =>
  (cmd) =>
    cmd.execute === 'query-status' ? { return: { status, running: status === 'running', singlestep: false } } : undefined;

t.test('QmpSocket: a listening stream socket, 0600, before anyone accepts; closeFd and unlink', async (t) => {
  const dir = tempDir(t);
  const before = openFds();
  const file = path.join(dir, 'vm.qmp');
  fs.writeFileSync(file, 'stale'); // what a dead qemu could leave
  const old = process.umask(0o022);
  let s: QmpSocket;
  try {
    s = QmpSocket.listen(file);
  } finally {
    process.umask(old);
  }
  t.equal(s.path, file);
  const st = fs.lstatSync(file);
  t.ok(st.isSocket(), 'the stale file is replaced by the socket');
  t.equal(st.mode & 0o777, 0o600, 'mode 0600');
  t.strictSame(native().socketInfo(s.fd), { family: 'unix', type: 'stream', listening: true });
  // Listening before anyone accepts: a connect completes at once (queued).
  const c = await UnixSocket.connect(file, 'stream');
  t.pass('connected while nobody accepts');
  c.close();
  const fd = s.fd;
  s.closeFd();
  t.equal(s.fd, -1, 'closed');
  t.notOk(openFds().includes(String(fd)), 'the fd is gone from this process');
  s.closeFd(); // twice is fine
  t.ok(fs.existsSync(file), 'closing the fd leaves the file (qemu holds its copy)');
  await t.rejects(UnixSocket.connect(file, 'stream'), { code: 'ECONNREFUSED' }, 'nobody holds the listener any more');
  s.unlink();
  t.notOk(fs.existsSync(file), 'unlink removes the file');
  s.unlink(); // twice is fine
  const s2 = QmpSocket.listen(file);
  s2.unlink();
  t.notOk(fs.existsSync(file), 'unlink closes the fd too');
  t.strictSame(openFds(), before, 'no fd leaked');
});

t.test('QmpSocket.listen: errors of the path', async (t) => {
  const dir = tempDir(t);
  t.throws(() => QmpSocket.listen(path.join(dir, 'no', 'such', 'vm.qmp')), { code: 'ENOENT', syscall: 'bind' });
  t.throws(() => QmpSocket.listen(path.join(dir, 'x'.repeat(200))), { code: 'ENAMETOOLONG' });
});

t.test('whenUp: greeting, capabilities, a post-init state; ready runs on that connection, which is closed after', async (t) => {
  const f = await fake(t, { handler: statusIs('prelaunch') });
  const child = new FakeChild();
  let seen: Qmp | null = null;
  await whenUp(f.path, asChild(child), {
    timeoutMs: 10_000,
    ready: async (q) => {
      seen = q;
      await q.queryPci();
    },
  });
  t.ok(seen, 'ready ran');
  t.ok((seen as unknown as Qmp).isClosed, 'the connection is closed after it');
  t.strictSame(
    f.conns[0].received.map((r) => r.cmd.execute),
    ['qmp_capabilities', 'query-status', 'query-pci'],
    'negotiated, asked the state, then ready',
  );
  t.equal(child.listenerCount('exit'), 0, 'no listener left on the child');
  t.equal(child.listenerCount('error'), 0);
});

t.test('whenUp: every up state counts; others are QEMU_FAILED', async (t) => {
  for (const status of UP_STATES) {
    const f = await fake(t, { handler: statusIs(status) });
    await whenUp(f.path, asChild(new FakeChild()), { timeoutMs: 10_000 });
    t.pass(status);
  }
  const f = await fake(t, { handler: statusIs('internal-error') });
  await t.rejects(whenUp(f.path, asChild(new FakeChild()), { timeoutMs: 10_000 }), { code: 'QEMU_FAILED', message: /answered QMP but is internal-error/ });
});

t.test('whenUp: qemu exiting before the greeting rejects at its exit event, not at the timeout', async (t) => {
  const f = await fake(t, { greeting: null }); // accepts, never greets
  const child = new FakeChild();
  const p = whenUp(f.path, asChild(child), { timeoutMs: 3_600_000 });
  setImmediate(() => child.exit(1));
  await t.rejects(p, { code: 'QEMU_FAILED', message: /qemu exited \(exit code 1\) before its QMP socket answered/ });
  t.equal(child.listenerCount('exit'), 0, 'no listener left on the child');

  const killed = new FakeChild();
  killed.exit(null, 'SIGKILL');
  await t.rejects(whenUp(f.path, asChild(killed), { timeoutMs: 3_600_000 }), { code: 'QEMU_FAILED', message: /killed by SIGKILL/ }, 'a qemu gone already');
});

t.test("whenUp: the child's spawn error rejects with it", async (t) => {
  const f = await fake(t, { greeting: null });
  const child = new FakeChild();
  const p = whenUp(f.path, asChild(child), { timeoutMs: 3_600_000 });
  const err = Object.assign(new Error('spawn qemu ENOENT'), { code: 'ENOENT', syscall: 'spawn qemu' });
  setImmediate(() => child.emit('error', err));
  await t.rejects(p, err);
});

t.test('whenUp: a dropped connection (qemu failing its init) rejects QMP_CLOSED; a silent one times out', async (t) => {
  const hangUp: FakeHandler = (cmd, conn) => {
    if (cmd.execute !== 'qmp_capabilities') return undefined;
    void conn.close();
    return 'none';
  };
  const drop = await fake(t, { handler: hangUp });
  await t.rejects(whenUp(drop.path, asChild(new FakeChild()), { timeoutMs: 3_600_000 }), { code: 'QMP_CLOSED' });
  const silent = await fake(t, { greeting: null });
  await t.rejects(whenUp(silent.path, asChild(new FakeChild()), { timeoutMs: 50 }), { code: 'ETIMEDOUT' });
});

t.test('whenUp: a throwing ready fails it, and the connection is closed', async (t) => {
  const f = await fake(t, { handler: statusIs('running') });
  let seen: Qmp | null = null;
  await t.rejects(
    whenUp(f.path, asChild(new FakeChild()), {
      timeoutMs: 10_000,
      ready: (q) => {
        seen = q;
        return Promise.reject(new Error('no addresses'));
      },
    }),
    { message: 'no addresses' },
  );
  t.ok((seen as unknown as Qmp).isClosed);
});
