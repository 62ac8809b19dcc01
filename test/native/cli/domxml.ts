// domxml-to-native qemu-argv through main(): the decisions and the argv, no
// host change. Not unit: the global options set env variables in this
// process, and `ip link show` is run to see that no link changed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { run } from '../../helpers/host';
import { cli } from '../../helpers/cli';

t.test('domxml-to-native qemu-argv: decisions and argv, no host change', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-cli-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const env = { vhost: process.env.NETFD_VHOST_DEVICE, state: process.env.NETFD_STATE_DIR };
  t.teardown(() => {
    for (const [k, v] of [
      ['NETFD_VHOST_DEVICE', env.vhost],
      ['NETFD_STATE_DIR', env.state],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  const write = (name: string, driver: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(
      file,
      `<domain type='${name.startsWith('tcg') ? 'qemu' : 'kvm'}'><name>g1</name><memory unit='MiB'>64</memory><devices>
      <interface type='bridge'><mac address='52:54:00:00:00:11'/><source bridge='br9'/><model type='virtio'/>${driver}</interface>
      <interface type='direct'><mac address='52:54:00:00:00:12'/><source dev='eth9'/><model type='e1000'/></interface>
      <video/></devices></domain>`,
    );
    return file;
  };
  const state = path.join(dir, 'state');
  const linksBefore = run('ip', ['-j', 'link', 'show']);

  const auto = await cli('domxml-to-native', 'qemu-argv', write('auto.xml', ''), '--vhost-device', '/nonexistent/vhost', '--state-dir', state);
  t.equal(auto.code, 0, auto.err);
  t.match(
    auto.out,
    /^# \/domain\/devices\/interface\[1\]: virtio -> virtio-net-pci; tap vnet%d on bridge br9; 1 queue\(s\); vhost-net not usable \(ENOENT\), so vhost=off; live XML records <driver name='qemu'\/>; mac 52:54:00:00:00:11\n/,
  );
  t.match(auto.out, /# \/domain\/devices\/interface\[2\]: e1000 -> e1000; macvtap macvtap%d on eth9 mode vepa; .*no driver recorded/);
  t.match(auto.out, /# <video> is not turned into qemu arguments/);
  t.match(
    auto.out,
    /-netdev tap,id=hostnet0,fd=3,vhost=off \\\n {2}-device virtio-net-pci,netdev=hostnet0,id=net0,mac=52:54:00:00:00:11 \\\n {2}-netdev tap,id=hostnet1,fd=4,vhost=off \\\n {2}-device e1000,netdev=hostnet1,id=net1,mac=52:54:00:00:00:12/,
  );
  t.match(auto.out, new RegExp(`-qmp unix:${state}/g1.qmp,server=on,wait=off\n$`));

  // /dev/null opens read-write: a stand-in for a usable vhost-net device.
  const usable = await cli('domxml-to-native', 'qemu-argv', write('usable.xml', "<driver name='vhost'/>"), '--vhost-device', '/dev/null', '--json');
  t.equal(usable.code, 0, usable.err);
  const j = JSON.parse(usable.out);
  t.same(
    j.argv.filter((_: string, i: number) => j.argv[i - 1] === '-netdev'),
    ['tap,id=hostnet0,fd=3,vhost=on,vhostfd=4', 'tap,id=hostnet1,fd=5,vhost=off'],
  );
  t.same(
    j.interfaces.map((i: { decision: unknown }) => i.decision),
    [
      { vhost: true, record: 'vhost' },
      { vhost: false, record: null },
    ],
  );
  t.same(j.ignoredDevices, ['video']);

  // Without KVM (<domain type='qemu'>): vhost-net is never opened, even when usable; name='vhost' is refused.
  const tcg = await cli('domxml-to-native', 'qemu-argv', write('tcg.xml', ''), '--vhost-device', '/dev/null', '--json');
  t.equal(tcg.code, 0, tcg.err);
  const k = JSON.parse(tcg.out);
  t.same(
    k.interfaces.map((i: { decision: unknown }) => i.decision),
    [
      { vhost: false, record: 'qemu' },
      { vhost: false, record: null },
    ],
    'userspace, recorded as qemu',
  );
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

t.test("domxml-to-native qemu-argv --net-only: the interfaces' arguments for any domain", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-cli-net-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  // What netfd cannot launch: an rbd disk, a tcp serial, graphics, controllers (and an LVM volume it can).
  const write = (name: string, ifaces: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(
      file,
      `<domain type='kvm'><name>vm1</name><memory unit='MiB'>512</memory><devices>
      <disk type='block' device='disk'><driver name='qemu' type='raw' cache='none'/><source dev='/dev/vg/vm1'/><target dev='vda' bus='virtio'/><boot order='1'/></disk>
      <disk type='network' device='disk'><source protocol='rbd' name='pool/vm1-data'><host name='mon1'/></source><target dev='vdb' bus='virtio'/></disk>
      <serial type='tcp'><source mode='bind' host='127.0.0.1' service='4555'/><protocol type='telnet'/></serial>
      <graphics type='vnc' autoport='yes'/>
      <controller type='usb' model='qemu-xhci'/>
      ${ifaces}</devices></domain>`,
    );
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
  t.equal(
    r.out,
    [
      "# /domain/devices/interface[1]: virtio -> virtio-net-pci; tap vnet%d on bridge br9; 2 queue(s); vhost-net not usable (ENOENT), so vhost=off; live XML records <driver name='qemu'/>; mac 52:54:00:00:00:21",
      '# /domain/devices/interface[2]: e1000 -> e1000; tap vnet%d; 1 queue(s); vhost-net not tried, so vhost=off; no driver recorded (not virtio); mac 52:54:00:00:00:22',
      '-netdev tap,id=hostnet0,fds=3:4,vhost=off \\',
      '-device virtio-net-pci,netdev=hostnet0,id=net0,mac=52:54:00:00:00:21,mq=on,vectors=6 \\',
      '-netdev tap,id=hostnet1,fd=5,vhost=off \\',
      '-device e1000,netdev=hostnet1,id=net1,mac=52:54:00:00:00:22',
      '',
    ].join('\n'),
    'only the -netdev/-device arguments (fds from 3) and the decisions: no program, disks, serial, -qmp',
  );

  const j = await cli('domxml-to-native', 'qemu-argv', file, '--net-only', '--json', '--vhost-device', '/dev/null');
  t.equal(j.code, 0, j.err);
  const out = JSON.parse(j.out);
  t.same(
    out.argv,
    [
      '-netdev',
      'tap,id=hostnet0,fds=3:4,vhost=on,vhostfds=5:6',
      '-device',
      'virtio-net-pci,netdev=hostnet0,id=net0,mac=52:54:00:00:00:21,mq=on,vectors=6',
      '-netdev',
      'tap,id=hostnet1,fd=7,vhost=off',
      '-device',
      'e1000,netdev=hostnet1,id=net1,mac=52:54:00:00:00:22',
    ],
    'vhost fds numbered after the queue fds, as today',
  );
  t.same(
    out.interfaces.map((i: { decision: unknown }) => i.decision),
    [
      { vhost: true, record: 'vhost' },
      { vhost: false, record: null },
    ],
  );
  t.notOk('ignoredDevices' in out);

  // The interfaces are still checked in full.
  const bad = await cli(
    'domxml-to-native',
    'qemu-argv',
    write('bad.xml', `${nics}<interface type='bridge'><mac address='52:54:00:00:00:21'/><source bridge='br9'/></interface>`),
    '--net-only',
    ...vhost,
  );
  t.match(bad, { code: 1, out: '', err: /INVALID_ARGUMENT: \/domain\/devices\/interface\[3\]\/mac\/@address: MAC 52:54:00:00:00:21 is also used by/ });
  const none = await cli('domxml-to-native', 'qemu-argv', write('none.xml', ''), '--net-only', ...vhost);
  t.match(none, { code: 0, out: '', err: '' }, 'no interfaces: nothing to print');
  t.match(await cli('domxml-to-native', 'qemu-argv', '--net-only'), { code: 2, err: /usage: domxml-to-native qemu-argv DOMAIN.xml \[--json\] \[--net-only\]/ });
});
