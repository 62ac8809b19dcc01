// libvirt's <interface> settings applied on real devices in a scratch
// namespace, checked with iproute2's own JSON (ip -d -j link, bridge -j -d
// link, tc -j qdisc, ip -j addr/route): MTU (a bridged tap takes the
// bridge's), isolated ports, coalescing, a type='ethernet' tap's addresses
// and routes, noqueue on every device netfd makes, <script>/<downscript>;
// <vlan> refused by name on a bridge that does not filter VLANs (this
// kernel has no CONFIG_BRIDGE_VLAN_FILTERING). A real qemu (-S, no guest)
// takes every argument the same interfaces give it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { Test } from 'tap';
import { getCoalesce } from '../../lib/sys/coalesce';
import { prepareDomain } from '../../lib/qemu/domain';
import { launchDomain } from '../../lib/qemu/launch';
import { Qmp } from '../../lib/qemu/qmp/commands';
import { ip, ipLinks, needsRoot, run, withNetns } from '../helpers/host';

function tmpDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-ifhost-'));
  fs.chmodSync(dir, 0o755);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const names = (ns: string) =>
  ipLinks(ns)
    .map((l) => l.ifname)
    .sort();
const json = <T>(args: string[]): T => JSON.parse(run(args[0], args.slice(1))) as T;
const link = (ns: string, dev: string) => json<{ mtu: number }[]>(['ip', '-n', ns, '-d', '-j', 'link', 'show', 'dev', dev])[0];
const qdisc = (ns: string, dev: string) => json<{ kind: string; root?: boolean }[]>(['tc', '-n', ns, '-j', 'qdisc', 'show', 'dev', dev]).find((q) => q.root)?.kind;

const domain = (name: string, ifaces: string) => `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><devices>${ifaces}</devices></domain>`;

t.test('MTU, isolated port, coalescing, host addresses and routes, noqueue and scripts on real devices; nothing left after teardown', { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t);
  const dir = tmpDir(t);
  const log = path.join(dir, 'scripts.log');
  const script = path.join(dir, 'up.sh');
  const downscript = path.join(dir, 'down.sh');
  fs.writeFileSync(script, `#!/bin/sh\necho "up $1" >> ${log}\n`, { mode: 0o755 });
  fs.writeFileSync(downscript, `#!/bin/sh\necho "down $1" >> ${log}\n`, { mode: 0o755 });
  await withNetns(t, async (ns) => {
    ip(['-n', ns, 'link', 'add', 'br0', 'address', '02:00:00:00:b0:00', 'mtu', '9000', 'type', 'bridge']);
    ip(['-n', ns, 'link', 'set', 'br0', 'up']);
    ip(['-n', ns, 'link', 'set', 'v0', 'mtu', '9000']);
    const before = names(ns);
    const xml = domain(
      'host',
      `<interface type='bridge'><source bridge='br0'/><model type='virtio'/></interface>
       <interface type='bridge'><source bridge='br0'/><model type='virtio'/><mtu size='1400'/><port isolated='yes'/><coalesce><rx><frames max='7'/></rx></coalesce></interface>
       <interface type='ethernet'><model type='virtio'/><source><ip address='192.0.2.1' prefix='24'/><route address='198.51.100.0' prefix='24' gateway='192.0.2.2'/></source>
         <script path='${script}'/><downscript path='${downscript}'/></interface>
       <interface type='direct'><source dev='v0' mode='bridge'/><model type='virtio'/><mtu size='8000'/></interface>`,
    );
    const p = await prepareDomain(xml, { netns: ns, stateDir, vhostDevice: '/nonexistent/vhost-net' });
    const [plain, tuned, eth, mvt] = p.interfaces.map((i) => i.name);
    t.equal(link(ns, plain).mtu, 9000, `${plain}: no <mtu>, on br0: the bridge's MTU, as libvirt`);
    t.equal(link(ns, tuned).mtu, 1400, `${tuned}: <mtu size='1400'>`);
    t.equal(link(ns, mvt).mtu, 8000, `${mvt}: the macvtap's MTU`);
    const ports = json<{ ifname: string; isolated?: boolean }[]>(['bridge', '-n', ns, '-j', '-d', 'link', 'show']);
    t.equal(ports.find((x) => x.ifname === tuned)?.isolated, true, `${tuned}: bridge port isolated`);
    t.equal(ports.find((x) => x.ifname === plain)?.isolated, false, `${plain}: not isolated`);
    t.equal((await getCoalesce(tuned, { netns: ns })).rxMaxFrames, 7, `${tuned}: rx-frames 7`);
    const addrs = json<{ ifname: string; addr_info: { local: string; prefixlen: number }[] }[]>(['ip', '-n', ns, '-j', 'addr', 'show', 'dev', eth]);
    t.same(
      addrs[0].addr_info.filter((a) => a.local === '192.0.2.1').map((a) => a.prefixlen),
      [24],
      `${eth}: 192.0.2.1/24`,
    );
    const routes = json<{ dst: string; gateway?: string; dev: string; metric?: number }[]>(['ip', '-n', ns, '-j', 'route', 'show', 'dev', eth]);
    t.match(
      routes.find((r) => r.dst === '198.51.100.0/24'),
      { gateway: '192.0.2.2', metric: 1 },
      `${eth}: the route via 192.0.2.2 (metric 1, as libvirt)`,
    );
    for (const dev of [plain, tuned, eth, mvt]) t.equal(qdisc(ns, dev), 'noqueue', `${dev}: noqueue root qdisc, as libvirt`);
    t.equal(fs.readFileSync(log, 'utf8'), `up ${eth}\n`, '<script> ran with the device name');
    const argv = p.argv().join(' ');
    t.match(argv, /id=net3,mac=[0-9a-f:]+,host_mtu=8000/, 'host_mtu for the virtio guest');
    await p.teardown();
    t.equal(fs.readFileSync(log, 'utf8'), `up ${eth}\ndown ${eth}\n`, '<downscript> ran after teardown');
    t.same(names(ns), before, 'every device is gone');
    t.same(
      json<{ dst: string }[]>(['ip', '-n', ns, '-j', 'route']).filter((r) => r.dst === '198.51.100.0/24'),
      [],
      'and its route',
    );
  });
});

t.test('refused before any change: <vlan> on a bridge that does not filter VLANs, <mtu> above the parent, a failing script', { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t);
  const dir = tmpDir(t);
  const failing = path.join(dir, 'fail.sh');
  fs.writeFileSync(failing, '#!/bin/sh\necho "no network for $1" >&2\nexit 3\n', { mode: 0o755 });
  await withNetns(t, async (ns) => {
    ip(['-n', ns, 'link', 'add', 'br0', 'address', '02:00:00:00:b0:00', 'type', 'bridge']);
    ip(['-n', ns, 'link', 'set', 'br0', 'up']);
    const before = names(ns);
    const ok = "<interface type='bridge'><source bridge='br0'/><model type='virtio'/></interface>";
    await t.rejects(prepareDomain(domain('v', ok + "<interface type='bridge'><source bridge='br0'/><model type='virtio'/><vlan><tag id='42'/></vlan></interface>"), { netns: ns, stateDir }), {
      code: 'NOT_SUPPORTED',
      field: '/domain/devices/interface[2]/vlan',
      message: /bridge br0 does not filter VLANs/,
    });
    t.same(names(ns), before, 'no device made');
    await t.rejects(
      prepareDomain(domain('m', ok + "<interface type='direct'><source dev='v0' mode='bridge'/><model type='virtio'/><mtu size='9000'/></interface>"), { netns: ns, stateDir }),
      { code: 'EINVAL' },
      'the kernel refuses a macvtap MTU above its parent',
    );
    t.same(names(ns), before, 'the first interface was undone too');
    await t.rejects(prepareDomain(domain('s', `<interface type='ethernet'><model type='virtio'/><script path='${failing}'/></interface>`), { netns: ns, stateDir }), {
      code: 'SCRIPT_FAILED',
      field: '/domain/devices/interface/script/@path',
      message: /exit 3.*no network for vnet\d+/,
    });
    t.same(names(ns), before, "the script's tap is gone");
    t.same(fs.readdirSync(stateDir), [], 'no state written');
  });
});

t.test('qemu 7.2 takes every device argument <interface> gives (offloads, rss, host_mtu, sndbuf, boot order, option ROM, PCI address)', { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t);
  await withNetns(t, async (ns) => {
    ip(['-n', ns, 'link', 'add', 'br0', 'address', '02:00:00:00:b0:00', 'type', 'bridge']);
    ip(['-n', ns, 'link', 'set', 'br0', 'up']);
    const xml = `<domain type='qemu'><name>opts</name><memory unit='MiB'>64</memory><os><type machine='pc'>hvm</type></os><devices>
      <interface type='bridge'><source bridge='br0'/><model type='ViRtIo'/>
        <driver queues='2' rss='on' rss_hash_report='on'><host csum='off' tso4='off' mrg_rxbuf='off'/><guest csum='off' ufo='off'/></driver>
        <mtu size='1400'/><tune><sndbuf>1600</sndbuf></tune><boot order='1'/><rom bar='off'/>
        <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/></interface>
      <interface type='ethernet'><model type='e1000'/><rom enabled='no'/><address type='pci' bus='0' slot='8' function='0'/></interface>
    </devices></domain>`;
    const l = await launchDomain(xml, { netns: ns, stateDir, stdio: 'pipe', extraArgs: ['-S'] });
    t.teardown(() => void l.child.kill('SIGKILL'));
    const q = await Qmp.connect(l.qmp);
    const pci = ((await q.execute('query-pci')) as { devices: { slot: number; qdev_id: string }[] }[])[0].devices;
    t.equal(pci.find((d) => d.qdev_id === 'net0')?.slot, 7, 'net0 at slot 7');
    t.equal(pci.find((d) => d.qdev_id === 'net1')?.slot, 8, 'net1 at slot 8');
    const prop = async (id: string, name: string) => q.execute('qom-get', { path: `/machine/peripheral/${id}`, property: name });
    t.equal(await prop('net0', 'host_mtu'), 1400);
    t.equal(await prop('net0', 'rss'), true);
    t.equal(await prop('net0', 'csum'), false);
    t.equal(await prop('net0', 'guest_ufo'), false);
    t.equal(await prop('net0', 'bootindex'), 1);
    t.equal(await prop('net0', 'rombar'), 0);
    t.equal(await prop('net1', 'romfile'), '');
    await q.close();
    l.child.kill('SIGKILL');
    await l.exited;
  });
});
