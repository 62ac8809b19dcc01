// launchDomain with a real qemu (stopped with -S, no guest needed): exactly
// the prepared fds reach qemu, teardown when qemu dies, a qemu that fails
// to start or a refused policy leaves nothing behind, and a block disk (a
// loop device the test makes) reaches qemu as its host_device.
import fs from 'node:fs';
import path from 'node:path';
import t, { Test } from 'tap';
import { launchDomain } from '../../lib/qemu/launch';
import { Qmp } from '../../lib/qemu/qmp/commands';
import { fdTable, inheritedFds, needsRoot, run, withNetns, linkNames, scratchDir } from '../helpers/host';

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
