// lib/qemu/qmp/commands.ts: what each typed command sends, its argument
// checks, getfd / closefd with a real fd, deviceDelAndWait and query-pci,
// against a fake monitor (test/helpers/fake-qmp.ts). With
// qemu-system-x86_64 installed, the same against a real qemu (-machine none).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Qmp } from '../../../../lib/qemu/qmp/commands';
import { connectFake, sameFile, tempFile } from '../../../helpers/fake-qmp';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-qmp-test-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

t.test('deviceDelAndWait: the DEVICE_DELETED for the id, before or after the reply', async (t) => {
  for (const eventFirst of [false, true]) {
    const { f, q } = await connectFake(t, { deviceDelEventFirst: eventFirst });
    // A stale event from an earlier device with the same id must not count.
    await q.execute('event-then-reply', { event: 'DEVICE_DELETED', data: { device: 'nic0', path: '/machine/peripheral/nic0' } });
    const ev = await q.deviceDelAndWait('nic0', 1000);
    t.match(ev, { event: 'DEVICE_DELETED', data: { device: 'nic0', path: '/machine/peripheral/nic0' } }, `event first: ${eventFirst}`);
    t.ok(ev.seq > 1, 'not the stale one');
    t.same(f.conn.received.at(-1)?.cmd.arguments, { id: 'nic0' });
  }
  const { q } = await connectFake(t, { handler: (cmd) => (cmd.execute === 'device_del' ? { error: { class: 'DeviceNotFound', desc: "Device 'x' not found" } } : undefined) });
  await t.rejects(q.deviceDelAndWait('x', 1000), { code: 'QMP_ERROR', errorClass: 'DeviceNotFound' });
});

t.test('convenience commands send what qemu expects', async (t) => {
  const { f, q } = await connectFake(t);
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

t.test('query-pci: the reply as qemu sent it, no arguments', async (t) => {
  const { f, q } = await connectFake(t);
  await q.deviceAdd({ driver: 'virtio-net-pci', id: 'nic0' });
  t.match(await q.queryPci(), [{ bus: 0, devices: [{ slot: 2, function: 0, qdev_id: 'nic0' }] }]);
  t.notOk('arguments' in f.conn.received.at(-1)!.cmd);
  await t.rejects(q.queryPci({ timeoutMs: -1 }), { code: 'INVALID_ARGUMENT', field: 'timeoutMs' });
});

t.test('fd passing: the server receives the same file, with the right command', async (t) => {
  const { f, q } = await connectFake(t);
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
