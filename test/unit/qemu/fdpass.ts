// One named group of fds for qemu (lib/qemu/fdpass.ts): on the command line
// it takes spawn slots and qemu's arguments name it by number; over QMP each
// fd goes with getfd under its name, and what qemu got is closed again
// (closefd) when a step fails. Against the fake QMP monitor, which really
// receives the fds.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { Test } from 'tap';
import { CommandFds, FdPass, nicFds } from '../../../lib/qemu/fdpass';
import { Qmp } from '../../../lib/qemu/qmp/commands';
import { FakeHandler, FakeQmp } from '../../helpers/fake-qmp';

function files(t: Test, n: number): number[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-fdpass-'));
  const fds = Array.from({ length: n }, (_, i) => {
    fs.writeFileSync(path.join(dir, `f${i}`), String(i));
    return fs.openSync(path.join(dir, `f${i}`), 'r');
  });
  t.teardown(() => {
    for (const fd of fds) fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return fds;
}

async function setup(t: Test, handler?: FakeHandler): Promise<{ f: FakeQmp; q: Qmp }> {
  const f = await FakeQmp.start(handler ? { handler } : {});
  const q = await Qmp.connect(f.path, { timeoutMs: 2000 });
  t.teardown(async () => {
    await q.close();
    await f.stop();
  });
  return { f, q };
}

const sameFile = (a: number, b: number) => {
  const x = fs.fstatSync(a);
  const y = fs.fstatSync(b);
  return x.dev === y.dev && x.ino === y.ino;
};

t.test('on the command line: the next spawn slots, numbered from 3', async (t) => {
  const cmd = new CommandFds();
  const nic = nicFds('net0', [40, 41], [42, 43]);
  t.equal(nic.tap.name, 'net0-tapfd');
  t.same(nic.tap.toCommand(cmd), [3, 4], 'fds=3:4');
  t.same(nic.vhost.toCommand(cmd), [5, 6], 'vhostfds=5:6');
  t.same(new FdPass('netfd-mon', [50]).toCommand(cmd), [7], 'fd=7');
  t.same(new FdPass('none', []).toCommand(cmd), [], 'an empty group takes no slot');
  t.same(cmd.fds, [40, 41, 42, 43, 50], 'slot order');
  t.same(cmd.stdio(['ignore', 'inherit', 'pipe']), ['ignore', 'inherit', 'pipe', 40, 41, 42, 43, 50], "spawn's stdio: fd k at 3 + k");
  const other = new CommandFds(10);
  t.same(new FdPass('x', [1, 2]).toCommand(other), [10, 11], 'another first slot');
  t.throws(() => other.stdio(['ignore', 'ignore', 'ignore']), RangeError, 'stdio slots start at 3');
  t.throws(() => nic.tap.toCommand(cmd), /already given to qemu/, 'a group goes to qemu once');
});

t.test('over QMP: getfd per fd under name0, name1, …; taken by a command', async (t) => {
  const { f, q } = await setup(t);
  const fds = files(t, 2);
  const p = new FdPass('net0-tapfd', fds);
  t.same(p.names, ['net0-tapfd0', 'net0-tapfd1']);
  t.same(await p.toMonitor(q), ['net0-tapfd0', 'net0-tapfd1']);
  t.ok(sameFile(f.conn.named.get('net0-tapfd0') as number, fds[0]), 'qemu got fd 0 as net0-tapfd0');
  t.ok(sameFile(f.conn.named.get('net0-tapfd1') as number, fds[1]), 'and fd 1 as net0-tapfd1');
  t.ok(
    fds.every((fd) => fs.fstatSync(fd).isFile()),
    "the caller's copies stay open: their owner closes them",
  );
  await t.rejects(p.toMonitor(q), /already given to qemu/);
  p.taken(); // netdev_add consumed them
  await p.rollback(q);
  t.same([...f.conn.named.keys()].sort(), ['net0-tapfd0', 'net0-tapfd1'], 'taken: nothing is closed on rollback');
  t.notOk(
    f.conn.received.some((r) => r.cmd.execute === 'closefd'),
    'no closefd sent',
  );
});

t.test('rollback: a failed getfd closes what qemu got before; a later failure closes all', async (t) => {
  const { f, q } = await setup(t, (cmd) => (cmd.execute === 'getfd' && cmd.arguments?.fdname === 'net1-vhostfd2' ? { error: { class: 'GenericError', desc: 'no more fds' } } : undefined));
  const fds = files(t, 3);
  const p = new FdPass('net1-vhostfd', fds);
  await t.rejects(p.toMonitor(q), { code: 'QMP_ERROR', message: /no more fds/ }, "getfd's error is rethrown");
  const closed = f.conn.received.filter((r) => r.cmd.execute === 'closefd').map((r) => r.cmd.arguments?.fdname);
  t.same(closed, ['net1-vhostfd0', 'net1-vhostfd1'], 'closefd for each fd qemu got');
  t.same(f.conn.named.size, 0, 'qemu holds none of them');
  await p.rollback(q);
  t.equal(f.conn.received.filter((r) => r.cmd.execute === 'closefd').length, 2, 'a second rollback sends nothing');

  // All given, then the command that should take them fails: rollback closes them all.
  const ok = new FdPass('net2-tapfd', fds.slice(0, 2));
  await ok.toMonitor(q);
  t.equal(f.conn.named.size, 2);
  await ok.rollback(q);
  t.same(f.conn.named.size, 0, 'rolled back');
  t.ok(
    fds.every((fd) => fs.fstatSync(fd).isFile()),
    "the caller's copies are still its own",
  );
});

t.test('rollback ignores a closefd that fails (qemu may be gone)', async (t) => {
  const { f, q } = await setup(t, (cmd) => (cmd.execute === 'closefd' ? { error: { class: 'GenericError', desc: 'gone' } } : undefined));
  const p = new FdPass('net3-tapfd', files(t, 1));
  await p.toMonitor(q);
  await p.rollback(q);
  t.ok(
    f.conn.received.some((r) => r.cmd.execute === 'closefd'),
    'closefd was asked',
  );
});
