// The binding itself: bad arguments throw TypeError (never crash), errors
// carry code/errno/syscall, fds passed over SCM_RIGHTS arrive owned.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { native } from '../../lib/sys/native';
import { recvFds, sendFds, socketPair, peerCred, closeFd } from '../../lib/sys/fdpass';
import { VhostFds, vhostDevicePath } from '../../lib/sys/vhost';
import { openFds } from '../helpers/host';

const b = native();

t.test('bad arguments are TypeErrors', async (t) => {
  const calls: [string, () => unknown][] = [
    ['createMacvtap()', () => (b.createMacvtap as unknown as () => unknown)()],
    ['createMacvtap kind', () => b.createMacvtap({ kind: 'veth' as 'macvtap', parent: 1, mode: 2 })],
    ['createMacvtap parent', () => b.createMacvtap({ kind: 'macvtap', parent: {} as unknown as number, mode: 2 })],
    ['createMacvtap mode', () => b.createMacvtap({ kind: 'macvtap', parent: 1, mode: -1 })],
    ['createMacvtap mode missing', () => (b.createMacvtap as (o: object) => unknown)({ kind: 'macvtap', parent: 1 })],
    ['createMacvtap long name', () => b.createMacvtap({ kind: 'macvtap', parent: 1, mode: 2, name: 'x'.repeat(16) })],
    ['createMacvtap mac', () => b.createMacvtap({ kind: 'macvtap', parent: 1, mode: 2, mac: 'zz' })],
    ['createMacvtap NUL', () => b.createMacvtap({ kind: 'macvtap', parent: 1, mode: 2, name: 'a\0b' })],
    ['getLink array', () => (b.getLink as (o: unknown) => unknown)([1])],
    ['getLink index 0', () => b.getLink({ link: 0 })],
    ['deleteLinks', () => b.deleteLinks({ indexes: [1, 'x' as unknown as number] })],
    ['setLink up', () => b.setLink({ link: 1, up: 'yes' as unknown as boolean })],
    ['createTap queues', () => b.createTap({ queues: 0 })],
    ['createTap queues 257', () => b.createTap({ queues: 257 })],
    ['createTap owner', () => b.createTap({ owner: -5 })],
    ['openMacvtap link', () => (b.openMacvtap as (o: object) => unknown)({})],
    ['openVhost path', () => b.openVhost({ path: '' })],
    ['openVhost count', () => b.openVhost({ path: '/dev/null', count: 1000 })],
    ['close', () => b.close(-1)],
    ['nlEncode op', () => b.nlEncode('nope' as 'getlink')],
    ['nlDecode', () => b.nlDecode('x' as unknown as Buffer)],
    ['socketPair', () => b.socketPair('dgram' as 'stream')],
  ];
  for (const [name, fn] of calls) t.throws(fn, TypeError, name);
});

t.test('host-operation bindings refuse bad arguments with TypeErrors', async (t) => {
  const any = (f: unknown) => f as (o?: unknown) => unknown;
  const calls: [string, () => unknown][] = [
    ['setLink mtu -1', () => b.setLink({ link: 1, mtu: -1 })],
    ['setLink mtu 2^32', () => b.setLink({ link: 1, mtu: 2 ** 32 })],
    ['setLink mtu string', () => any(b.setLink)({ link: 1, mtu: '1500' })],
    ['setLink mtu fraction', () => b.setLink({ link: 1, mtu: 1500.5 })],
    ['setBridgePort()', () => any(b.setBridgePort)()],
    ['setBridgePort link missing', () => any(b.setBridgePort)({ isolated: true })],
    ['setBridgePort isolated string', () => any(b.setBridgePort)({ link: 1, isolated: 'on' })],
    ['setBridgePort link object', () => any(b.setBridgePort)({ link: {}, isolated: true })],
    ['listBridgePorts array', () => any(b.listBridgePorts)([])],
    ['listBridgePorts netns number', () => any(b.listBridgePorts)({ netns: 5 })],
    ['addBridgeVlan vid missing', () => any(b.addBridgeVlan)({ link: 1 })],
    ['addBridgeVlan vid 4096', () => b.addBridgeVlan({ link: 1, vid: 4096 })],
    ['addBridgeVlan vid -1', () => b.addBridgeVlan({ link: 1, vid: -1 })],
    ['addBridgeVlan vid NaN', () => b.addBridgeVlan({ link: 1, vid: NaN })],
    ['addBridgeVlan pvid string', () => any(b.addBridgeVlan)({ link: 1, vid: 5, pvid: 'yes' })],
    ['addBridgeVlan untagged number', () => any(b.addBridgeVlan)({ link: 1, vid: 5, untagged: 1 })],
    ['deleteBridgeVlan vid string', () => any(b.deleteBridgeVlan)({ link: 1, vid: '5' })],
    ['deleteBridgeVlan long name', () => b.deleteBridgeVlan({ link: 'x'.repeat(16), vid: 5 })],
    ['setRootQdisc kind empty', () => b.setRootQdisc({ link: 1, kind: '' })],
    ['setRootQdisc kind missing', () => any(b.setRootQdisc)({ link: 1 })],
    ['setRootQdisc kind long', () => b.setRootQdisc({ link: 1, kind: 'q'.repeat(16) })],
    ['setRootQdisc kind NUL', () => b.setRootQdisc({ link: 1, kind: 'no\0queue' })],
    ['setRootQdisc link 0', () => b.setRootQdisc({ link: 0, kind: 'noqueue' })],
    ['listQdiscs()', () => any(b.listQdiscs)()],
    ['getCoalesce link missing', () => any(b.getCoalesce)({})],
    ['setCoalesce rxMaxFrames -1', () => b.setCoalesce({ link: 1, rxMaxFrames: -1 })],
    ['setCoalesce rxMaxFrames 2^32', () => b.setCoalesce({ link: 1, rxMaxFrames: 2 ** 32 })],
    ['setCoalesce rxMaxFrames bool', () => any(b.setCoalesce)({ link: 1, rxMaxFrames: true })],
    ['addAddress address missing', () => any(b.addAddress)({ link: 1, prefix: 24 })],
    ['addAddress address not an IP', () => b.addAddress({ link: 1, address: 'example.org', prefix: 24 })],
    ['addAddress address with prefix', () => b.addAddress({ link: 1, address: '192.0.2.1/24', prefix: 24 })],
    ['addAddress prefix missing', () => any(b.addAddress)({ link: 1, address: '192.0.2.1' })],
    ['addAddress prefix 33 on IPv4', () => b.addAddress({ link: 1, address: '192.0.2.1', prefix: 33 })],
    ['addAddress prefix 129 on IPv6', () => b.addAddress({ link: 1, address: '2001:db8::1', prefix: 129 })],
    ['addAddress peer of the other family', () => b.addAddress({ link: 1, address: '192.0.2.1', prefix: 32, peer: '2001:db8::2' })],
    ['addAddress broadcast garbage', () => b.addAddress({ link: 1, address: '192.0.2.1', prefix: 24, broadcast: 'x' })],
    ['listAddresses family', () => any(b.listAddresses)({ family: 'ipx' })],
    ['addRoute protocol missing', () => any(b.addRoute)({ link: 1, address: '198.51.100.0', prefix: 24 })],
    ['addRoute protocol 256', () => b.addRoute({ link: 1, address: '198.51.100.0', prefix: 24, protocol: 256 })],
    ['addRoute gateway of the other family', () => b.addRoute({ link: 1, address: '198.51.100.0', prefix: 24, gateway: 'fe80::1', protocol: 3 })],
    ['addRoute metric -2', () => b.addRoute({ link: 1, address: '198.51.100.0', prefix: 24, metric: -2, protocol: 3 })],
    ['addRoute link missing', () => any(b.addRoute)({ address: '198.51.100.0', prefix: 24, protocol: 3 })],
    ['listRoutes family number', () => any(b.listRoutes)({ family: 2 })],
    ['nlEncode newaddr without address', () => b.nlEncode('newaddr', { link: 1, prefix: 24 })],
    ['nlEncode newroute bad gateway', () => b.nlEncode('newroute', { link: 1, address: '198.51.100.0', prefix: 24, gateway: 'nope' })],
    ['nlEncode bridgevlan-add vid 70000', () => b.nlEncode('bridgevlan-add', { link: 1, vid: 70000 })],
    ['nlEncode dumpaddrs family', () => b.nlEncode('dumpaddrs', { family: 'x' as 'inet' })],
  ];
  for (const [name, fn] of calls) t.throws(fn, TypeError, name);
});

t.test('host-operation bindings report namespace errors Node-style', async (t) => {
  await t.rejects(b.getCoalesce({ netns: '/nonexistent/ns', link: 'tap0' }), { code: 'ENOENT', message: /network namespace \/nonexistent\/ns/ });
  await t.rejects(b.setCoalesce({ netns: '/dev/null', link: 'tap0', rxMaxFrames: 1 }), { code: 'EINVAL', syscall: 'open', message: /not a namespace file/ });
  await t.rejects(b.listQdiscs({ netns: '/nonexistent/ns' }), { code: 'ENOENT' });
  await t.rejects(b.listBridgePorts({ netns: '/nonexistent/ns' }), { code: 'ENOENT' });
  await t.rejects(b.listAddresses({ netns: '/nonexistent/ns' }), { code: 'ENOENT' });
  await t.rejects(b.listRoutes({ netns: '/dev/null' }), { code: 'EINVAL', syscall: 'open', message: /not a namespace file/ });
});

t.test('system errors carry code, errno and syscall', async (t) => {
  await t.rejects(b.openVhost({ path: '/nonexistent/vhost-net' }), { code: 'ENOENT', errno: -2, syscall: 'open' });
  await t.rejects(b.getLink({ netns: '/nonexistent/ns', link: 1 }), { code: 'ENOENT', message: /network namespace \/nonexistent\/ns/ });
  await t.rejects(b.getLink({ netns: '/dev/null', link: 1 }), { code: 'EINVAL', syscall: 'open', message: /not a namespace file/ }, 'not a namespace');
  t.throws(() => b.close(987654), { code: 'EBADF', errno: -9, syscall: 'close' });
});

t.test('vhost-net on this host, and a stand-in device', async (t) => {
  t.equal(vhostDevicePath(undefined, {}), '/dev/vhost-net');
  t.equal(vhostDevicePath(undefined, { NETFD_VHOST_DEVICE: '/tmp/x' }), '/tmp/x', 'env NETFD_VHOST_DEVICE');
  t.equal(vhostDevicePath('/dev/y', { NETFD_VHOST_DEVICE: '/tmp/x' }), '/dev/y', 'the option wins');
  if (!fs.existsSync('/dev/vhost-net')) {
    // The real path on this machine: the kernel has no vhost-net.
    await t.rejects(VhostFds.open({ device: '/dev/vhost-net' }), { code: 'ENOENT', hint: /modprobe vhost_net/ }, 'real ENOENT here');
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
