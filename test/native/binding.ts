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

t.test('host-operation bindings refuse bad arguments with TypeErrors', async (t) => {
  const any = (f: unknown) => f as (o?: unknown) => unknown;
  const calls: [string, () => unknown][] = [
    ['linkSet mtu -1', () => b.linkSet({ link: 1, mtu: -1 })],
    ['linkSet mtu 2^32', () => b.linkSet({ link: 1, mtu: 2 ** 32 })],
    ['linkSet mtu string', () => any(b.linkSet)({ link: 1, mtu: '1500' })],
    ['linkSet mtu fraction', () => b.linkSet({ link: 1, mtu: 1500.5 })],
    ['bridgePortSet()', () => any(b.bridgePortSet)()],
    ['bridgePortSet link missing', () => any(b.bridgePortSet)({ isolated: true })],
    ['bridgePortSet isolated string', () => any(b.bridgePortSet)({ link: 1, isolated: 'on' })],
    ['bridgePortSet link object', () => any(b.bridgePortSet)({ link: {}, isolated: true })],
    ['bridgePortList array', () => any(b.bridgePortList)([])],
    ['bridgePortList netns number', () => any(b.bridgePortList)({ netns: 5 })],
    ['bridgeVlanAdd vid missing', () => any(b.bridgeVlanAdd)({ link: 1 })],
    ['bridgeVlanAdd vid 4096', () => b.bridgeVlanAdd({ link: 1, vid: 4096 })],
    ['bridgeVlanAdd vid -1', () => b.bridgeVlanAdd({ link: 1, vid: -1 })],
    ['bridgeVlanAdd vid NaN', () => b.bridgeVlanAdd({ link: 1, vid: NaN })],
    ['bridgeVlanAdd pvid string', () => any(b.bridgeVlanAdd)({ link: 1, vid: 5, pvid: 'yes' })],
    ['bridgeVlanAdd untagged number', () => any(b.bridgeVlanAdd)({ link: 1, vid: 5, untagged: 1 })],
    ['bridgeVlanDel vid string', () => any(b.bridgeVlanDel)({ link: 1, vid: '5' })],
    ['bridgeVlanDel long name', () => b.bridgeVlanDel({ link: 'x'.repeat(16), vid: 5 })],
    ['qdiscReplaceRoot kind empty', () => b.qdiscReplaceRoot({ link: 1, kind: '' })],
    ['qdiscReplaceRoot kind missing', () => any(b.qdiscReplaceRoot)({ link: 1 })],
    ['qdiscReplaceRoot kind long', () => b.qdiscReplaceRoot({ link: 1, kind: 'q'.repeat(16) })],
    ['qdiscReplaceRoot kind NUL', () => b.qdiscReplaceRoot({ link: 1, kind: 'no\0queue' })],
    ['qdiscReplaceRoot link 0', () => b.qdiscReplaceRoot({ link: 0, kind: 'noqueue' })],
    ['qdiscList()', () => any(b.qdiscList)()],
    ['coalesceGet link missing', () => any(b.coalesceGet)({})],
    ['coalesceSet rxMaxFrames -1', () => b.coalesceSet({ link: 1, rxMaxFrames: -1 })],
    ['coalesceSet rxMaxFrames 2^32', () => b.coalesceSet({ link: 1, rxMaxFrames: 2 ** 32 })],
    ['coalesceSet rxMaxFrames bool', () => any(b.coalesceSet)({ link: 1, rxMaxFrames: true })],
    ['addrAdd address missing', () => any(b.addrAdd)({ link: 1, prefix: 24 })],
    ['addrAdd address not an IP', () => b.addrAdd({ link: 1, address: 'example.org', prefix: 24 })],
    ['addrAdd address with prefix', () => b.addrAdd({ link: 1, address: '192.0.2.1/24', prefix: 24 })],
    ['addrAdd prefix missing', () => any(b.addrAdd)({ link: 1, address: '192.0.2.1' })],
    ['addrAdd prefix 33 on IPv4', () => b.addrAdd({ link: 1, address: '192.0.2.1', prefix: 33 })],
    ['addrAdd prefix 129 on IPv6', () => b.addrAdd({ link: 1, address: '2001:db8::1', prefix: 129 })],
    ['addrAdd peer of the other family', () => b.addrAdd({ link: 1, address: '192.0.2.1', prefix: 32, peer: '2001:db8::2' })],
    ['addrAdd broadcast garbage', () => b.addrAdd({ link: 1, address: '192.0.2.1', prefix: 24, broadcast: 'x' })],
    ['addrList family', () => any(b.addrList)({ family: 'ipx' })],
    ['routeAdd protocol missing', () => any(b.routeAdd)({ link: 1, address: '198.51.100.0', prefix: 24 })],
    ['routeAdd protocol 256', () => b.routeAdd({ link: 1, address: '198.51.100.0', prefix: 24, protocol: 256 })],
    ['routeAdd gateway of the other family', () => b.routeAdd({ link: 1, address: '198.51.100.0', prefix: 24, gateway: 'fe80::1', protocol: 3 })],
    ['routeAdd metric -2', () => b.routeAdd({ link: 1, address: '198.51.100.0', prefix: 24, metric: -2, protocol: 3 })],
    ['routeAdd link missing', () => any(b.routeAdd)({ address: '198.51.100.0', prefix: 24, protocol: 3 })],
    ['routeList family number', () => any(b.routeList)({ family: 2 })],
    ['nlEncode newaddr without address', () => b.nlEncode('newaddr', { link: 1, prefix: 24 })],
    ['nlEncode newroute bad gateway', () => b.nlEncode('newroute', { link: 1, address: '198.51.100.0', prefix: 24, gateway: 'nope' })],
    ['nlEncode bridgevlan-add vid 70000', () => b.nlEncode('bridgevlan-add', { link: 1, vid: 70000 })],
    ['nlEncode dumpaddrs family', () => b.nlEncode('dumpaddrs', { family: 'x' as 'inet' })],
  ];
  for (const [name, fn] of calls) t.throws(fn, TypeError, name);
});

t.test('host-operation bindings report namespace errors Node-style', async (t) => {
  await t.rejects(b.coalesceGet({ netns: '/nonexistent/ns', link: 'tap0' }), { code: 'ENOENT', message: /network namespace \/nonexistent\/ns/ });
  await t.rejects(b.coalesceSet({ netns: '/dev/null', link: 'tap0', rxMaxFrames: 1 }), { code: 'EINVAL', syscall: 'setns' });
  await t.rejects(b.qdiscList({ netns: '/nonexistent/ns' }), { code: 'ENOENT' });
  await t.rejects(b.bridgePortList({ netns: '/nonexistent/ns' }), { code: 'ENOENT' });
  await t.rejects(b.addrList({ netns: '/nonexistent/ns' }), { code: 'ENOENT' });
  await t.rejects(b.routeList({ netns: '/dev/null' }), { code: 'EINVAL', syscall: 'setns' });
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
