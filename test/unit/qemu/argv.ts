// qemu command lines: golden argv files for whole domains (XML → planDomain →
// decideDriver → childFds → domainArgv), and the pieces one by one. Pure.
//
// The goldens live in test/fixtures/domains/NAME.argv, one argument per line.
// To rewrite them after an intended change:
//   NETFD_UPDATE_GOLDEN=1 npx tap test/unit/qemu/argv.ts
// then read the diff by eye before committing: vhost=off always explicit when
// vhost is not used, fds= with ':' for multiqueue, as many vhostfds as queues,
// mq=on,vectors=2N+2, commas doubled inside values.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { decideDriver, InterfacePlan, planDomain, planInterface, VhostProbe } from '../../../lib/policy';
import { childFds, DEFAULT_EMULATOR, deviceArg, domainArgv, driveArg, escapeValue, formatArgs, formatArgv, NetArgs, netArgv, netdevArg, qmpArg, qmpFdArgv, withQmpFd } from '../../../lib/qemu/argv';
import { DomainXml } from '../../../lib/xml/domain';

const fixtures = path.join(__dirname, '..', '..', 'fixtures', 'domains');
const UPDATE = process.env.NETFD_UPDATE_GOLDEN === '1';

const USABLE: VhostProbe = { usable: true };
const UNUSABLE: VhostProbe = { usable: false, code: 'ENOENT', message: "open('/dev/vhost-net'): No such file or directory" };

/** The same bytes on every run: 0x11, 0x22, ... */
function counter() {
  let n = 0;
  return (len: number) => Uint8Array.from({ length: len }, () => (++n * 0x11) & 0xff);
}

/** What netfd does for a domain, without a host: plans, decisions, fd numbers, argv. */
function build(xmlText: string, probe: VhostProbe | undefined, qmp?: string) {
  const xml = DomainXml.parse(xmlText);
  const plans = planDomain(xml.def, counter());
  // probe is undefined where the case claims no vhost probe is needed:
  // decideDriver then throws if it would have needed one
  const decisions = plans.map((p) => decideDriver(p, probe));
  const fds = childFds(plans.map((p, n) => ({ tap: p.queues, vhost: decisions[n].vhost ? p.queues : 0 })));
  const nets: NetArgs[] = plans.map((plan, n) => ({ plan, decision: decisions[n], ...fds[n] }));
  return { xml, plans, decisions, nets, argv: domainArgv(xml.def, nets, qmp === undefined ? {} : { qmp }) };
}

interface Case {
  /** The golden file is NAME.argv. */
  name: string;
  xml: string;
  /** The vhost probe result for every interface that wants one. */
  probe?: VhostProbe;
  qmp: string;
}

const CASES: Case[] = [
  { name: 'ethernet', xml: 'ethernet.xml', probe: USABLE, qmp: '/run/netfd/ethernet/qmp.sock' },
  { name: 'bridge', xml: 'bridge.xml', probe: UNUSABLE, qmp: '/run/netfd/bridge/qmp.sock' },
  { name: 'direct-vepa', xml: 'direct-vepa.xml', probe: USABLE, qmp: '/run/netfd/direct-vepa/qmp.sock' },
  { name: 'direct-bridge', xml: 'direct-bridge.xml', probe: USABLE, qmp: '/run/netfd/direct-bridge/qmp.sock' },
  { name: 'direct-private', xml: 'direct-private.xml', probe: undefined, qmp: '/run/netfd/direct-private/qmp.sock' },
  { name: 'direct-passthrough', xml: 'direct-passthrough.xml', probe: USABLE, qmp: '/run/netfd/direct-passthrough/qmp.sock' },
  { name: 'multiqueue-vhost', xml: 'multiqueue.xml', probe: USABLE, qmp: '/run/netfd/multiqueue/qmp.sock' },
  { name: 'multiqueue-userspace', xml: 'multiqueue.xml', probe: UNUSABLE, qmp: '/run/netfd/multiqueue/qmp.sock' },
  { name: 'queue-sizes', xml: 'queue-sizes.xml', probe: USABLE, qmp: '/run/netfd/queue-sizes/qmp.sock' },
  { name: 'nonvirtio', xml: 'nonvirtio.xml', probe: undefined, qmp: '/run/netfd/nonvirtio/qmp.sock' },
  { name: 'full', xml: 'full.xml', probe: USABLE, qmp: '/run/netfd/full,guest/qmp.sock' },
  // LVM volumes on IDE (placed by drive addresses) and virtio, as in libvirt's test domains.
  { name: 'block', xml: 'block.xml', probe: UNUSABLE, qmp: '/run/netfd/QEMUGuest1.qmp' },
  // Everything <interface> holds that becomes a qemu argument: offloads, rss, host_mtu, sndbuf, boot order, option ROM, PCI address.
  { name: 'interface-options', xml: 'interface-options.xml', probe: UNUSABLE, qmp: '/run/netfd/interface-options.qmp' },
];

const readXml = (f: string) => fs.readFileSync(path.join(fixtures, f), 'utf8');

t.test('golden argv for whole domains', async (t) => {
  for (const c of CASES) {
    const { argv } = build(readXml(c.xml), c.probe, c.qmp);
    const file = path.join(fixtures, `${c.name}.argv`);
    const text = `${argv.join('\n')}\n`;
    if (UPDATE) fs.writeFileSync(file, text);
    t.ok(
      argv.every((a) => !a.includes('\n')),
      `${c.name}: one argument per line is unambiguous`,
    );
    t.equal(text, fs.readFileSync(file, 'utf8'), `${c.name}: argv matches ${c.name}.argv`);
  }
  t.strictSame(
    fs
      .readdirSync(fixtures)
      .filter((f) => f.endsWith('.argv'))
      .sort(),
    CASES.map((c) => `${c.name}.argv`).sort(),
    'every golden file belongs to a case',
  );
});

// Checks that hold for every golden, derived from the plans rather than
// from the files, so a careless regeneration still has to get these right.
t.test('golden argv: the rules every command line follows', async (t) => {
  for (const c of CASES) {
    const { argv, plans, decisions } = build(readXml(c.xml), c.probe, c.qmp);
    const netdevs = argv.filter((_, i) => argv[i - 1] === '-netdev');
    const devices = argv.filter((_, i) => argv[i - 1] === '-device');
    t.equal(netdevs.length, plans.length, `${c.name}: one -netdev per interface`);
    t.equal(devices.length, plans.length, `${c.name}: one -device per interface`);
    const seen: number[] = [];
    plans.forEach((p, n) => {
      const nd = netdevs[n];
      const what = `${c.name} #${n}`;
      const fdList = (/(?:^|,)fds?=([\d:]+)/.exec(nd) ?? [])[1]?.split(':').map(Number) ?? [];
      t.equal(fdList.length, p.queues, `${what}: one tap fd per queue`);
      t.equal(nd.includes(',fds='), p.queues > 1, `${what}: fds= (with ':') exactly when multiqueue`);
      t.match(nd, decisions[n].vhost ? /,vhost=on,/ : /,vhost=off(,sndbuf=\d+)?$/, `${what}: vhost=${decisions[n].vhost ? 'on' : 'off'} said explicitly`);
      const vfds = (/,vhostfds?=([\d:]+)/.exec(nd) ?? [])[1]?.split(':').map(Number) ?? [];
      t.equal(vfds.length, decisions[n].vhost ? p.queues : 0, `${what}: as many vhost fds as queues`);
      seen.push(...fdList, ...vfds);
      const mq = /,mq=on,vectors=(\d+)/.exec(devices[n]);
      t.equal(mq ? Number(mq[1]) : null, p.queues > 1 ? 2 * p.queues + 2 : null, `${what}: mq=on,vectors=2N+2 exactly when multiqueue`);
      t.ok(devices[n].startsWith(`${p.device},netdev=${p.netdevId},id=${p.deviceId},mac=${p.mac}`), `${what}: the device names its netdev`);
    });
    t.strictSame(
      seen,
      Array.from({ length: seen.length }, (_, i) => i + 3),
      `${c.name}: fd numbers count up from 3 without gaps or repeats`,
    );
  }
});

t.test('golden cases decide what the table says', async (t) => {
  const decided = (name: string) => {
    const c = CASES.find((x) => x.name === name) as Case;
    return build(readXml(c.xml), c.probe, c.qmp);
  };
  t.strictSame(decided('ethernet').decisions, [
    { vhost: true, record: 'vhost' },
    { vhost: false, record: 'qemu' },
    { vhost: true, record: 'vhost' },
  ]);
  t.strictSame(
    decided('bridge').decisions,
    [
      { vhost: false, record: 'qemu' },
      { vhost: false, record: null },
    ],
    'unusable vhost: userspace fallback',
  );
  t.strictSame(
    decided('multiqueue-vhost').decisions.map((d) => d.vhost),
    [true, false],
  );
  t.strictSame(
    decided('multiqueue-userspace').decisions.map((d) => d.vhost),
    [false, false],
  );
  t.strictSame(
    decided('nonvirtio').plans.map((p) => [p.device, p.queues]),
    [
      ['e1000', 1],
      ['e1000e', 1],
      ['rtl8139', 1],
      ['vmxnet3', 1],
      ['rtl8139', 1],
    ],
  );
  t.strictSame(
    ['direct-vepa', 'direct-bridge', 'direct-private', 'direct-passthrough'].map((n) => {
      const l = decided(n).plans[0].link;
      return l.kind === 'macvtap' ? [l.name, l.parent, l.mode] : l.kind;
    }),
    [
      ['macvtap%d', 'eth1', 'vepa'],
      ['macvtap%d', 'eth1', 'bridge'],
      ['mvt%d', 'eth1', 'private'],
      ['macvtap%d', 'eth2', 'passthru'],
    ],
  );
  const full = decided('full');
  t.strictSame(
    full.plans.map((p) => p.mac),
    ['52:54:00:11:22:33'],
    'the deterministic random source gives the generated MAC',
  );
  // a vhost=vhost interface with vhost unusable refuses to start
  const c = CASES.find((x) => x.name === 'direct-passthrough') as Case;
  t.throws(() => build(readXml(c.xml), UNUSABLE, c.qmp), { code: 'VHOST_UNAVAILABLE', field: '/domain/devices/interface/driver/@name' });
});

// ---------------------------------------------------------------- pieces

const plan = (xml: string, mac = '52:54:00:12:34:56'): InterfacePlan =>
  planInterface(DomainXml.parse(`<domain type='kvm'><name>g</name><memory>1024</memory><devices>${xml}</devices></domain>`).def.interfaces[0], mac);
const OFF = { vhost: false, record: 'qemu' } as const;
const ON = { vhost: true, record: 'vhost' } as const;

t.test('netdevArg', async (t) => {
  const one = plan("<interface type='ethernet'><model type='virtio'/></interface>");
  const three = plan("<interface type='ethernet'><model type='virtio'/><driver queues='3'/></interface>");
  t.equal(netdevArg({ plan: one, decision: OFF, tapFds: [3], vhostFds: [] }), 'tap,id=hostnet0,fd=3,vhost=off');
  t.equal(netdevArg({ plan: one, decision: ON, tapFds: [3], vhostFds: [4] }), 'tap,id=hostnet0,fd=3,vhost=on,vhostfd=4');
  t.equal(netdevArg({ plan: three, decision: ON, tapFds: [3, 4, 5], vhostFds: [6, 7, 8] }), 'tap,id=hostnet0,fds=3:4:5,vhost=on,vhostfds=6:7:8');
  t.equal(netdevArg({ plan: three, decision: OFF, tapFds: [10, 11, 12], vhostFds: [] }), 'tap,id=hostnet0,fds=10:11:12,vhost=off');
  const e1000 = plan("<interface type='ethernet'><model type='e1000'/><alias name='ua-old'/></interface>");
  t.equal(netdevArg({ plan: e1000, decision: { vhost: false, record: null }, tapFds: [7], vhostFds: [] }), 'tap,id=hostua-old,fd=7,vhost=off', 'non-virtio: vhost=off too');
  t.throws(() => netdevArg({ plan: three, decision: OFF, tapFds: [3], vhostFds: [] }), /has 3 queues but 1 fds/);
  t.throws(() => netdevArg({ plan: one, decision: OFF, tapFds: [3, 4], vhostFds: [] }), /has 1 queues but 2 fds/);
  t.throws(() => netdevArg({ plan: three, decision: ON, tapFds: [3, 4, 5], vhostFds: [6] }), /needs 3 vhost fds, got 1/);
  t.throws(() => netdevArg({ plan: one, decision: ON, tapFds: [3], vhostFds: [] }), /needs 1 vhost fds, got 0/);
});

t.test('deviceArg', async (t) => {
  const n = (p: InterfacePlan): NetArgs => ({ plan: p, decision: OFF, tapFds: Array.from({ length: p.queues }, (_, i) => 3 + i), vhostFds: [] });
  t.equal(deviceArg(n(plan("<interface type='ethernet'><model type='virtio'/></interface>"))), 'virtio-net-pci,netdev=hostnet0,id=net0,mac=52:54:00:12:34:56');
  t.equal(
    deviceArg(n(plan("<interface type='ethernet'><model type='virtio-transitional'/><driver queues='4' rx_queue_size='512' txmode='timer'/><alias name='ua-a'/></interface>", '52:54:00:00:00:0a'))),
    'virtio-net-pci-transitional,netdev=hostua-a,id=ua-a,mac=52:54:00:00:00:0a,mq=on,vectors=10,rx_queue_size=512,tx=timer',
  );
  t.equal(deviceArg(n(plan("<interface type='ethernet'><model type='e1000'/><driver queues='4'/></interface>"))), 'e1000,netdev=hostnet0,id=net0,mac=52:54:00:12:34:56', 'non-virtio: no mq');
  t.equal(deviceArg(n(plan("<interface type='ethernet'/>"))), 'rtl8139,netdev=hostnet0,id=net0,mac=52:54:00:12:34:56', 'the default model');
});

t.test('childFds', async (t) => {
  t.strictSame(
    childFds([
      { tap: 1, vhost: 1 },
      { tap: 4, vhost: 0 },
      { tap: 2, vhost: 2 },
    ]),
    [
      { tapFds: [3], vhostFds: [4] },
      { tapFds: [5, 6, 7, 8], vhostFds: [] },
      { tapFds: [9, 10], vhostFds: [11, 12] },
    ],
    'per interface: tap queues, then vhost fds, from 3',
  );
  t.strictSame(childFds([{ tap: 2, vhost: 2 }], 10), [{ tapFds: [10, 11], vhostFds: [12, 13] }], 'another first fd');
  t.strictSame(childFds([]), []);
  t.strictSame(
    childFds([
      { tap: 0, vhost: 0 },
      { tap: 1, vhost: 0 },
    ]),
    [
      { tapFds: [], vhostFds: [] },
      { tapFds: [3], vhostFds: [] },
    ],
  );
});

t.test('escapeValue doubles commas', async (t) => {
  t.equal(escapeValue('/var/lib/a,b.img'), '/var/lib/a,,b.img');
  t.equal(escapeValue(',,'), ',,,,');
  t.equal(escapeValue('a,b,c'), 'a,,b,,c');
  t.equal(escapeValue('/plain/path'), '/plain/path');
  t.equal(escapeValue(''), '');
});

t.test('domainArgv: defaults, escaping and the domain subset', async (t) => {
  const def = DomainXml.parse("<domain type='qemu'><name>m</name><memory>1000</memory></domain>").def;
  t.strictSame(
    domainArgv(def, []),
    [DEFAULT_EMULATOR, '-name', 'guest=m', '-accel', 'tcg', '-m', '1000k', '-smp', '1', '-nodefaults', '-no-user-config', '-display', 'none'],
    'the smallest domain: default emulator, TCG, memory in KiB when not whole MiB, no -qmp',
  );
  t.equal(DEFAULT_EMULATOR, 'qemu-system-x86_64');

  const full = DomainXml.parse(`<domain type='kvm'><name>a,b</name><memory unit='MiB'>64</memory>
    <os><cmdline></cmdline></os>
    <devices>
      <serial type='pty'/><serial type='stdio'/><serial type='file'><source path='/var/log/a,b.log'/></serial>
      <disk><source file='/img/a,b.img'/><target dev='vda'/></disk>
      <disk><source file='/img/c.img'/><target dev='vdb'/></disk>
      <disk device='cdrom'><source file='/img/d.iso'/><target dev='hdc'/></disk>
    </devices></domain>`).def;
  t.strictSame(
    domainArgv(full, [], { qmp: '/run/x,y/qmp.sock' }),
    [
      DEFAULT_EMULATOR,
      '-name',
      'guest=a,,b',
      '-accel',
      'kvm',
      '-m',
      '64',
      '-smp',
      '1',
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-append',
      '',
      '-serial',
      'pty',
      '-serial',
      'stdio',
      '-serial',
      'file:/var/log/a,b.log',
      '-drive',
      'file=/img/a,,b.img,format=raw,if=virtio,index=0',
      '-drive',
      'file=/img/c.img,format=raw,if=virtio,index=1',
      '-drive',
      'file=/img/d.iso,format=raw,if=ide,index=2,media=cdrom,readonly=on',
      '-qmp',
      'unix:/run/x,,y/qmp.sock,server=on,wait=off',
    ],
    'commas doubled where qemu parses options (-name, -drive file=, -qmp); an empty <cmdline> is an empty -append',
  );
});

t.test('driveArg: block disks and the <driver> options, as libvirt spells them on -drive', async (t) => {
  const drive = (inner: string, attrs = "type='block'", target = "<target dev='vda'/>") =>
    driveArg(DomainXml.parse(`<domain type='kvm'><name>g</name><memory>1024</memory><devices><disk ${attrs}>${inner}${target}</disk></devices></domain>`).def.disks[0]);
  const lv = "<source dev='/dev/vg/lv'/>";
  t.equal(drive(lv), 'file=/dev/vg/lv,file.driver=host_device,format=raw,if=virtio,index=0', "a block device: qemu's host_device driver (refuses a path that is not a device), raw by default");
  t.equal(drive("<source dev='/dev/vg/a,b'/>", "type='block'", "<target dev='hdb'/>"), 'file=/dev/vg/a,,b,file.driver=host_device,format=raw,if=ide,index=1', 'commas doubled, hdb is IDE unit 1');
  t.equal(
    drive(`${lv}<address type='drive' controller='0' bus='1' target='0' unit='1'/>`, "type='block'", "<target dev='hda'/>"),
    'file=/dev/vg/lv,file.driver=host_device,format=raw,if=ide,index=3',
    'the drive address 0.1.1 is index 3, whatever the name',
  );
  t.equal(drive("<source file='/img/a.img'/>", "type='file'"), 'file=/img/a.img,format=raw,if=virtio,index=0', 'a file disk: no file.driver');
  t.equal(drive(`${lv}<readonly/>`), 'file=/dev/vg/lv,file.driver=host_device,format=raw,if=virtio,index=0,readonly=on');
  t.equal(drive(`${lv}<driver name='qemu' type='qcow2' cache='directsync' io='native'/>`), 'file=/dev/vg/lv,file.driver=host_device,format=qcow2,if=virtio,index=0,cache=directsync,aio=native');
  // libvirt (qemuBuildDiskGetErrorPolicy): enospace is werror=enospc and sets no rerror; otherwise rerror follows werror.
  t.equal(drive(`${lv}<driver error_policy='stop'/>`), 'file=/dev/vg/lv,file.driver=host_device,format=raw,if=virtio,index=0,werror=stop,rerror=stop');
  t.equal(drive(`${lv}<driver error_policy='report' rerror_policy='ignore'/>`), 'file=/dev/vg/lv,file.driver=host_device,format=raw,if=virtio,index=0,werror=report,rerror=ignore');
  t.equal(drive(`${lv}<driver error_policy='enospace'/>`), 'file=/dev/vg/lv,file.driver=host_device,format=raw,if=virtio,index=0,werror=enospc');
  t.equal(drive(`${lv}<driver rerror_policy='stop'/>`), 'file=/dev/vg/lv,file.driver=host_device,format=raw,if=virtio,index=0,rerror=stop');
  // detect_zeroes='unmap' is 'on' unless discard='unmap' (virDomainDiskGetDetectZeroesMode).
  t.equal(drive(`${lv}<driver detect_zeroes='unmap'/>`), 'file=/dev/vg/lv,file.driver=host_device,format=raw,if=virtio,index=0,detect-zeroes=on');
  t.equal(drive(`${lv}<driver discard='unmap' detect_zeroes='unmap'/>`), 'file=/dev/vg/lv,file.driver=host_device,format=raw,if=virtio,index=0,discard=unmap,detect-zeroes=unmap');
  t.equal(
    drive(`${lv}<driver discard='ignore' detect_zeroes='off' copy_on_read='off' cache='unsafe'/>`),
    'file=/dev/vg/lv,file.driver=host_device,format=raw,if=virtio,index=0,cache=unsafe,copy-on-read=off,discard=ignore,detect-zeroes=off',
  );
});

t.test('netArgv: only the interfaces, numbered as in the whole command line', async (t) => {
  const xml = "<interface type='ethernet'><model type='virtio'/><driver queues='2'/></interface><interface type='ethernet'><model type='e1000'/></interface>";
  const full = `<domain type='kvm'><name>g</name><memory>1024</memory><devices><disk type='block'><source dev='/dev/vg/lv'/><target dev='vda'/></disk>${xml}</devices></domain>`;
  const { argv, nets } = build(full, USABLE);
  t.strictSame(netArgv(nets), [
    '-netdev',
    'tap,id=hostnet0,fds=3:4,vhost=on,vhostfds=5:6',
    '-device',
    'virtio-net-pci,netdev=hostnet0,id=net0,mac=52:54:00:11:22:33,mq=on,vectors=6',
    '-netdev',
    'tap,id=hostnet1,fd=7,vhost=off',
    '-device',
    'e1000,netdev=hostnet1,id=net1,mac=52:54:00:44:55:66',
  ]);
  const i = argv.indexOf('-netdev');
  t.strictSame(argv.slice(i, i + 8), netArgv(nets), 'the same arguments domainArgv gives');
  t.strictSame(netArgv([]), []);
  const def = DomainXml.parse(full, { netOnly: true }).def;
  t.throws(() => domainArgv(def, nets), /parsed with \{ netOnly: true \}; use netArgv\(\)/, 'a netOnly definition makes no whole command line');
});

t.test('formatArgv', async (t) => {
  const argv = ['/usr/bin/qemu-system-x86_64', '-name', 'guest=a,,b', '-nodefaults', '-no-user-config', '-append', "console=ttyS0 it's", '-serial', 'file:/tmp/a b', '-S', '-append', ''];
  const text = formatArgv(argv);
  t.equal(
    text,
    [
      '/usr/bin/qemu-system-x86_64 \\',
      '  -name guest=a,,b \\',
      '  -nodefaults \\',
      '  -no-user-config \\',
      "  -append 'console=ttyS0 it'\\''s' \\",
      "  -serial 'file:/tmp/a b' \\",
      '  -S \\',
      "  -append ''",
      '',
    ].join('\n'),
    'an option and its value on one line; flags alone; quoted when needed',
  );

  // the rendering is what a shell reads back as the same argv
  const script = `f() { for a in "$@"; do printf '%s\\0' "$a"; done; }\n${formatArgv(['f', ...argv.slice(1)])}`;
  const out = execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
  t.strictSame(out.split('\0').slice(0, -1), argv.slice(1), 'sh parses it back to the same arguments');

  const { argv: golden } = build(readXml('full.xml'), USABLE, '/run/netfd/full,guest/qmp.sock');
  const back = execFileSync('/bin/sh', ['-c', `f() { for a in "$@"; do printf '%s\\0' "$a"; done; }\n${formatArgv(['f', ...golden.slice(1)])}`], { encoding: 'utf8' });
  t.strictSame(back.split('\0').slice(0, -1), golden.slice(1), 'and so does a whole domain');

  const args = ['-netdev', 'tap,id=hostnet0,fd=3,vhost=off', '-device', 'e1000,netdev=hostnet0,id=net0,mac=52:54:00:00:00:01'];
  t.equal(formatArgs(args), '-netdev tap,id=hostnet0,fd=3,vhost=off \\\n-device e1000,netdev=hostnet0,id=net0,mac=52:54:00:00:00:01\n', 'formatArgs: options without a program, one per line');
  t.equal(formatArgs([]), '');
  const opts = execFileSync('/bin/sh', ['-c', `f() { for a in "$@"; do printf '%s\\0' "$a"; done; }\nf ${formatArgs([...args, '-append', "it's"])}`], { encoding: 'utf8' });
  t.strictSame(opts.split('\0').slice(0, -1), [...args, '-append', "it's"], 'sh reads them back');
});

t.test('<qemu:commandline> arguments come last; its env is parsed', async (t) => {
  const def = DomainXml.parse(`<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>q</name><memory unit='MiB'>64</memory>
    <qemu:commandline><qemu:arg value='-global'/><qemu:arg value='kvm-pit.lost_tick_policy=delay'/><qemu:env name='QEMU_AUDIO_DRV' value='none'/></qemu:commandline>
    </domain>`).def;
  t.same(def.qemuEnv, { QEMU_AUDIO_DRV: 'none' });
  t.same(domainArgv(def, [], { qmp: '/q' }).slice(-4), ['-qmp', 'unix:/q,server=on,wait=off', '-global', 'kvm-pit.lost_tick_policy=delay']);
  t.throws(
    () => DomainXml.parse(`<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>q</name><memory>64</memory><qemu:commandline><qemu:arg/></qemu:commandline></domain>`),
    { code: 'INVALID_ARGUMENT', field: '/domain/qemu:commandline/qemu:arg/@value' },
  );
  const other = DomainXml.parse(`<domain type='qemu' xmlns:x='urn:other'><name>q</name><memory>64</memory><x:commandline><x:arg value='-evil'/></x:commandline></domain>`).def;
  t.same(other.qemuArgs, [], "only libvirt's qemu namespace counts");
});

t.test('the QMP socket: -qmp unix:PATH for a qemu that binds it; -chardev socket,fd=N,server=on for one netfd bound', async (t) => {
  t.equal(qmpArg('/run/netfd/a,b.qmp'), 'unix:/run/netfd/a,,b.qmp,server=on,wait=off', 'commas doubled');
  t.strictSame(qmpFdArgv(7), ['-chardev', 'socket,id=netfd-qmp,fd=7,server=on,wait=off', '-mon', 'chardev=netfd-qmp,mode=control']);
  const def = DomainXml.parse(`<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>q</name><memory unit='MiB'>64</memory>
    <qemu:commandline><qemu:arg value='-S'/></qemu:commandline></domain>`).def;
  const argv = domainArgv(def, [], { qmp: '/s/q,1.qmp' });
  const at = argv.indexOf('-qmp');
  const out = withQmpFd(argv, '/s/q,1.qmp', 4);
  t.strictSame(out, [...argv.slice(0, at), ...qmpFdArgv(4), ...argv.slice(at + 2)], 'replaced where -qmp was (before <qemu:commandline>)');
  t.notOk(out.includes('-qmp'), 'no -qmp left');
  t.strictSame(argv, domainArgv(def, [], { qmp: '/s/q,1.qmp' }), 'the input is not changed');
  t.strictSame(withQmpFd(domainArgv(def, []), '/s/q,1.qmp', 4), [...domainArgv(def, []), ...qmpFdArgv(4)], 'appended when there is no -qmp');
  const other = domainArgv(def, [], { qmp: '/elsewhere.qmp' });
  t.strictSame(withQmpFd(other, '/s/q,1.qmp', 4), [...other, ...qmpFdArgv(4)], "another path's -qmp stays (qemu binds that one)");
});
