// The host probe on fake roots (a /dev, /proc, /sys and /boot built per
// test) and on this host, where vhost-net is absent: the WARN must give the
// true reason, read independently here from the kernel's config.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { main } from '../../../lib/cli/main';
import { checkVhost, explainVhost, kernelConfig, moduleLoaded } from '../../../lib/sys/vhost-usable';
import { probeHost } from '../../../lib/host/probe';
import { makePf, pf64, pfGaps, pfNotSriov } from '../../../scripts/sriov-fixture';
import type { Asserts } from '../../helpers/refused';

interface Fake {
  devRoot: string;
  procRoot: string;
  sysfsRoot: string;
  bootRoot: string;
}

/** An empty fake host: dev, proc (osrelease 6.1.0-fake), sys, boot. */
function fakeHost(t: Asserts): Fake {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-probe-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const f = { devRoot: path.join(root, 'dev'), procRoot: path.join(root, 'proc'), sysfsRoot: path.join(root, 'sys'), bootRoot: path.join(root, 'boot') };
  for (const d of Object.values(f)) fs.mkdirSync(d, { recursive: true });
  fs.mkdirSync(path.join(f.procRoot, 'sys', 'kernel'), { recursive: true });
  fs.writeFileSync(path.join(f.procRoot, 'sys', 'kernel', 'osrelease'), '6.1.0-fake\n');
  fs.mkdirSync(path.join(f.sysfsRoot, 'class', 'net'), { recursive: true });
  return f;
}

const config = (f: Fake, line: string, where: 'proc' | 'boot' = 'proc') => {
  const text = `CONFIG_TUN=y\n${line}\nCONFIG_MACVTAP=y\n`;
  if (where === 'proc') fs.writeFileSync(path.join(f.procRoot, 'config.gz'), gzipSync(text));
  else fs.writeFileSync(path.join(f.bootRoot, 'config-6.1.0-fake'), text);
};

t.test('why vhost-net is not usable: each reason from the kernel config, the modules and the error', async (t) => {
  const f = fakeHost(t);
  const dev = path.join(f.devRoot, 'vhost-net');
  t.equal(kernelConfig('CONFIG_VHOST_NET', f), null, 'no config readable');
  t.match(explainVhost('ENOENT', dev, f), { reason: 'MODULE_NOT_LOADED', why: /does not exist and no vhost_net module is loaded/ });

  config(f, '# CONFIG_VHOST_NET is not set');
  t.strictSame(kernelConfig('CONFIG_VHOST_NET', f), { value: 'n', source: path.join(f.procRoot, 'config.gz') });
  t.match(explainVhost('ENOENT', dev, f), { reason: 'NOT_BUILT', why: /not built into this kernel \(CONFIG_VHOST_NET is not set in .*config\.gz\)/, fix: /CONFIG_VHOST_NET=m/ });

  fs.rmSync(path.join(f.procRoot, 'config.gz'));
  config(f, 'CONFIG_VHOST_NET=m', 'boot');
  t.strictSame(kernelConfig('CONFIG_VHOST_NET', f), { value: 'm', source: path.join(f.bootRoot, 'config-6.1.0-fake') }, '/boot/config-RELEASE when there is no /proc/config.gz');
  t.match(explainVhost('ENOENT', dev, f), { reason: 'MODULE_NOT_LOADED', fix: /^modprobe vhost_net/ });
  fs.writeFileSync(path.join(f.procRoot, 'modules'), 'tun 61440 0 - Live 0x0\nvhost_net 32768 0 - Live 0x0\n');
  t.ok(moduleLoaded('vhost_net', f), '/proc/modules');
  t.match(
    explainVhost('ENOENT', dev, f),
    { reason: 'NO_NODE', why: /CONFIG_VHOST_NET=m.*does not exist/, fix: /mknod .*vhost-net c 10 238/ },
    'built and loaded, but the node is missing (a container /dev)',
  );
  fs.rmSync(path.join(f.procRoot, 'modules'));
  fs.mkdirSync(path.join(f.sysfsRoot, 'module', 'vhost_net'), { recursive: true });
  t.ok(moduleLoaded('vhost_net', f), '/sys/module');
  t.match(explainVhost('ENXIO', dev, f), { reason: 'NO_DRIVER' });
  t.match(explainVhost('EACCES', dev, f), { reason: 'PERMISSION', fix: /access to/ });
  t.match(explainVhost('EIO', dev, f), { reason: 'OTHER' });
});

t.test('probe on fake hosts: no tun is a FAIL, a stand-in vhost device a WARN, kvm and cpu flags', async (t) => {
  const f = fakeHost(t);
  config(f, 'CONFIG_VHOST_NET=m');
  fs.writeFileSync(path.join(f.procRoot, 'cpuinfo'), 'processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae vmx ept\n');
  fs.writeFileSync(path.join(f.devRoot, 'kvm'), ''); // a plain file: opens, but is not KVM
  const r = await probeHost({ ...f, only: ['kvm', 'cpu-virt', 'tun', 'vhost-net'] });
  t.equal(r.kernel, '6.1.0-fake');
  t.match(r.checks, [
    { id: 'kvm', level: 'WARN', summary: /not usable: ENOTTY/ },
    { id: 'cpu-virt', level: 'PASS', details: { flags: ['vmx'] } },
    { id: 'tun', level: 'FAIL', summary: /net\/tun is not usable: ENOENT/, hint: /mknod .* c 10 200/ },
    { id: 'vhost-net', level: 'WARN', details: { reason: 'MODULE_NOT_LOADED', usable: false }, hint: /modprobe vhost_net/ },
  ]);
  t.equal(r.ok, false, 'a FAIL makes the report not ok');

  // vhost "present": a stand-in node (here /dev/null) opens read-write, which
  // is what the driver policy calls usable; the probe says it is no vhost-net.
  fs.symlinkSync('/dev/null', path.join(f.devRoot, 'vhost-net'));
  fs.mkdirSync(path.join(f.devRoot, 'net'));
  fs.symlinkSync('/dev/net/tun', path.join(f.devRoot, 'net', 'tun'));
  const r2 = await probeHost({ ...f, only: ['tun', 'vhost-net'] });
  t.match(r2.checks, [
    { id: 'tun', level: 'PASS', details: { multiQueue: true, vnetHdr: true } },
    { id: 'vhost-net', level: 'WARN', summary: /opens read-write but does not answer VHOST_GET_FEATURES/, details: { usable: true, features: null } },
  ]);
  t.equal(r2.ok, true, 'WARNs alone keep the report ok');
  const c = await checkVhost({ ...f, device: path.join(f.devRoot, 'vhost-net'), count: 2 });
  t.equal(c.usable, true, 'the driver policy would use it');
  if (c.usable) {
    t.equal(c.fds.fds.length, 2);
    c.fds.close();
  }
});

t.test('probe: SR-IOV physical functions on fixture trees (several, none)', async (t) => {
  const f = fakeHost(t);
  t.match((await probeHost({ ...f, only: ['sriov'] })).checks, [{ id: 'sriov', level: 'WARN', summary: 'no SR-IOV capable network device', details: { pfs: [] } }]);
  pf64(f.sysfsRoot);
  pfGaps(f.sysfsRoot);
  pfNotSriov(f.sysfsRoot);
  makePf(f.sysfsRoot, { pf: 'eth7', totalVfs: 16, numVfs: 0, vfs: [] });
  const [s] = (await probeHost({ ...f, only: ['sriov'] })).checks;
  t.equal(s.level, 'PASS');
  t.strictSame(
    s.details.pfs,
    [
      { pf: 'eth0', totalVfs: 64, enabledVfs: 64, vfNetdevs: 64 },
      { pf: 'eth1', totalVfs: 64, enabledVfs: 6, vfNetdevs: 6 },
      { pf: 'eth7', totalVfs: 16, enabledVfs: 0, vfNetdevs: 0 },
    ],
    'every PF with total and enabled VFs; the non-SR-IOV NIC is not one',
  );
  t.match(s.summary, 'eth7 0/16 VFs enabled, 0 with a netdev');
});

t.test('probe on this host: vhost-net absent, and the reason is the true one', async (t) => {
  const dev = process.env.NETFD_VHOST_DEVICE || '/dev/vhost-net';
  const [v] = (await probeHost({ only: ['vhost-net'] })).checks;
  if (fs.existsSync(dev)) {
    // Present here (the absent case is covered by the fake hosts above): a usable device, or the reason it is not.
    t.ok(v.details.usable === true || typeof v.details.reason === 'string', `${dev} exists: ${v.summary}`);
    return;
  }
  t.equal(v.level, 'WARN');
  // Read the kernel's own word independently of netfd's code.
  let built: string | null;
  try {
    const cfg = execFileSync('zcat', ['/proc/config.gz'], { encoding: 'utf8' });
    built = /^CONFIG_VHOST_NET=([ym])$/m.exec(cfg)?.[1] ?? 'n';
  } catch {
    built = null;
  }
  if (built === 'n') t.match(v, { details: { reason: 'NOT_BUILT' }, summary: /not built into this kernel/ }, 'CONFIG_VHOST_NET is not set here, and the probe says so');
  else if (built === 'm') t.match(v.details.reason, /MODULE_NOT_LOADED|NO_NODE/);
  else t.ok(v.details.reason, `reason given: ${String(v.details.reason)}`);
});

t.test('netfd probe: human lines, --json, exit 1 only on FAIL, bad options', async (t) => {
  const f = fakeHost(t);
  const run = async (...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
    return { code, out, err };
  };
  const roots = ['--dev-root', f.devRoot, '--proc-root', f.procRoot, '--boot-root', f.bootRoot, '--sysfs-root', f.sysfsRoot];
  const failing = await run('probe', ...roots, '--only', 'tun,sriov');
  t.equal(failing.code, 1, 'a FAIL exits 1');
  t.match(failing.out, /^FAIL {2}tun +.*\n +hint: mknod .*\nWARN {2}sriov +no SR-IOV capable network device\n/);
  t.notMatch(failing.out, '\x1b[', 'no colour when not a terminal');
  const ok = await run('probe', ...roots, '--only', 'sriov', '--json');
  t.equal(ok.code, 0, 'WARN only: exit 0');
  t.match(JSON.parse(ok.out), { version: 1, kernel: '6.1.0-fake', ok: true, checks: [{ id: 'sriov', level: 'WARN', summary: String, details: { pfs: [] } }] });
  t.match(await run('probe', '--only', 'kvm,warp'), { code: 1, err: /INVALID_ARGUMENT: invalid only "warp": one of kvm, cpu-virt/ });
  t.match(await run('probe', '--dev-root', 'dev'), { code: 1, err: /invalid dev-root "dev"/ });
});
