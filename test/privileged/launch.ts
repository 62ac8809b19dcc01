// launchDomain with a real qemu (stopped with -S, no guest needed): exactly
// the prepared fds reach qemu, teardown when qemu dies, and a qemu that fails
// to start or a refused policy leaves nothing behind.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { Test } from 'tap';
import { launchDomain } from '../../lib/qemu/launch';
import { Qmp } from '../../lib/qemu/qmp';
import { ipLinks, needsRoot, withNetns } from '../helpers/host';

const XML = `<domain type='qemu'><name>fdcheck</name><memory unit='MiB'>64</memory><devices>
  <interface type='ethernet'><model type='virtio'/></interface>
  <interface type='direct'><source dev='v0' mode='bridge'/><model type='virtio'/><driver queues='2'/></interface>
</devices></domain>`;

function tmpDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-launch-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const names = (ns: string) => ipLinks(ns).map((l) => l.ifname).sort();

t.test('qemu holds exactly the prepared fds; SIGKILL tears the domain down', { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t);
  await withNetns(t, async (ns) => {
    const before = names(ns);
    const l = await launchDomain(XML, { netns: ns, stateDir, stdio: 'pipe', extraArgs: ['-S'] });
    t.teardown(() => void l.child.kill('SIGKILL'));
    t.same(names(ns), [...before, 'macvtap0', 'vnet0'].sort(), 'devices exist while qemu runs');
    t.same(fs.readdirSync(stateDir).sort(), ['fdcheck.inactive', 'fdcheck.pid', 'fdcheck.qmp', 'fdcheck.xml']);
    t.same(l.domain.qemuFds(), [], "netfd closed its copies: qemu's are the only ones");

    // The QMP socket exists before machine init ends (qemu may still be
    // reading firmware files): a QMP answer means init is over.
    const q = await Qmp.connect(l.qmp);
    await q.queryStatus();
    await q.close();
    const fdDir = `/proc/${l.pid}/fd`;
    const fds = fs.readdirSync(fdDir).map(Number).sort((a, b) => a - b).map((fd) => [fd, fs.readlinkSync(`${fdDir}/${fd}`)] as const);
    const ours = fds.filter(([, target]) => target === '/dev/net/tun' || /(^|\/)tap\d+$/.test(target));
    t.same(ours.map(([fd]) => fd), [3, 4, 5], 'the tap queue at 3, the two macvtap queues at 4 and 5, as in the argv');
    t.equal(ours[0][1], '/dev/net/tun');
    t.match(l.argv.join(' '), /-netdev tap,id=hostnet0,fd=3,vhost=off .* -netdev tap,id=hostnet1,fds=4:5,vhost=off/);
    // Everything else qemu holds is its own: stdio, eventfds, its QMP socket.
    const foreign = fds.filter(([fd, target]) => fd > 5 && !/^(anon_inode:|socket:)/.test(target));
    t.same(foreign, [], 'no other fd of netfd (or of its parent) reached qemu');

    const killedAt = Date.now();
    l.child.kill('SIGKILL');
    const e = await l.exited;
    t.equal(e.signal, 'SIGKILL');
    t.ok(Date.now() - killedAt < 2000, `torn down ${Date.now() - killedAt} ms after SIGKILL`);
    t.same(names(ns), before, 'host links gone');
    t.same(fs.readdirSync(stateDir), [], 'live XML, pid and QMP socket removed');
  });
});

t.test('a qemu that fails to start, and a refused policy, leave nothing behind', { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t);
  await withNetns(t, async (ns) => {
    const before = names(ns);
    await t.rejects(launchDomain(XML, { netns: ns, stateDir, stdio: 'pipe', extraArgs: ['-no-such-option'] }), { code: 'QEMU_FAILED', message: /exit code 1\): .*no-such-option/ });
    t.same(names(ns), before);
    t.same(fs.readdirSync(stateDir), []);
    await t.rejects(launchDomain(XML, { netns: ns, stateDir, stdio: 'pipe', qemu: '/nonexistent/qemu' }), { code: 'QEMU_FAILED', message: /not found/ });
    t.same(names(ns), before);
    const vhost = XML.replace("<driver queues='2'/>", "<driver name='vhost' queues='2'/>");
    await t.rejects(launchDomain(vhost, { netns: ns, stateDir, stdio: 'pipe', vhostDevice: '/nonexistent/vhost-net' }), { code: 'VHOST_UNAVAILABLE' }, "name='vhost' without vhost-net: refused before qemu starts");
    t.same(names(ns), before);
    t.same(fs.readdirSync(stateDir), []);
  });
});
