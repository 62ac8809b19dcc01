// CLI parsing and output. Everything here fails before any host change, so
// it runs without privileges.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { run } from '../helpers/host';
import { formatLink, main, usage } from '../../lib/cli/main';
import type { LinkInfo } from '../../lib/sys/link';

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

t.test('help and unknown verbs', async (t) => {
  t.match(await cli('--help'), { code: 0, out: usage });
  t.match(await cli('link', 'show', '--help'), { code: 0, out: /link show/ });
  t.match(await cli(), { code: 2 });
  t.match(await cli('frobnicate'), { code: 2, err: /unknown command 'frobnicate'/ });
});

t.test('bad input: one clear line naming the field and value, non-zero exit', async (t) => {
  t.match(await cli('tap', 'create', '--name', 'a b'), { code: 1, err: /^netfd tap create: INVALID_ARGUMENT: invalid name "a b"/ });
  t.match(await cli('tap', 'create', '--queues', '300'), { code: 1, err: /invalid queues "300"/ });
  t.match(await cli('tap', 'create', '--template', 'vnet'), { code: 1, err: /invalid template "vnet"/ });
  t.match(await cli('macvtap', 'create', '--link', 'v0', '--mode', 'pepa'), { code: 1, err: /invalid mode "pepa"/ });
  t.match(await cli('macvtap', 'create', '--link', 'v0', '--mode', 'vepa', '--mac', '01:00:00:00:00:01'), { code: 1, err: /invalid mac "01:00:00:00:00:01": a multicast/ });
  t.match(await cli('macvtap', 'create', '--mode', 'vepa'), { code: 2, err: /needs --link/ });
  t.match(await cli('macvtap', 'create', '--link', 'v0'), { code: 2, err: /needs --mode/ });
  t.match(await cli('link', 'show', '--netns', 'a/b'), { code: 1, err: /invalid netns "a\/b"/ });
  t.match(await cli('link', 'delete'), { code: 2, err: /exactly one link/ });
  t.match(await cli('link', 'set', 'x', '--up', '--down'), { code: 2 });
  t.match(await cli('tap', 'create', '--bogus'), { code: 2, err: /Unknown option '--bogus'/ });
  const r = await cli('tap', 'create', '--name', 'x'.repeat(16));
  t.equal(r.err.trim().split('\n').length, 1, 'one line');
});

t.test('hotplug and destroy verbs: usage and refusals before any host change', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-cli-hp-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const nic = path.join(dir, 'nic.xml');
  fs.writeFileSync(nic, "<interface type='ethernet'/>");
  const sd = ['--state-dir', dir];
  t.match(await cli(...sd, 'attach-interface', 'g'), { code: 2, err: /usage: attach-interface NAME IFACE.xml/ });
  t.match(await cli(...sd, 'detach-interface', 'g'), { code: 2, err: /needs --mac MAC/ });
  t.match(await cli(...sd, 'attach-interface', 'g', nic), { code: 1, err: /ENOENT: domain g is not running: no live state/ });
  t.match(await cli(...sd, 'detach-interface', 'g', '--mac', '52:54:00:00:00:01'), { code: 1, err: /ENOENT: domain g is not running/ });
  t.match(await cli(...sd, 'detach-interface', 'g', '--mac', 'xx'), { code: 1, err: /INVALID_ARGUMENT: invalid mac "xx"/ });
  t.match(await cli(...sd, 'attach-interface', '../g', nic), { code: 1, err: /invalid name "..\/g"/ });
  t.match(await cli(...sd, 'attach-interface', 'g', nic, '--timeout', '0'), { code: 1, err: /invalid timeout "0"/ });
  t.match(await cli(...sd, 'destroy', 'g'), { code: 1, err: /ENOENT: no domain named g/ });
  t.match(await cli(...sd, 'destroy'), { code: 2, err: /usage: destroy NAME/ });
  fs.writeFileSync(path.join(dir, 'g.xml'), "<domain type='qemu'><name>g</name><memory>1024</memory></domain>");
  t.match(await cli(...sd, 'attach-interface', 'g', nic), { code: 1, err: /ENOENT: domain g is not running: it is prepared but no qemu runs it/ });
  t.match(await cli(...sd, 'launch', path.join(dir, 'missing.xml'), '--detach'), { code: 1, err: /cannot read .*missing.xml/ });
  t.same(fs.readdirSync(dir).sort(), ['g.xml', 'nic.xml'], 'nothing written to the state dir');
});

t.test('global options may stand before the verb', async (t) => {
  t.match(await cli('--netns', 'a/b', 'link', 'show'), { code: 1, err: /invalid netns/ });
});

t.test('link lines look like ip -d link show', async (t) => {
  const l: LinkInfo = {
    index: 4, name: 'mvt0', kind: 'macvtap', mode: 'bridge', parent: 3, master: null, mac: '52:54:00:12:34:56', mtu: 1500, flags: 0x1003,
    up: true, lowerUp: false, group: 0, numTxQueues: 1, numRxQueues: 1, linkNetnsId: null, tun: null,
  };
  t.equal(formatLink(l, new Map([[3, 'v0']])), '4: mvt0@v0: <BROADCAST,MULTICAST,UP> mtu 1500 state UP\n    link/ether 52:54:00:12:34:56\n    macvtap mode bridge');
  const tap: LinkInfo = { ...l, name: 'vnet0', kind: 'tun', mode: null, parent: null, master: 9, up: false, flags: 0x1002,
    tun: { type: 'tap', pi: false, vnetHdr: true, persist: true, multiQueue: true, numQueues: 4, owner: null, group: null } };
  t.equal(formatLink(tap, new Map()), '4: vnet0: <BROADCAST,MULTICAST> mtu 1500 master if9 state DOWN\n    link/ether 52:54:00:12:34:56\n    tun type tap pi off vnet_hdr on multi_queue numqueues 4 persist on');
});

t.test('domxml-to-native qemu-argv: decisions and argv, no host change', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-cli-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const env = { vhost: process.env.NETFD_VHOST_DEVICE, state: process.env.NETFD_STATE_DIR };
  t.teardown(() => {
    for (const [k, v] of [['NETFD_VHOST_DEVICE', env.vhost], ['NETFD_STATE_DIR', env.state]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  const write = (name: string, driver: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `<domain type='${name.startsWith('tcg') ? 'qemu' : 'kvm'}'><name>g1</name><memory unit='MiB'>64</memory><devices>
      <interface type='bridge'><mac address='52:54:00:00:00:11'/><source bridge='br9'/><model type='virtio'/>${driver}</interface>
      <interface type='direct'><mac address='52:54:00:00:00:12'/><source dev='eth9'/><model type='e1000'/></interface>
      <video/></devices></domain>`);
    return file;
  };
  const state = path.join(dir, 'state');
  const linksBefore = run('ip', ['-j', 'link', 'show']);

  const auto = await cli('domxml-to-native', 'qemu-argv', write('auto.xml', ''), '--vhost-device', '/nonexistent/vhost', '--state-dir', state);
  t.equal(auto.code, 0, auto.err);
  t.match(auto.out, /^# \/domain\/devices\/interface\[1\]: virtio -> virtio-net-pci; tap vnet%d on bridge br9; 1 queue\(s\); vhost-net not usable \(ENOENT\), so vhost=off; live XML records <driver name='qemu'\/>; mac 52:54:00:00:00:11\n/);
  t.match(auto.out, /# \/domain\/devices\/interface\[2\]: e1000 -> e1000; macvtap macvtap%d on eth9 mode vepa; .*no driver recorded/);
  t.match(auto.out, /# <video> is not turned into qemu arguments/);
  t.match(auto.out, /-netdev tap,id=hostnet0,fd=3,vhost=off \\\n  -device virtio-net-pci,netdev=hostnet0,id=net0,mac=52:54:00:00:00:11 \\\n  -netdev tap,id=hostnet1,fd=4,vhost=off \\\n  -device e1000,netdev=hostnet1,id=net1,mac=52:54:00:00:00:12/);
  t.match(auto.out, new RegExp(`-qmp unix:${state}/g1.qmp,server=on,wait=off\n$`));

  // /dev/null opens read-write: a stand-in for a usable vhost-net device.
  const usable = await cli('domxml-to-native', 'qemu-argv', write('usable.xml', "<driver name='vhost'/>"), '--vhost-device', '/dev/null', '--json');
  t.equal(usable.code, 0, usable.err);
  const j = JSON.parse(usable.out);
  t.same(j.argv.filter((_: string, i: number) => j.argv[i - 1] === '-netdev'), ['tap,id=hostnet0,fd=3,vhost=on,vhostfd=4', 'tap,id=hostnet1,fd=5,vhost=off']);
  t.same(j.interfaces.map((i: { decision: unknown }) => i.decision), [{ vhost: true, record: 'vhost' }, { vhost: false, record: null }]);
  t.same(j.ignoredDevices, ['video']);

  // Without KVM (<domain type='qemu'>): vhost-net is never opened, even when usable; name='vhost' is refused.
  const tcg = await cli('domxml-to-native', 'qemu-argv', write('tcg.xml', ''), '--vhost-device', '/dev/null', '--json');
  t.equal(tcg.code, 0, tcg.err);
  const k = JSON.parse(tcg.out);
  t.same(k.interfaces.map((i: { decision: unknown }) => i.decision), [{ vhost: false, record: 'qemu' }, { vhost: false, record: null }], 'userspace, recorded as qemu');
  const tcgVhost = await cli('domxml-to-native', 'qemu-argv', write('tcg-vhost.xml', "<driver name='vhost'/>"), '--vhost-device', '/dev/null');
  t.match(tcgVhost, { code: 1, err: /VHOST_UNAVAILABLE: .*runs without KVM/ });

  const refused = await cli('domxml-to-native', 'qemu-argv', write('vhost.xml', "<driver name='vhost'/>"), '--vhost-device', '/nonexistent/vhost');
  t.equal(refused.code, 1, 'a refused policy exits non-zero');
  t.match(refused.err, /^netfd domxml-to-native qemu-argv: VHOST_UNAVAILABLE: \/domain\/devices\/interface\[1\]\/driver\/@name: .*ENOENT/);
  t.equal(refused.out, '');

  t.notOk(fs.existsSync(state), 'no state directory created');
  t.equal(run('ip', ['-j', 'link', 'show']), linksBefore, 'host links unchanged');

  t.match(await cli('domxml-to-native', 'qemu-argv', path.join(dir, 'missing.xml')), { code: 1, err: /ENOENT: cannot read/ });
  fs.writeFileSync(path.join(dir, 'bad.xml'), '<domain><name>x</domain>');
  t.match(await cli('domxml-to-native', 'qemu-argv', path.join(dir, 'bad.xml')), { code: 1, err: /INVALID_XML: domain XML is not well-formed/ });
  t.match(await cli('domxml-to-native', 'qemu-argv'), { code: 2, err: /usage: domxml-to-native qemu-argv DOMAIN.xml/ });
  t.match(await cli('domxml-to-native', 'xen-xm', 'x.xml'), { code: 1, err: /ENOENT: cannot read x.xml/ }, 'xen-xm is a format now (see below)');
  t.match(await cli('domxml-to-native', 'bhyve', 'x.xml'), { code: 2, err: /unknown command/ });
});

t.test('domxml-to-native qemu-argv --net-only: the interfaces\' arguments for any domain', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-cli-net-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  // What netfd cannot launch: an rbd disk, a tcp serial, graphics, controllers (and an LVM volume it can).
  const write = (name: string, ifaces: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `<domain type='kvm'><name>vm1</name><memory unit='MiB'>512</memory><devices>
      <disk type='block' device='disk'><driver name='qemu' type='raw' cache='none'/><source dev='/dev/vg/vm1'/><target dev='vda' bus='virtio'/><boot order='1'/></disk>
      <disk type='network' device='disk'><source protocol='rbd' name='pool/vm1-data'><host name='mon1'/></source><target dev='vdb' bus='virtio'/></disk>
      <serial type='tcp'><source mode='bind' host='127.0.0.1' service='4555'/><protocol type='telnet'/></serial>
      <graphics type='vnc' autoport='yes'/>
      <controller type='usb' model='qemu-xhci'/>
      ${ifaces}</devices></domain>`);
    return file;
  };
  const nics = `<interface type='bridge'><mac address='52:54:00:00:00:21'/><source bridge='br9'/><model type='virtio'/><driver queues='2'/></interface>
      <interface type='ethernet'><mac address='52:54:00:00:00:22'/><model type='e1000'/></interface>`;
  const file = write('vm1.xml', nics);
  const vhost = ['--vhost-device', '/nonexistent/vhost'];

  const whole = await cli('domxml-to-native', 'qemu-argv', file, ...vhost);
  t.equal(whole.code, 1, 'the whole command line is refused: launch could not start it');
  t.match(whole.err, /^netfd domxml-to-native qemu-argv: NOT_SUPPORTED: \/domain\/devices\/serial\/@type: <serial type='tcp'> is not supported/, 'named by its XPath');

  const r = await cli('domxml-to-native', 'qemu-argv', file, '--net-only', ...vhost);
  t.equal(r.code, 0, r.err);
  t.equal(r.out, [
    "# /domain/devices/interface[1]: virtio -> virtio-net-pci; tap vnet%d on bridge br9; 2 queue(s); vhost-net not usable (ENOENT), so vhost=off; live XML records <driver name='qemu'/>; mac 52:54:00:00:00:21",
    '# /domain/devices/interface[2]: e1000 -> e1000; tap vnet%d; 1 queue(s); vhost-net not tried, so vhost=off; no driver recorded (not virtio); mac 52:54:00:00:00:22',
    '-netdev tap,id=hostnet0,fds=3:4,vhost=off \\',
    '-device virtio-net-pci,netdev=hostnet0,id=net0,mac=52:54:00:00:00:21,mq=on,vectors=6 \\',
    '-netdev tap,id=hostnet1,fd=5,vhost=off \\',
    '-device e1000,netdev=hostnet1,id=net1,mac=52:54:00:00:00:22',
    '',
  ].join('\n'), 'only the -netdev/-device arguments (fds from 3) and the decisions: no program, disks, serial, -qmp');

  const j = await cli('domxml-to-native', 'qemu-argv', file, '--net-only', '--json', '--vhost-device', '/dev/null');
  t.equal(j.code, 0, j.err);
  const out = JSON.parse(j.out);
  t.same(out.argv, ['-netdev', 'tap,id=hostnet0,fds=3:4,vhost=on,vhostfds=5:6', '-device', 'virtio-net-pci,netdev=hostnet0,id=net0,mac=52:54:00:00:00:21,mq=on,vectors=6', '-netdev', 'tap,id=hostnet1,fd=7,vhost=off', '-device', 'e1000,netdev=hostnet1,id=net1,mac=52:54:00:00:00:22'], 'vhost fds numbered after the queue fds, as today');
  t.same(out.interfaces.map((i: { decision: unknown }) => i.decision), [{ vhost: true, record: 'vhost' }, { vhost: false, record: null }]);
  t.notOk('ignoredDevices' in out);

  // The interfaces are still checked in full.
  const bad = await cli('domxml-to-native', 'qemu-argv', write('bad.xml', `${nics}<interface type='bridge'><mac address='52:54:00:00:00:21'/><source bridge='br9'/></interface>`), '--net-only', ...vhost);
  t.match(bad, { code: 1, out: '', err: /INVALID_ARGUMENT: \/domain\/devices\/interface\[3\]\/mac\/@address: MAC 52:54:00:00:00:21 is also used by/ });
  const none = await cli('domxml-to-native', 'qemu-argv', write('none.xml', ''), '--net-only', ...vhost);
  t.match(none, { code: 0, out: '', err: '' }, 'no interfaces: nothing to print');
  t.match(await cli('domxml-to-native', 'qemu-argv', '--net-only'), { code: 2, err: /usage: domxml-to-native qemu-argv DOMAIN.xml \[--json\] \[--net-only\]/ });
});

t.test('net-* verbs: define, list, start, dumpxml, autostart, destroy, undefine; refusals name the field', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-cli-net-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const g = ['--config-dir', path.join(dir, 'etc'), '--state-dir', path.join(dir, 'run'), '--sysfs-root', path.join(dir, 'sys')];
  const { pfN } = await import('../../scripts/sriov-fixture');
  const pf = pfN(path.join(dir, 'sys'), 3, 'eth0');
  const file = path.join(dir, 'vfs.xml');
  fs.writeFileSync(file, "<network>\n  <name>vfs</name>\n  <forward mode='passthrough'>\n    <pf dev='eth0'/>\n  </forward>\n</network>\n");
  t.match(await cli(...g, 'net-define', file), { code: 0, out: /^Network vfs defined from .*vfs\.xml \(uuid [0-9a-f-]{36}\)\n$/ });
  t.match(await cli(...g, 'net-define', file), { code: 0, out: /^Network vfs redefined/ });
  t.match(await cli(...g, 'net-list'), { code: 0, out: /^ Name +State +Autostart +Persistent +Connections\n-+\n$/ });
  t.match(await cli(...g, 'net-list', '--all'), { code: 0, out: /\n vfs +inactive +no +yes +-\n$/ });
  t.match(await cli(...g, 'net-start', 'vfs'), { code: 0, out: 'Network vfs started: 3 device(s) in its pool\n' });
  t.match(await cli(...g, 'net-autostart', 'vfs'), { code: 0, out: 'Network vfs marked as autostarted\n' });
  const listed = JSON.parse((await cli(...g, 'net-list', '--json')).out);
  t.match(listed, [{ name: 'vfs', active: true, autostart: true, persistent: true, connections: 0 }]);
  const live = (await cli(...g, 'net-dumpxml', 'vfs')).out;
  t.equal((live.match(/<interface dev="[^"]+" connections="0"\/>/g) ?? []).length, 3, 'live: the expanded pool with counts');
  t.match(live, pf.devices[2]);
  const inactive = (await cli(...g, 'net-dumpxml', 'vfs', '--inactive')).out;
  t.notMatch(inactive, '<interface', '--inactive: the <pf> alone');

  // domxml-to-native names the device the network would give, and records nothing.
  const dom = path.join(dir, 'g.xml');
  fs.writeFileSync(dom, "<domain type='qemu'><name>g</name><memory unit='MiB'>64</memory><devices><interface type='network'><source network='vfs'/><model type='virtio'/></interface></devices></domain>");
  t.match(await cli(...g, '--vhost-device', '/nonexistent/vhost', 'domxml-to-native', 'qemu-argv', dom), { code: 0, out: new RegExp(`macvtap macvtap%d on ${pf.devices[0]} mode passthru \\(network 'vfs' would give ${pf.devices[0]} now\\)`) });
  t.match(JSON.parse((await cli(...g, 'net-list', '--json')).out), [{ connections: 0 }], 'a preview allocates nothing');

  t.match(await cli(...g, 'net-start', 'vfs'), { code: 1, err: /^netfd net-start: EEXIST: network 'vfs' is already active\n$/ });
  t.match(await cli(...g, 'net-undefine', 'vfs'), { code: 0, out: 'Network vfs has been undefined (it stays active until net-destroy)\n' });
  t.notOk(fs.existsSync(path.join(dir, 'etc', 'autostart', 'vfs.xml')), 'undefine removes the autostart link');
  t.match(await cli(...g, 'net-destroy', 'vfs'), { code: 0, out: 'Network vfs destroyed\n' });
  t.match(await cli(...g, 'net-list', '--all'), { code: 0, out: /-\n$/ });

  t.match(await cli(...g, 'net-start', 'vfs'), { code: 1, err: /ENOENT: no network named 'vfs'/ });
  t.match(await cli(...g, 'net-start'), { code: 2, err: /usage: net-start NAME/ });
  t.match(await cli(...g, 'net-dumpxml', 'a/b'), { code: 1, err: /INVALID_ARGUMENT: invalid network name "a\/b"/ });
  fs.writeFileSync(file, "<network><name>bad</name><forward mode='nat'/></network>");
  t.match(await cli(...g, 'net-define', file), { code: 1, err: /^netfd net-define: NOT_SUPPORTED: \/network\/forward\/@mode: netfd does not run <forward mode='nat'>, .*; netfd runs forward modes passthrough, private, vepa, bridge/ });
  fs.writeFileSync(file, "<network><name>none</name><forward mode='vepa'><pf dev='eth9'/></forward></network>");
  t.match(await cli(...g, 'net-define', file), { code: 0 });
  t.match(await cli(...g, 'net-start', 'none'), { code: 1, err: /ENODEV: no network device eth9/ });
  t.match(await cli(...g, '--config-dir', 'relative', 'net-list'), { code: 1, err: /invalid configDir "relative"/ });
});

t.test('domxml-to-native / domxml-from-native xen-*: the golden files through the CLI', async (t) => {
  const dir = path.join(__dirname, '..', 'fixtures', 'xen');
  for (const f of ['xm', 'xl', 'sxpr']) {
    const to = await cli('domxml-to-native', `xen-${f}`, path.join(dir, 'hvm-netfront.xml'));
    t.strictSame(to, { code: 0, out: fs.readFileSync(path.join(dir, `hvm-netfront.${f}`), 'utf8'), err: '' }, `xen-${f}: XML to native`);
    const from = await cli('domxml-from-native', `xen-${f}`, path.join(dir, `hvm-netfront.${f}`));
    t.equal(from.code, 0);
    t.match(from.out, "<model type='netfront'/>", `xen-${f}: native to XML gives model netfront`);
  }
  const old = await cli('domxml-to-native', 'xen-xm', path.join(dir, 'hvm-no-model.xml'), '--xend-config-version', '3');
  t.equal(old.out, fs.readFileSync(path.join(dir, 'hvm-no-model-xend3.xm'), 'utf8'), 'xend config version 3: type=ioemu');
  t.match(await cli('domxml-to-native', 'xen-xm', path.join(dir, 'hvm-no-model.xml'), '--xend-config-version', 'x'), { code: 1, err: /invalid xend-config-version "x"/ });
  t.match(await cli('domxml-from-native', 'xen-xl'), { code: 2, err: /usage: domxml-from-native xen-xl FILE/ });
});
