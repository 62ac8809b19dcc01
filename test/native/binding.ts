// The binding itself: bad arguments throw TypeError (never crash), errors
// carry code/errno/syscall, fds passed over SCM_RIGHTS arrive owned.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { native } from '../../lib/native';
import { recvFds, sendFds, socketPair, peerCred, closeFd } from '../../lib/fdpass';
import { VhostFds, vhostDevicePath } from '../../lib/vhost';
import { openFds } from '../helpers/host';

const b = native();

t.test('bad arguments are TypeErrors', async (t) => {
  const calls: [string, () => unknown][] = [
    ['linkCreate()', () => (b.linkCreate as unknown as () => unknown)()],
    ['linkCreate kind', () => b.linkCreate({ kind: 'veth' as 'macvtap', parent: 1, mode: 2 })],
    ['linkCreate parent', () => b.linkCreate({ kind: 'macvtap', parent: {} as unknown as number, mode: 2 })],
    ['linkCreate mode', () => b.linkCreate({ kind: 'macvtap', parent: 1, mode: -1 })],
    ['linkCreate mode missing', () => (b.linkCreate as (o: object) => unknown)({ kind: 'macvtap', parent: 1 })],
    ['linkCreate long name', () => b.linkCreate({ kind: 'macvtap', parent: 1, mode: 2, name: 'x'.repeat(16) })],
    ['linkCreate mac', () => b.linkCreate({ kind: 'macvtap', parent: 1, mode: 2, mac: 'zz' })],
    ['linkCreate NUL', () => b.linkCreate({ kind: 'macvtap', parent: 1, mode: 2, name: 'a\0b' })],
    ['linkGet array', () => (b.linkGet as (o: unknown) => unknown)([1])],
    ['linkGet index 0', () => b.linkGet({ link: 0 })],
    ['linkDeleteMany', () => b.linkDeleteMany({ indexes: [1, 'x' as unknown as number] })],
    ['linkSet up', () => b.linkSet({ link: 1, up: 'yes' as unknown as boolean })],
    ['tapCreate queues', () => b.tapCreate({ queues: 0 })],
    ['tapCreate queues 257', () => b.tapCreate({ queues: 257 })],
    ['tapCreate owner', () => b.tapCreate({ owner: -5 })],
    ['macvtapOpen link', () => (b.macvtapOpen as (o: object) => unknown)({})],
    ['vhostOpen path', () => b.vhostOpen({ path: '' })],
    ['vhostOpen count', () => b.vhostOpen({ path: '/dev/null', count: 1000 })],
    ['fdSend data', () => b.fdSend(0, 'x' as unknown as Buffer)],
    ['fdSend fds', () => b.fdSend(0, Buffer.from('x'), [-1])],
    ['fdRecv maxFds', () => b.fdRecv(0, 10, 1000)],
    ['close', () => b.close(-1)],
    ['nlEncode op', () => b.nlEncode('nope' as 'getlink')],
    ['nlDecode', () => b.nlDecode('x' as unknown as Buffer)],
    ['socketPair', () => b.socketPair('dgram' as 'stream')],
  ];
  for (const [name, fn] of calls) t.throws(fn, TypeError, name);
});

t.test('system errors carry code, errno and syscall', async (t) => {
  await t.rejects(b.vhostOpen({ path: '/nonexistent/vhost-net' }), { code: 'ENOENT', errno: -2, syscall: 'open' });
  await t.rejects(b.linkGet({ netns: '/nonexistent/ns', link: 1 }), { code: 'ENOENT', message: /network namespace \/nonexistent\/ns/ });
  await t.rejects(b.linkGet({ netns: '/dev/null', link: 1 }), { code: 'EINVAL', syscall: 'setns' }, 'not a namespace');
  t.throws(() => b.close(987654), { code: 'EBADF', errno: -9, syscall: 'close' });
});

t.test('vhost-net on this host, and a stand-in device', async (t) => {
  t.equal(vhostDevicePath(undefined, {}), '/dev/vhost-net');
  t.equal(vhostDevicePath(undefined, { NETFD_VHOST_DEVICE: '/tmp/x' }), '/tmp/x', 'env NETFD_VHOST_DEVICE');
  t.equal(vhostDevicePath('/dev/y', { NETFD_VHOST_DEVICE: '/tmp/x' }), '/dev/y', 'the option wins');
  if (!fs.existsSync('/dev/vhost-net')) {
    // The real path on this machine: the kernel has no vhost-net.
    await t.rejects(VhostFds.open({ device: '/dev/vhost-net' }), { code: 'ENOENT', message: /modprobe vhost_net/ }, 'real ENOENT here');
  }
  // A stand-in: a char device that opens read-write but is not vhost-net
  // (so VHOST_GET_FEATURES fails and features stay null).
  const before = openFds();
  const v = await VhostFds.open({ device: '/dev/null', count: 3 });
  t.equal(v.fds.length, 3, 'three fds');
  t.equal(v.features, null, 'no VHOST_GET_FEATURES answer from a stand-in');
  for (const fd of v.fds) t.ok(fs.fstatSync(fd).isCharacterDevice());
  v.close();
  v.close();
  t.same(openFds(), before, 'closed, once');
});

t.test('fds pass over SCM_RIGHTS and arrive close-on-exec', async (t) => {
  const before = openFds();
  const [a, c] = socketPair();
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-')), 'f');
  fs.writeFileSync(file, 'hello');
  const fd = fs.openSync(file, 'r');
  t.equal(await sendFds(a, 'payload', [fd, fd]), 7);
  const got = await recvFds(c, 100, 4, 1000);
  t.equal(got.data.toString(), 'payload');
  t.equal(got.fds.length, 2);
  const buf = Buffer.alloc(5);
  fs.readSync(got.fds[0], buf, 0, 5, 0);
  t.equal(buf.toString(), 'hello', 'the received fd is the file');
  const flags = fs.readFileSync(`/proc/self/fdinfo/${got.fds[0]}`, 'utf8').match(/flags:\s+(\d+)/)![1];
  t.ok(parseInt(flags, 8) & 0o2000000, 'O_CLOEXEC set on received fds');
  const me = peerCred(c);
  t.same(me, { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() }, 'SO_PEERCRED');
  // More fds than expected: an error, and nothing leaks.
  await sendFds(a, 'x', [fd, fd, fd]);
  await t.rejects(recvFds(c, 100, 1, 1000), { code: 'ECTRUNC' });
  // A longer message than expected is an error too.
  await sendFds(a, 'toolong');
  await t.rejects(recvFds(c, 3, 0, 1000), { code: 'EMSGSIZE' });
  await t.rejects(recvFds(c, 10, 1, 50), { code: 'ETIMEDOUT' }, 'timeout');
  await t.rejects(sendFds(a, Buffer.alloc(0)), { code: 'EINVAL' }, 'empty payload');
  for (const f of [...got.fds, fd, a, c]) closeFd(f);
  fs.rmSync(path.dirname(file), { recursive: true });
  t.same(openFds(), before, 'no fd leaked');
});
