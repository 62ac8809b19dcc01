// End to end: real qemu (TCG) booting the test guest on fds netfd prepared,
// in a private namespace with a bridge and veth peers. The guest reports on
// its serial console (NETFD-* markers, see scripts/guest-image.sh).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { Test } from 'tap';
import { launchDomain, LaunchedDomain } from '../../lib/qemu/launch';
import { Qmp } from '../../lib/qemu/qmp/commands';
import * as guest from '../../scripts/guest';
import { inheritedFds, ipLinks, needsRoot, run, withNetns } from '../helpers/host';
import { linkNames, qemuFds } from '../helpers/e2e';

const img = needsRoot ? null : guest.image({ quiet: true });

function tmpDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-e2e-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const names = linkNames;

/** Boots the guest; returns it with its console. qemu is killed if the test ends first. */
async function boot(t: Test, ns: string, stateDir: string, name: string, nics: guest.Nic[], params: Record<string, string | number>) {
  const xml = guest.domainXml({ name, image: img as guest.GuestImage, nics, params });
  const l = await launchDomain(xml, { netns: ns, stateDir, stdio: 'pipe' });
  t.teardown(async () => {
    l.child.kill('SIGKILL');
    await l.exited;
  });
  const console = new guest.Console(l.child.stdout as NodeJS.ReadableStream as never);
  return { l, console };
}

/** SIGKILL qemu: its host links and state files go within 2 s. */
async function killAndCheck(t: Test, l: LaunchedDomain, ns: string, before: string[], stateDir: string) {
  const at = Date.now();
  l.child.kill('SIGKILL');
  await l.exited;
  const took = Date.now() - at;
  t.ok(took < 2000, `torn down ${took} ms after SIGKILL`);
  t.same(names(ns), before, 'the host links are gone');
  t.same(fs.readdirSync(stateDir), [], 'live XML, pid file and QMP socket removed');
}

t.test('a multiqueue virtio tap on a bridge: both queues enabled, the guest pings the peer, qemu holds exactly its fds', { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t);
  await withNetns(
    t,
    async (ns) => {
      const net = guest.addPeers(ns);
      const before = names(ns);
      const { l, console } = await boot(t, ns, stateDir, 'mq', [{ type: 'bridge', queues: 2 }], { ip0: `${net.bridgeSubnet}.2/24`, peer0: net.bridgePeer, queues0: 2, hold: 1 });
      t.match(l.argv.join(' '), /-netdev tap,id=hostnet0,fds=3:4,vhost=off -device virtio-net-pci,netdev=hostnet0,id=net0,mac=[0-9a-f:]+,mq=on,vectors=6/);

      const fds = await qemuFds(l);
      const taps = fds.filter(([, target]) => target === '/dev/net/tun');
      t.same(
        taps.map(([fd]) => fd),
        [3, 4],
        'the two tap queues at 3 and 4, as in the argv',
      );
      for (const [fd] of taps) t.match(fs.readFileSync(`/proc/${l.pid}/fdinfo/${fd}`, 'utf8'), /^iff:\s+vnet0$/m, `fd ${fd} is a queue of vnet0`);
      t.same(
        fds.filter(([fd, target]) => fd > 4 && !/^(anon_inode:|socket:)/.test(target) && !inheritedFds().has(fd)),
        [],
        'nothing else of netfd reached qemu (the rest is eventfds and sockets, and what this test inherited)',
      );
      t.ok(names(ns).includes('vnet0'), 'vnet0 exists while qemu runs');

      t.match((await console.wait(/^NETFD-QUEUES eth0/)).text, 'rx=2 tx=2', 'the guest enabled both queues (ethtool -L combined 2)');
      t.match((await console.wait(/^NETFD-PING-(OK|FAIL) eth0/)).text, `NETFD-PING-OK eth0 ${net.bridgePeer} recv=3/3`, 'the guest pings the peer through the bridge');
      await killAndCheck(t, l, ns, before, stateDir);
    },
    { bridge: true },
  );
});

t.test('a macvtap in bridge mode: the guest pings the peer; SIGKILL removes the macvtap', { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t);
  await withNetns(
    t,
    async (ns) => {
      const net = guest.addPeers(ns);
      const before = names(ns);
      const { l, console } = await boot(t, ns, stateDir, 'mvt', [{ type: 'direct', mode: 'bridge' }], { ip0: `${net.macvtapSubnet}.2/24`, peer0: net.macvtapPeer, hold: 1 });
      const fds = await qemuFds(l);
      const ifindex = ipLinks(ns).find((x) => x.ifname === 'macvtap0')?.ifindex;
      t.match(fds.find(([fd]) => fd === 3)?.[1], new RegExp(`tap${ifindex}( \\(deleted\\))?$`), `fd 3 is macvtap0's character device (tap${ifindex})`);
      t.same(
        fds.filter(([fd, target]) => fd > 3 && !/^(anon_inode:|socket:)/.test(target) && !inheritedFds().has(fd)),
        [],
        'nothing else of netfd reached qemu',
      );
      t.match((await console.wait(/^NETFD-PING-(OK|FAIL) eth0/)).text, `NETFD-PING-OK eth0 ${net.macvtapPeer} recv=3/3`, 'the guest pings the peer through the macvtap');
      const live = fs.readFileSync(path.join(stateDir, 'mvt.xml'), 'utf8');
      t.match(live, /<target dev="macvtap0"\/>/);
      t.match(live, /<driver name="qemu"\/>/, 'no vhost-net here: the live XML records the userspace choice');
      // A macvtap outlives qemu's fds: only the supervisor's teardown removes it.
      await killAndCheck(t, l, ns, before, stateDir);
    },
    { bridge: true },
  );
});

t.test('a guest started paused on a macvtap takes no traffic (the macvtap is down), then pings once its vCPUs run', { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t);
  await withNetns(t, async (ns) => {
    const net = guest.addPeers(ns);
    const before = names(ns);
    const xml = guest.domainXml({
      name: 'paused',
      image: img as guest.GuestImage,
      nics: [{ type: 'direct', mode: 'bridge' }],
      params: { ip0: `${net.macvtapSubnet}.2/24`, peer0: net.macvtapPeer, hold: 1 },
    });
    const l = await launchDomain(xml, { netns: ns, stateDir, stdio: 'pipe', extraArgs: ['-S'] });
    t.teardown(async () => {
      l.child.kill('SIGKILL');
      await l.exited;
    });
    const console = new guest.Console(l.child.stdout as NodeJS.ReadableStream as never);
    t.equal(l.runState?.running, false, 'qemu -S: the vCPUs do not run');
    const mvt = () => JSON.parse(run('ip', ['-n', ns, '-s', '-j', 'link', 'show', 'dev', 'macvtap0']))[0] as { flags: string[]; stats64: { rx: { packets: number; dropped: number } } };
    t.notOk(mvt().flags.includes('UP'), 'the macvtap is down while the guest is paused');
    // The peer sends to the guest's MAC: a macvtap that is up takes such
    // frames into its queue for the guest to read once it runs (5 counted in
    // rx with macvtapLinks 'up'); a down one is not in the parent's table.
    const guestIp = `${net.macvtapSubnet}.2`;
    run('ip', ['-n', ns, 'neigh', 'replace', guestIp, 'lladdr', l.domain.interfaces[0].plan.mac, 'dev', net.macvtapPeerDev, 'nud', 'permanent']);
    const send = "const s=require('dgram').createSocket('udp4');let n=0;const go=()=>s.send('x',9,process.argv[1],()=>{if(++n<5)go();else s.close()});go()";
    const sent = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', send, guestIp], { encoding: 'utf8' });
    t.equal(sent.status, 0, `5 datagrams sent to the guest ${sent.stderr}`);
    t.same([mvt().stats64.rx.packets, mvt().stats64.rx.dropped], [0, 0], 'nothing reached the paused guest');
    run('ip', ['-n', ns, 'neigh', 'del', guestIp, 'dev', net.macvtapPeerDev]);
    t.same(console.lines, [], 'and it printed nothing');
    const q = await Qmp.connect(l.qmp);
    await q.execute('cont');
    await q.close();
    t.match((await console.wait(/^NETFD-PING-(OK|FAIL) eth0/)).text, `NETFD-PING-OK eth0 ${net.macvtapPeer} recv=3/3`, 'after cont the macvtap is up and the guest pings the peer');
    t.ok(mvt().flags.includes('UP'));
    await killAndCheck(t, l, ns, before, stateDir);
  });
});

t.test('an e1000 guest reaches the peer too (through the same kind of tap fd, without vnet header)', { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t);
  await withNetns(
    t,
    async (ns) => {
      const net = guest.addPeers(ns);
      const before = names(ns);
      const { l, console } = await boot(t, ns, stateDir, 'e1k', [{ type: 'bridge', model: 'e1000' }], { ip0: `${net.bridgeSubnet}.3/24`, peer0: net.bridgePeer });
      t.match(l.argv.join(' '), /-device e1000,netdev=hostnet0,id=net0,/);
      t.match((await console.wait(/^NETFD-PING-(OK|FAIL) eth0/)).text, `NETFD-PING-OK eth0 ${net.bridgePeer} recv=3/3`);
      await console.wait(/^NETFD-POWEROFF/);
      const e = await l.exited;
      t.same(e, { code: 0, signal: null }, 'the guest powered off; qemu exited 0');
      t.same(names(ns), before, 'and the domain was torn down');
      t.same(fs.readdirSync(stateDir), []);
    },
    { bridge: true },
  );
});

t.test("<driver name='vhost'> on this host (no /dev/vhost-net): refused before qemu starts, nothing left", { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t);
  await withNetns(
    t,
    async (ns) => {
      guest.addPeers(ns);
      const before = names(ns);
      const xml = guest.domainXml({ name: 'vh', image: img as guest.GuestImage, nics: [{ type: 'bridge' }, { type: 'direct', driver: 'vhost' }] });
      const exists = fs.existsSync('/dev/vhost-net');
      // On KVM (--accel kvm; refused before qemu would start): the device is missing.
      await t.rejects(launchDomain(xml, { netns: ns, stateDir, stdio: 'pipe', accel: 'kvm', vhostDevice: exists ? '/nonexistent/vhost-net' : undefined }), {
        code: 'VHOST_UNAVAILABLE',
        field: '/domain/devices/interface[2]/driver/@name',
        message: /ENOENT.*refusing to start/,
      });
      // This guest as written (TCG): vhost-net needs KVM, whatever the device.
      await t.rejects(launchDomain(xml, { netns: ns, stateDir, stdio: 'pipe', vhostDevice: '/dev/null' }), {
        code: 'VHOST_UNAVAILABLE',
        field: '/domain/devices/interface[2]/driver/@name',
        message: /runs without KVM.*refusing to start/,
      });
      t.same(names(ns), before, 'no tap or macvtap was created');
      t.same(fs.readdirSync(stateDir), [], 'no state written');
    },
    { bridge: true },
  );
});
