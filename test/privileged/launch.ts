// launchDomain with a real qemu (stopped with -S, no guest needed): exactly
// the prepared fds reach qemu, teardown when qemu dies, a qemu that fails
// to start or a refused policy leaves nothing behind, and a block disk (a
// loop device the test makes) reaches qemu as its host_device. The QMP
// socket is netfd's: bound before qemu ran and handed to it as an fd, never
// left open in netfd, answering, hotplug through it, and removed at the end.
import fs from 'node:fs';
import path from 'node:path';
import t, { Test } from 'tap';
import { attachInterface } from '../../lib/qemu/hotplug';
import { launchDomain } from '../../lib/qemu/launch';
import { Qmp } from '../../lib/qemu/qmp/commands';
import { fdTable, inheritedFds, needsRoot, openFds, run, withNetns, linkNames, scratchDir } from '../helpers/host';

const XML = `<domain type='qemu'><name>fdcheck</name><memory unit='MiB'>64</memory><devices>
  <interface type='ethernet'><model type='virtio'/></interface>
  <interface type='direct'><source dev='v0' mode='bridge'/><model type='virtio'/><driver queues='2'/></interface>
</devices></domain>`;

t.test('qemu holds exactly the prepared fds; SIGKILL tears the domain down', { skip: needsRoot }, async (t) => {
  const stateDir = scratchDir(t, 'netfd-launch-');
  await withNetns(t, async (ns) => {
    const before = linkNames(ns);
    const l = await launchDomain(XML, { netns: ns, stateDir, stdio: 'pipe', extraArgs: ['-S'] });
    t.teardown(() => void l.child.kill('SIGKILL'));
    t.same(linkNames(ns), [...before, 'macvtap0', 'vnet0'].sort(), 'devices exist while qemu runs');
    t.same(fs.readdirSync(stateDir).sort(), ['fdcheck.inactive', 'fdcheck.pid', 'fdcheck.qmp', 'fdcheck.xml']);
    t.same(l.domain.qemuFds(), [], "netfd closed its copies: qemu's are the only ones");

    // The QMP socket exists before machine init ends (qemu may still be
    // reading firmware files): a QMP answer means init is over.
    const q = await Qmp.connect(l.qmp);
    await q.queryStatus();
    await q.close();
    const fds = fdTable(l.pid);
    const ours = fds.filter(([, target]) => target === '/dev/net/tun' || /(^|\/)tap\d+$/.test(target));
    t.same(
      ours.map(([fd]) => fd),
      [3, 4, 5],
      'the tap queue at 3, the two macvtap queues at 4 and 5, as in the argv',
    );
    t.equal(ours[0][1], '/dev/net/tun');
    t.match(l.argv.join(' '), /-netdev tap,id=hostnet0,fd=3,vhost=off .* -netdev tap,id=hostnet1,fds=4:5,vhost=off/);
    // Everything else qemu holds is its own: stdio, eventfds, its QMP socket
    // (and what this process inherited without close-on-exec, see inheritedFds).
    const inherited = inheritedFds();
    const foreign = fds.filter(([fd, target]) => fd > 5 && !/^(anon_inode:|socket:)/.test(target) && !inherited.has(fd));
    t.same(foreign, [], 'no other fd of netfd reached qemu');
    if (inherited.size) t.comment(`fds this test inherited without close-on-exec, passed on by spawn: ${[...inherited].join(', ')}`);

    const killedAt = Date.now();
    l.child.kill('SIGKILL');
    const e = await l.exited;
    t.equal(e.signal, 'SIGKILL');
    t.ok(Date.now() - killedAt < 2000, `torn down ${Date.now() - killedAt} ms after SIGKILL`);
    t.same(linkNames(ns), before, 'host links gone');
    t.same(fs.readdirSync(stateDir), [], 'live XML, pid and QMP socket removed');
  });
});

t.test('a qemu that fails to start, and a refused policy, leave nothing behind', { skip: needsRoot }, async (t) => {
  const stateDir = scratchDir(t, 'netfd-launch-');
  await withNetns(t, async (ns) => {
    const before = linkNames(ns);
    await t.rejects(launchDomain(XML, { netns: ns, stateDir, stdio: 'pipe', extraArgs: ['-no-such-option'] }), { code: 'QEMU_FAILED', message: /exit code 1\): .*no-such-option/ });
    t.same(linkNames(ns), before);
    t.same(fs.readdirSync(stateDir), []);
    await t.rejects(launchDomain(XML, { netns: ns, stateDir, stdio: 'pipe', qemu: '/nonexistent/qemu' }), { code: 'QEMU_FAILED', message: /not found/ });
    t.same(linkNames(ns), before);
    const vhost = XML.replace("<driver queues='2'/>", "<driver name='vhost' queues='2'/>");
    await t.rejects(
      launchDomain(vhost, { netns: ns, stateDir, stdio: 'pipe', vhostDevice: '/nonexistent/vhost-net' }),
      { code: 'VHOST_UNAVAILABLE' },
      "name='vhost' without vhost-net: refused before qemu starts",
    );
    t.same(linkNames(ns), before);
    t.same(fs.readdirSync(stateDir), []);
  });
});

/** A loop device over a small temporary file, detached at teardown (also when the test fails). */
function loopDevice(t: Test): string {
  const backing = path.join(scratchDir(t, 'netfd-launch-'), 'disk.img');
  fs.writeFileSync(backing, Buffer.alloc(0));
  fs.truncateSync(backing, 8 * 1024 * 1024);
  const dev = run('losetup', ['--find', '--show', backing]).trim();
  t.teardown(() => {
    run('losetup', ['--detach', dev]);
  });
  t.match(dev, /^\/dev\/loop\d+$/);
  return dev;
}

const blockXml = (dev: string, dev2 = dev) => `<domain type='qemu'><name>blockdisk</name><memory unit='MiB'>64</memory><devices>
  <disk type='block' device='disk'>
    <driver name='qemu' type='raw' cache='none' io='native' discard='unmap' error_policy='stop'/>
    <source dev='${dev}'/>
    <target dev='vda' bus='virtio'/>
  </disk>
  <disk type='block'><source dev='${dev2}'/><target dev='hda' bus='ide'/><address type='drive' controller='0' bus='1' target='0' unit='0'/><readonly/></disk>
  <interface type='ethernet'><model type='virtio'/></interface>
</devices></domain>`;

t.test('a block disk on a real block device: qemu opens it with host_device', { skip: needsRoot }, async (t) => {
  const stateDir = scratchDir(t, 'netfd-launch-');
  const dev = loopDevice(t);
  const dev2 = loopDevice(t);
  await withNetns(t, async (ns) => {
    const before = linkNames(ns);
    // An IDE hard disk cannot be read-only: refused before anything is made.
    await t.rejects(launchDomain(blockXml(dev, dev2), { netns: ns, stateDir, stdio: 'pipe', extraArgs: ['-S'] }), { code: 'NOT_SUPPORTED', field: '/domain/devices/disk[2]/readonly' });
    t.same(linkNames(ns), before);
    // One device for two read-write disks: qemu's image lock refuses, and launch says so.
    await t.rejects(launchDomain(blockXml(dev).replace('<readonly/>', ''), { netns: ns, stateDir, stdio: 'pipe', extraArgs: ['-S'] }), { code: 'QEMU_FAILED', message: /Failed to get "write" lock/ });
    t.same(linkNames(ns), before, 'nothing left behind');
    t.same(fs.readdirSync(stateDir), []);
    const xml = blockXml(dev, dev2).replace('<readonly/>', '');
    const l = await launchDomain(xml, { netns: ns, stateDir, stdio: 'pipe', extraArgs: ['-S'] });
    t.teardown(() => void l.child.kill('SIGKILL'));
    t.ok(
      l.argv.includes(`file=${dev},file.driver=host_device,format=raw,if=virtio,index=0,werror=stop,rerror=stop,cache=none,discard=unmap,aio=native`),
      'the -drive libvirt would give, the device by host_device',
    );
    t.ok(l.argv.includes(`file=${dev2},file.driver=host_device,format=raw,if=ide,index=2`), 'drive address 0.1.0 is IDE index 2');
    const q = await Qmp.connect(l.qmp);
    t.teardown(() => q.close());
    const nodes = (await q.execute('query-named-block-nodes')) as { drv: string; file: string; ro: boolean }[];
    const protocol = nodes.filter((n) => n.drv === 'host_device');
    t.same(
      protocol.map((n) => [n.file, n.ro]).sort(),
      [
        [dev, false],
        [dev2, false],
      ].sort(),
      'both disks are their block devices, opened by host_device, read-write',
    );
    const blocks = (await q.execute('query-block')) as { device: string; inserted?: { file: string; drv: string; cache: { direct: boolean } } }[];
    const vda = blocks.find((b) => b.inserted?.file === dev && b.inserted.cache.direct);
    t.ok(vda, "cache='none': O_DIRECT (cache.direct) on the virtio disk");
    const held = fdTable(l.pid).map(([, target]) => target);
    t.ok(held.includes(dev) && held.includes(dev2), `qemu holds ${dev} and ${dev2} open`);
    await q.close();
    l.child.kill('SIGKILL');
    await l.exited;
    t.same(linkNames(ns), before, 'torn down');
    t.same(fs.readdirSync(stateDir), []);
  });
});

t.test("type='block' on a regular file: qemu's own refusal, nothing left behind", { skip: needsRoot }, async (t) => {
  const stateDir = scratchDir(t, 'netfd-launch-');
  const file = path.join(scratchDir(t, 'netfd-launch-'), 'not-a-device.img');
  fs.writeFileSync(file, Buffer.alloc(1024 * 1024));
  await withNetns(t, async (ns) => {
    const before = linkNames(ns);
    const xml = blockXml(file).replace(/<disk type='block'><source[^]*?<\/disk>/, '');
    await t.rejects(launchDomain(xml, { netns: ns, stateDir, stdio: 'pipe', extraArgs: ['-S'] }), {
      code: 'QEMU_FAILED',
      message: /'host_device' driver requires .* to be either a character or block device/,
    });
    t.same(linkNames(ns), before);
    t.same(fs.readdirSync(stateDir), []);
  });
});

/** The inode of the listening unix socket bound at `file` (/proc/net/unix of this namespace), or null. */
function listenerInode(file: string): string | null {
  for (const line of fs.readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // Num RefCount Protocol Flags(00010000: __SO_ACCEPTCON) Type St Inode Path
    if (f[7] === file && parseInt(f[3], 16) & 0x10000) return f[6];
  }
  return null;
}

t.test("the QMP socket netfd made and handed to qemu: qemu's only, answering, hotplug through it, gone after", { skip: needsRoot }, async (t) => {
  const stateDir = scratchDir(t, 'netfd-launch-');
  const xml = `<domain type='qemu'><name>qmpfd</name><memory unit='MiB'>64</memory><devices>
    <interface type='direct'><source dev='v0' mode='bridge'/><model type='virtio'/></interface></devices></domain>`;
  await withNetns(t, async (ns) => {
    const before = linkNames(ns);
    const l = await launchDomain(xml, { netns: ns, stateDir, stdio: 'pipe', extraArgs: ['-S'] });
    t.teardown(() => void l.child.kill('SIGKILL'));
    t.equal(l.qmp, path.join(stateDir, 'qmpfd.qmp'));
    t.notOk(l.argv.includes('-qmp'), 'no -qmp: qemu binds nothing');
    // The macvtap at 3, netfd's own monitor (macvtaps follow the vCPUs) at 4, the QMP socket at 5.
    t.match(l.argv.join(' '), / -chardev socket,id=netfd-qmp,fd=5,server=on,wait=off -mon chardev=netfd-qmp,mode=control -chardev socket,id=netfd-mon,fd=4 /);
    t.equal(fs.lstatSync(l.qmp).mode & 0o777, 0o600, 'the socket file is 0600');
    const inode = listenerInode(l.qmp);
    t.ok(inode, 'a socket listens at the path');
    t.same(
      fdTable(l.pid).find(([fd]) => fd === 5),
      [5, `socket:[${inode}]`],
      "qemu's fd 5 is that listener",
    );
    t.notOk(
      fdTable('self').some(([, target]) => target === `socket:[${inode}]`),
      'the listening fd is not left open in this process',
    );

    const q = await Qmp.connect(l.qmp);
    t.same((await q.queryStatus()).status, 'prelaunch', 'query-status over the fd-passed socket');
    await q.close();
    const again = await Qmp.connect(l.qmp);
    t.ok(again, 'and again: qemu listens on after a client left');
    await again.close();

    const a = await attachInterface('qmpfd', `<interface type='ethernet'><model type='virtio'/></interface>`, { stateDir, netns: ns });
    t.match(a, { alias: 'net1' }, 'hotplug through it');
    t.ok(
      fdTable(l.pid).some(([, target]) => target === '/dev/net/tun'),
      'qemu got the hotplugged tap',
    );

    l.child.kill('SIGKILL');
    await l.exited;
    t.same(linkNames(ns), before, 'torn down');
    t.notOk(fs.existsSync(l.qmp), 'the socket file is removed (qemu, killed, could not)');
    t.same(fs.readdirSync(stateDir), []);
  });
});

t.test('a qemu that quits by itself: the socket file is gone, no fd of netfd left', { skip: needsRoot }, async (t) => {
  const stateDir = scratchDir(t, 'netfd-launch-');
  const xml = `<domain type='qemu'><name>quits</name><memory unit='MiB'>64</memory><devices>
    <interface type='ethernet'><model type='virtio'/></interface></devices></domain>`;
  await withNetns(t, async (ns) => {
    const before = openFds();
    const l = await launchDomain(xml, { netns: ns, stateDir, stdio: 'pipe', extraArgs: ['-S'], macvtapLinks: 'up' });
    t.teardown(() => void l.child.kill('SIGKILL'));
    const added = openFds()
      .filter((fd) => !before.includes(fd))
      .map((fd) => fs.readlinkSync(`/proc/self/fd/${fd}`));
    // Node's stdio pipes are socket pairs: three, none of them the QMP listener.
    t.equal(added.length, 3, "with no monitor of netfd's own, launch leaves open here only qemu's stdin, stdout and stderr");
    t.notOk(added.includes(`socket:[${listenerInode(l.qmp)}]`), 'not the QMP listener');
    const q = await Qmp.connect(l.qmp);
    await q.quit();
    const e = await l.exited;
    t.same(e, { code: 0, signal: null }, 'qemu exited by itself');
    t.notOk(fs.existsSync(l.qmp), 'the socket file is gone');
    t.same(fs.readdirSync(stateDir), []);
    t.same(openFds(), before, 'no fd of netfd left');
  });
});

t.test('a QMP socket path too long to bind: QEMU_FAILED before qemu runs, nothing left behind', { skip: needsRoot }, async (t) => {
  const stateDir = path.join(scratchDir(t, 'netfd-launch-'), 'd'.repeat(100));
  fs.mkdirSync(stateDir);
  const xml = `<domain type='qemu'><name>longpath</name><memory unit='MiB'>64</memory><devices>
    <interface type='ethernet'><model type='virtio'/></interface></devices></domain>`;
  await withNetns(t, async (ns) => {
    const before = linkNames(ns);
    await t.rejects(launchDomain(xml, { netns: ns, stateDir, stdio: 'pipe' }), { code: 'QEMU_FAILED', message: /its QMP socket .*longpath\.qmp could not be made: .*1 to 107 bytes/ });
    t.same(linkNames(ns), before, 'the tap is gone');
    t.same(fs.readdirSync(stateDir), [], 'no state left');
  });
});
