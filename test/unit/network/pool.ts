// SR-IOV PF expansion (lib/network/pool.ts) over fake sysfs trees laid out
// as Linux does (scripts/sriov-fixture.js), plus one read-only look at /sys.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { DEFAULT_SYSFS_ROOT, expandPf, pciNetdev, sysfsRoot } from '../../../lib/network/pool';
import * as fx from '../../../scripts/sriov-fixture';
import { refused, type Asserts } from '../../helpers/refused';

/** A fresh, empty fake sysfs root, removed when the test ends. */
function tmpRoot(t: Asserts): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-sysfs-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  return root;
}

const pfErr = (code: string, pf: string) => ({ code, field: 'pf', value: pf });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

t.test('the sysfs root: the option, else NETFD_SYSFS_ROOT, else /sys; always absolute', async (t) => {
  t.equal(DEFAULT_SYSFS_ROOT, '/sys');
  t.equal(sysfsRoot(undefined, {}), '/sys');
  t.equal(sysfsRoot(undefined, { NETFD_SYSFS_ROOT: '' }), '/sys', 'an empty variable is unset');
  t.equal(sysfsRoot(undefined, { NETFD_SYSFS_ROOT: '/tmp/fake' }), '/tmp/fake');
  t.equal(sysfsRoot('/x', { NETFD_SYSFS_ROOT: '/tmp/fake' }), '/x', 'the option wins');
  refused(t, () => sysfsRoot('rel/sys', {}), { code: 'INVALID_ARGUMENT', field: 'sysfsRoot', value: 'rel/sys' }, /absolute/);
  refused(t, () => sysfsRoot('', {}), { code: 'INVALID_ARGUMENT', field: 'sysfsRoot', value: '' }, /absolute/);
  refused(t, () => sysfsRoot(undefined, { NETFD_SYSFS_ROOT: 'sys' }), { code: 'INVALID_ARGUMENT', field: 'NETFD_SYSFS_ROOT', value: 'sys' }, /absolute/);
  refused(t, () => sysfsRoot('/a\0b', {}), { code: 'INVALID_ARGUMENT', field: 'sysfsRoot', value: '/a\0b' });
  refused(t, () => expandPf('eth0', { sysfsRoot: 'relative' }), { code: 'INVALID_ARGUMENT', field: 'sysfsRoot', value: 'relative' });
});

// In a child process given the variable, so this one's environment stays as it is.
const POOL = path.join(__dirname, '..', '..', '..', 'dist', 'network', 'pool.js');

t.test('expandPf reads NETFD_SYSFS_ROOT when no option is given', { skip: fs.existsSync(POOL) ? false : 'dist/ is not built (npm run build:ts)' }, async (t) => {
  const root = tmpRoot(t);
  const want = fx.pfGaps(root);
  const script = `process.stdout.write(JSON.stringify(require(${JSON.stringify(POOL)}).expandPf(${JSON.stringify(want.pf)}).devices))`;
  const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, NETFD_SYSFS_ROOT: root }, encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.strictSame(JSON.parse(r.stdout), want.devices);
});

t.test('a PF with 64 VFs expands to its 64 netdevs in virtfn order', async (t) => {
  const root = tmpRoot(t);
  const want = fx.pf64(root);
  const x = expandPf('eth0', { sysfsRoot: root });
  t.strictSame(
    x.devices,
    range(64).map((n) => `enp1s0f0v${n}`),
    'v0..v63, numerically ordered (v10 after v9, not after v1)',
  );
  t.strictSame(x.devices, want.devices, 'what the fixture built');
  t.equal(x.pf, 'eth0');
  t.equal(x.pci, '0000:01:00.0');
  t.equal(x.totalVfs, 64);
  t.equal(x.numVfs, 64);
  t.strictSame(x.warnings, []);
  t.equal(x.vfs.length, 64);
  t.strictSame(x.vfs.slice(0, 2), [
    { index: 0, pci: '0000:01:10.0', netdev: 'enp1s0f0v0' },
    { index: 1, pci: '0000:01:10.2', netdev: 'enp1s0f0v1' },
  ]);
  t.strictSame(x.vfs[63], { index: 63, pci: '0000:01:1f.6', netdev: 'enp1s0f0v63' });
  t.strictSame(x.vfs, want.vfs);
});

t.test('virtfn numbers with gaps: what exists, in numeric order', async (t) => {
  const root = tmpRoot(t);
  const want = fx.pfGaps(root);
  const x = expandPf(want.pf, { sysfsRoot: root });
  t.strictSame(
    x.vfs.map((f) => f.index),
    [0, 1, 2, 5, 9, 10],
  );
  t.strictSame(x.devices, ['enp1s0f0v0', 'enp1s0f0v1', 'enp1s0f0v2', 'enp1s0f0v5', 'enp1s0f0v9', 'enp1s0f0v10']);
  t.strictSame(x.vfs, want.vfs);
  t.strictSame(x.warnings, [], 'gaps alone are not worth a warning when sriov_numvfs counts the links');
});

t.test('VFs without a netdev are skipped, each with a warning naming it', async (t) => {
  const root = tmpRoot(t);
  const want = fx.pfNoNetdev(root);
  const x = expandPf(want.pf, { sysfsRoot: root });
  t.strictSame(
    x.devices,
    [0, 1, 2, 4, 5, 7].map((n) => `enp1s0f0v${n}`),
  );
  t.strictSame(x.devices, want.devices);
  t.strictSame(
    x.vfs.filter((f) => f.netdev === null).map((f) => f.index),
    [3, 6],
    'skipped VFs stay in vfs with netdev null',
  );
  t.strictSame(x.warnings, [
    'PF eth2: VF 3 (0000:01:10.6) has no network device (no driver bound, or bound to vfio-pci); skipped',
    'PF eth2: VF 6 (0000:01:11.4) has no network device (no driver bound, or bound to vfio-pci); skipped',
  ]);
});

t.test('no usable VF: NO_VFS, with the reason', async (t) => {
  const root = tmpRoot(t);
  const all = fx.pfAllNoNetdev(root);
  const e = refused(t, () => expandPf(all.pf, { sysfsRoot: root }), pfErr('NO_VFS', 'eth3'));
  t.match(e?.message, /^no usable VFs on PF eth3 \(4 VFs, none has a network device/);

  const zero = fx.makePf(root, { pf: 'eth6', numVfs: 0, totalVfs: 64, vfs: [] });
  const z = refused(t, () => expandPf('eth6', { sysfsRoot: root }), pfErr('NO_VFS', 'eth6'));
  t.ok(z?.message.startsWith('no usable VFs on PF eth6 (sriov_numvfs is 0 of 64: echo N > '), String(z?.message));
  t.ok(z?.message.includes(`${zero.pci}/sriov_numvfs`), 'names the file to write');

  fx.makePf(root, { pf: 'eth7', numVfs: 4, vfs: [] });
  const n = refused(t, () => expandPf('eth7', { sysfsRoot: root }), pfErr('NO_VFS', 'eth7'));
  t.match(n?.message, /^no usable VFs on PF eth7 \(sriov_numvfs is 4 but .* has no virtfn links\)$/);

  fx.makePf(root, { pf: 'eth8', vfs: [{ n: 0, netdev: null }] });
  t.match(refused(t, () => expandPf('eth8', { sysfsRoot: root }), pfErr('NO_VFS', 'eth8'))?.message, /^no usable VFs on PF eth8 \(1 VF, none/);
});

t.test('not SR-IOV: NOT_SRIOV when there is no sriov_totalvfs or no PCI device at all', async (t) => {
  const root = tmpRoot(t);
  const plain = fx.pfNotSriov(root);
  refused(t, () => expandPf(plain.pf, { sysfsRoot: root }), pfErr('NOT_SRIOV', 'eth4'), new RegExp(`^PF eth4 \\(PCI ${plain.pci}\\) is not SR-IOV capable: no sriov_totalvfs`));

  // A virtual device (like a bridge or lo): class/net/NAME has no device link.
  const virt = path.join(root, 'devices', 'virtual', 'net', 'br0');
  fs.mkdirSync(virt, { recursive: true });
  fs.symlinkSync('../../devices/virtual/net/br0', path.join(root, 'class', 'net', 'br0'));
  refused(t, () => expandPf('br0', { sysfsRoot: root }), pfErr('NOT_SRIOV', 'br0'), /^PF br0 is not a PCI device \(no .*\/class\/net\/br0\/device link\), so it has no virtual functions$/);

  // A USB NIC: a device link, but not to a PCI function.
  const usb = path.join(root, 'devices', 'usb1', '1-1', '1-1:1.0');
  fs.mkdirSync(path.join(usb, 'net', 'usb0'), { recursive: true });
  fs.symlinkSync('../../../1-1:1.0', path.join(usb, 'net', 'usb0', 'device'));
  fs.symlinkSync('../../devices/usb1/1-1/1-1:1.0/net/usb0', path.join(root, 'class', 'net', 'usb0'));
  refused(t, () => expandPf('usb0', { sysfsRoot: root }), pfErr('NOT_SRIOV', 'usb0'), /not a PCI device \(its device is 1-1:1\.0\)/);
});

t.test('ENODEV for a PF that does not exist, INVALID_ARGUMENT for a bad name', async (t) => {
  const root = tmpRoot(t);
  refused(t, () => expandPf('eth0', { sysfsRoot: root }), pfErr('ENODEV', 'eth0'), new RegExp(`no network device eth0: ${root}/class/net/eth0 does not exist`));
  fx.pf64(root);
  refused(t, () => expandPf('eth9', { sysfsRoot: root }), pfErr('ENODEV', 'eth9'), /class\/net\/eth9 does not exist/);
  refused(t, () => expandPf('../eth0', { sysfsRoot: root }), { code: 'INVALID_ARGUMENT', field: 'pf', value: '../eth0' }, /interface name/);
  refused(t, () => expandPf('', { sysfsRoot: root }), { code: 'INVALID_ARGUMENT', field: 'pf', value: '' });
});

t.test('malformed or missing sriov_* files: EIO naming the file', async (t) => {
  const root = tmpRoot(t);
  const total = fx.makePf(root, { pf: 'eth0', totalVfs: 'lots', vfs: [{ n: 0, netdev: 'vf0' }] });
  refused(t, () => expandPf('eth0', { sysfsRoot: root }), pfErr('EIO', 'eth0'), new RegExp(`malformed .*${total.pci}/sriov_totalvfs: "lots\\\\n"`));
  fx.makePf(root, { pf: 'eth1', numVfs: '-1', vfs: [{ n: 0, netdev: 'vf1' }] });
  refused(t, () => expandPf('eth1', { sysfsRoot: root }), pfErr('EIO', 'eth1'), /malformed .*\/sriov_numvfs: "-1\\n"/);
  fx.makePf(root, { pf: 'eth2', numVfs: '', vfs: [{ n: 0, netdev: 'vf2' }] });
  refused(t, () => expandPf('eth2', { sysfsRoot: root }), pfErr('EIO', 'eth2'), /sriov_numvfs/);
  const gone = fx.makePf(root, { pf: 'eth3', vfs: [{ n: 0, netdev: 'vf3' }] });
  fs.rmSync(path.join(root, 'class', 'net', 'eth3', 'device', 'sriov_numvfs'));
  refused(t, () => expandPf('eth3', { sysfsRoot: root }), pfErr('EIO', 'eth3'), new RegExp(`${gone.pci}/sriov_numvfs`));
  fx.makePf(root, { pf: 'eth4', numVfs: ' 1 ', vfs: [{ n: 0, netdev: 'vf4' }] });
  t.equal(expandPf('eth4', { sysfsRoot: root }).numVfs, 1, 'surrounding whitespace is fine, as the kernel ends with a newline');
});

t.test('other read failures keep their system code and errno', async (t) => {
  const root = tmpRoot(t);
  const a = fx.makePf(root, { pf: 'eth0', vfs: [{ n: 0, netdev: 'vf0' }] });
  const total = path.join(root, 'class', 'net', 'eth0', 'device', 'sriov_totalvfs');
  fs.rmSync(total);
  fs.mkdirSync(total);
  const e = refused(t, () => expandPf('eth0', { sysfsRoot: root }), pfErr('EISDIR', 'eth0'), new RegExp(`cannot read .*${a.pci}/sriov_totalvfs`));
  t.equal(e?.errno, -21, 'errno kept');

  fx.makePf(root, { pf: 'eth1', vfs: [{ n: 0, netdev: 'vf1' }] });
  const link = path.join(root, 'class', 'net', 'eth1', 'device');
  fs.rmSync(link);
  fs.symlinkSync('device', link);
  refused(t, () => expandPf('eth1', { sysfsRoot: root }), pfErr('ELOOP', 'eth1'), /cannot read .*class\/net\/eth1\/device/);
});

t.test('odd trees: several netdevs on a VF, links not matching sriov_numvfs', async (t) => {
  const root = tmpRoot(t);
  const pf = fx.makePf(root, {
    pf: 'eth0',
    vfs: [
      { n: 0, netdev: 'vfb' },
      { n: 1, netdev: 'vfc' },
    ],
  });
  const vf0 = path.join(root, 'class', 'net', 'eth0', 'device', 'virtfn0', 'net');
  fs.mkdirSync(path.join(vf0, 'vfa'));
  let x = expandPf('eth0', { sysfsRoot: root });
  t.strictSame(x.devices, ['vfa', 'vfc'], 'the first name, sorted');
  t.strictSame(x.warnings, [`PF eth0: VF 0 (${pf.vfs[0].pci}) has 2 network devices (vfa, vfb); using vfa`]);

  fs.writeFileSync(path.join(root, 'class', 'net', 'eth0', 'device', 'sriov_numvfs'), '3\n');
  x = expandPf('eth0', { sysfsRoot: root });
  t.equal(x.numVfs, 3);
  t.strictSame(x.devices, ['vfa', 'vfc'], 'the links that exist are used');
  t.match(x.warnings, [/^PF eth0: sriov_numvfs is 3 but 2 virtfn links exist; using the links$/, /has 2 network devices/]);
});

t.test('several PFs share one root, each with its own bus and VFs', async (t) => {
  const root = tmpRoot(t);
  const pfs = [fx.pf64(root), fx.pfGaps(root), fx.pfNoNetdev(root), fx.pfAllNoNetdev(root), fx.pfNotSriov(root), fx.pfN(root, 3)];
  t.equal(new Set(pfs.map((p) => p.pci)).size, pfs.length, 'distinct PCI addresses');
  t.equal(
    new Set(pfs.flatMap((p) => p.vfs.map((f) => f.pci))).size,
    pfs.reduce((n, p) => n + p.vfs.length, 0),
    'distinct VF addresses',
  );
  for (const p of pfs.filter((p) => p.devices.length > 0)) t.strictSame(expandPf(p.pf, { sysfsRoot: root }).devices, p.devices, p.pf);
  t.strictSame(expandPf('eth1', { sysfsRoot: root }).devices, ['enp2s0f0v0', 'enp2s0f0v1', 'enp2s0f0v2', 'enp2s0f0v5', 'enp2s0f0v9', 'enp2s0f0v10'], 'names follow the PF bus');
  refused(t, () => expandPf('eth3', { sysfsRoot: root }), pfErr('NO_VFS', 'eth3'));
  refused(t, () => expandPf('eth4', { sysfsRoot: root }), pfErr('NOT_SRIOV', 'eth4'));
  t.throws(() => fx.pfGaps(root), /exists already/, 'the fixture refuses a PF name twice');
});

t.test('256 VFs expand in a few milliseconds', async (t) => {
  const root = tmpRoot(t);
  const want = fx.pfN(root, 256);
  expandPf(want.pf, { sysfsRoot: root }); // warm the dentry cache
  const started = process.hrtime.bigint();
  const x = expandPf(want.pf, { sysfsRoot: root });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.equal(x.devices.length, 256);
  t.strictSame(x.devices, want.devices);
  t.equal(x.devices[255], 'enp1s0f0v255');
  t.strictSame(x.vfs[255], { index: 255, pci: '0000:03:0f.6', netdev: 'enp1s0f0v255' }, 'VFs spill onto the following buses');
  t.ok(ms < 100, `took ${ms.toFixed(2)} ms (bound kept loose for slow CI)`);
});

t.test('the real /sys, read only: lo is not a PCI device', { skip: fs.existsSync('/sys/class/net/lo') ? false : 'no /sys/class/net/lo here' }, async (t) => {
  refused(t, () => expandPf('lo', { sysfsRoot: '/sys' }), pfErr('NOT_SRIOV', 'lo'), /^PF lo is not a PCI device \(no \/sys\/class\/net\/lo\/device link\)/);
});

t.test("pciNetdev: a device plugin's VF (deviceID) to its netdev through bus/pci/devices", async (t) => {
  const root = tmpRoot(t);
  const pf = fx.pfNoNetdev(root);
  const [withNetdev, without] = [pf.vfs[0], pf.vfs[3]];
  t.equal(pciNetdev(withNetdev.pci, { sysfsRoot: root }), withNetdev.netdev, 'the VF bound to its network driver');
  t.equal(pciNetdev(pf.pci, { sysfsRoot: root }), 'eth2', 'a PF is a PCI device with a netdev too');
  const err = (value: string) => ({ code: 'ENODEV', field: 'runtimeConfig.deviceID', value });
  refused(t, () => pciNetdev(without.pci, { sysfsRoot: root, field: 'runtimeConfig.deviceID' }), err(without.pci), /has no network device \(no driver bound, or bound to vfio-pci\)/);
  refused(t, () => pciNetdev('0000:7f:00.0', { sysfsRoot: root, field: 'runtimeConfig.deviceID' }), err('0000:7f:00.0'), /no PCI device 0000:7f:00.0/);
  refused(t, () => pciNetdev('../../x', { sysfsRoot: root }), { code: 'INVALID_ARGUMENT', field: 'pci', value: '../../x' }, /a PCI address/);
});
