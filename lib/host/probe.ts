// `netfd probe`: what this host can give guests, each check proven by trying
// (opening the device, asking the driver, creating the link in a scratch
// namespace, running qemu), never guessed from a file being there.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NetfdError } from '../errors';
import { deleteLink, setLink } from '../sys/link';
import { Macvtap, createMacvtap } from '../sys/macvtap';
import { native } from '../sys/native';
import { expandPf, sysfsRoot } from '../network/pool';
import { Tap, tunFeatures } from '../sys/tap';
import { checkVhost, HostRoots } from '../sys/vhost-usable';

/** How a probe check came out: FAIL only for what netfd cannot work without. */
export type Level = 'PASS' | 'WARN' | 'FAIL';

/** One check: a stable id, its level, one line, and what to do about it. */
export interface Check {
  id: string;
  level: Level;
  summary: string;
  hint?: string;
  details: Record<string, unknown>;
}

/** The probe's answer (`netfd probe --json`): the kernel release and one check per line. */
export interface ProbeReport {
  version: 1;
  kernel: string;
  checks: Check[];
  /** False when a FAIL-level check failed. */
  ok: boolean;
}

/** Every probe check, in the order they run: the values of `ProbeOptions.only`. */
export const CHECK_IDS = ['kvm', 'cpu-virt', 'tun', 'vhost-net', 'macvtap', 'macvlan', 'bridge', 'sriov', 'qemu'] as const;
/** One probe check's id. */
export type CheckId = (typeof CHECK_IDS)[number];

export interface ProbeOptions extends HostRoots {
  /** Where the device nodes are (default /dev). */
  devRoot?: string | undefined;
  /** The vhost device (default NETFD_VHOST_DEVICE or DEV_ROOT/vhost-net). */
  vhostDevice?: string | undefined;
  /** qemu binaries to try (default every qemu-system-* and qemu-kvm on PATH). */
  qemu?: string[] | undefined;
  /** Only these checks, in this order (default all). */
  only?: readonly CheckId[] | undefined;
}

const check = (id: string, level: Level, summary: string, details: Record<string, unknown> = {}, hint?: string): Check =>
  hint === undefined ? { id, level, summary, details } : { id, level, summary, hint, details };

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

async function kvm(o: ProbeOptions): Promise<Check> {
  const dev = path.join(o.devRoot ?? '/dev', 'kvm');
  try {
    const api = await native().kvmApiVersion({ path: dev });
    if (api !== 12) return check('kvm', 'WARN', `${dev} answers KVM API version ${api}, not 12`, { device: dev, api }, 'qemu may refuse it; use accel tcg');
    return check('kvm', 'PASS', `${dev} opens and answers KVM_GET_API_VERSION (12)`, { device: dev, api });
  } catch (err) {
    const e = err as NetfdError;
    const hint: Record<string, string> = {
      ENOENT: 'load kvm_intel or kvm_amd, enable virtualisation in the firmware, or pass /dev/kvm into the container; qemu falls back to TCG (slow)',
      EACCES: `add the user to the group of ${dev} (usually kvm)`,
      ENOTTY: `${dev} is not the KVM device`,
    };
    return check('kvm', 'WARN', `${dev} is not usable: ${e.code}`, { device: dev, code: e.code, error: e.message }, hint[e.code] ?? 'qemu falls back to TCG (slow)');
  }
}

function cpuVirt(o: ProbeOptions): Check {
  const file = path.join(o.procRoot ?? '/proc', 'cpuinfo');
  const info = readText(file);
  if (info === null) return check('cpu-virt', 'WARN', `${file} is not readable`, { file });
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? '').split(/\s+/));
  const has = ['vmx', 'svm'].filter((f) => flags.has(f));
  if (has.length) return check('cpu-virt', 'PASS', `the CPU has hardware virtualisation (${has.join(', ')})`, { flags: has });
  return check('cpu-virt', 'WARN', 'the CPU shows no vmx or svm flag', { flags: [] }, 'enable VT-x/AMD-V in the firmware (or nested virtualisation for a VM); qemu falls back to TCG');
}

async function tun(o: ProbeOptions): Promise<Check> {
  const device = path.join(o.devRoot ?? '/dev', 'net', 'tun');
  try {
    const f = await tunFeatures({ device });
    const missing = [...(f.multiQueue ? [] : ['IFF_MULTI_QUEUE']), ...(f.vnetHdr ? [] : ['IFF_VNET_HDR'])];
    const details = { device, flags: f.flags, multiQueue: f.multiQueue, vnetHdr: f.vnetHdr };
    if (missing.length) return check('tun', 'WARN', `${device} opens; the driver lacks ${missing.join(' and ')}`, details, 'multiqueue taps or virtio offloads are not available on this kernel');
    return check('tun', 'PASS', `${device} opens; TUNGETFEATURES has IFF_MULTI_QUEUE and IFF_VNET_HDR`, details);
  } catch (err) {
    const e = err as NetfdError;
    return check(
      'tun',
      'FAIL',
      `${device} is not usable: ${e.code}`,
      { device, code: e.code, error: e.message },
      e.code === 'ENOENT' ? `mknod ${device} c 10 200 (or modprobe tun); netfd cannot make taps without it` : 'netfd cannot make taps without it',
    );
  }
}

async function vhostNet(o: ProbeOptions): Promise<Check> {
  const device = o.vhostDevice ?? (process.env.NETFD_VHOST_DEVICE || path.join(o.devRoot ?? '/dev', 'vhost-net'));
  const c = await checkVhost({ ...o, device });
  if (!c.usable) return check('vhost-net', 'WARN', `vhost-net is not usable: ${c.why}`, { device, usable: false, code: c.code, reason: c.reason }, c.fix);
  c.fds.close();
  if (c.features === null)
    return check(
      'vhost-net',
      'WARN',
      `${device} opens read-write but does not answer VHOST_GET_FEATURES: not vhost-net (a stand-in?)`,
      { device, usable: true, features: null },
      'netfd would pass its fds to qemu as vhost fds; check the path',
    );
  return check('vhost-net', 'PASS', `${device} opens; VHOST_GET_FEATURES 0x${c.features.toString(16)}`, { device, usable: true, features: `0x${c.features.toString(16)}` });
}

/** How a command ended: its exit status (null when it did not run or was killed), output, and why it did not run. */
interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
  error?: Error;
}

/** Runs a command without blocking the event loop (the probe is async: the JS thread never waits on a child). */
function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: string | number; killed?: boolean }) | null;
      if (!e) resolve({ status: 0, stdout, stderr });
      else if (typeof e.code === 'number') resolve({ status: e.code, stdout, stderr });
      else resolve({ status: null, stdout, stderr, error: e.killed ? new Error(`${cmd} did not finish within ${timeoutMs} ms`) : e });
    });
  });
}

/** A scratch namespace with a veth pair v0/v1, removed by the returned function. */
type Scratch = { ns: string; remove: () => Promise<void> } | { error: string };

async function scratchNetns(): Promise<Scratch> {
  const ns = `netfd-probe-${process.pid}`;
  const ip = (...a: string[]) => run('ip', a);
  const r = await ip('netns', 'add', ns);
  if (r.error || r.status !== 0) return { error: (r.error?.message ?? r.stderr).trim() };
  const remove = async () => void (await ip('netns', 'del', ns));
  const v = await ip('-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
  if (v.status !== 0) {
    await remove();
    return { error: `veth: ${v.stderr.trim()}` };
  }
  await ip('-n', ns, 'link', 'set', 'v0', 'up');
  return { ns, remove };
}

/** macvtap (created and its character device opened), macvlan and bridge, in a scratch namespace. */
async function links(ids: readonly CheckId[], s: Scratch): Promise<Check[]> {
  if ('error' in s) return ids.map((id) => check(id, 'WARN', `not tried: no scratch network namespace (${s.error})`, {}, 'run as root (CAP_NET_ADMIN and CAP_SYS_ADMIN) with iproute2'));
  const out: Check[] = [];
  for (const id of ids) {
    try {
      if (id === 'macvtap') {
        const m = await Macvtap.create({ netns: s.ns, link: 'v0', mode: 'bridge', name: 'probe0' });
        const n = m.fds.length;
        await m.destroy();
        out.push(check(id, 'PASS', `created a macvtap (bridge mode) on a veth in a scratch namespace, opened its character device (${n} fd), deleted it`, {}));
      } else if (id === 'macvlan') {
        const l = await createMacvtap({ netns: s.ns, link: 'v0', mode: 'vepa', name: 'probe1', kind: 'macvlan' });
        await deleteLink(l.index, { netns: s.ns });
        out.push(check(id, 'PASS', 'created a macvlan (vepa mode) on a veth in a scratch namespace, deleted it', {}));
      } else {
        const r = await run('ip', ['-n', s.ns, 'link', 'add', 'probebr0', 'type', 'bridge']);
        if (r.status !== 0) throw new NetfdError((r.error?.message ?? r.stderr).trim(), { code: 'EOPNOTSUPP' });
        await setLink('v1', { netns: s.ns, master: 'probebr0', up: true });
        await deleteLink('probebr0', { netns: s.ns });
        out.push(check(id, 'PASS', 'created a bridge in a scratch namespace, attached a veth to it, deleted it', {}));
      }
    } catch (err) {
      const e = err as NetfdError;
      out.push(check(id, 'FAIL', `could not create a ${id}: ${e.code ? `${e.code}: ` : ''}${e.message}`, { code: e.code }, `the kernel needs CONFIG_${id === 'bridge' ? 'BRIDGE' : id.toUpperCase()}`));
    }
  }
  return out;
}

function sriov(o: ProbeOptions): Check {
  const root = sysfsRoot(o.sysfsRoot);
  const dir = path.join(root, 'class', 'net');
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch {
    return check('sriov', 'WARN', `${dir} is not readable`, { pfs: [] });
  }
  const pfs = [];
  for (const name of names) {
    const total = readText(path.join(dir, name, 'device', 'sriov_totalvfs'));
    if (total === null) continue;
    const enabled = Number(readText(path.join(dir, name, 'device', 'sriov_numvfs')) ?? '0');
    let usable: number;
    try {
      usable = expandPf(name, { sysfsRoot: root }).devices.length;
    } catch {
      usable = 0;
    }
    pfs.push({ pf: name, totalVfs: Number(total), enabledVfs: enabled, vfNetdevs: usable });
  }
  if (!pfs.length) return check('sriov', 'WARN', 'no SR-IOV capable network device', { pfs }, 'networks with <pf dev> need one; explicit <interface dev> pools work anywhere');
  const line = pfs.map((p) => `${p.pf} ${p.enabledVfs}/${p.totalVfs} VFs enabled, ${p.vfNetdevs} with a netdev`).join('; ');
  return check('sriov', 'PASS', `SR-IOV: ${line}`, { pfs });
}

/** qemu binaries on PATH (qemu-system-*, qemu-kvm). */
function findQemus(): string[] {
  const found = new Map<string, string>();
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names.sort()) if ((/^qemu-system-[a-z0-9_]+$/.test(n) || n === 'qemu-kvm') && !found.has(n)) found.set(n, path.join(dir, n));
  }
  return [...found.values()];
}

/** Runs qemu with a tap fd at 3 (`-netdev tap,fd=3,vhost=off`), machine none, then QMP quit: exit 0 means it took the fd. */
async function takesTapFd(bin: string, fd: number): Promise<string | null> {
  const child = spawn(bin, ['-machine', 'none', '-nodefaults', '-display', 'none', '-S', '-netdev', 'tap,id=probe0,fd=3,vhost=off', '-qmp', 'stdio'], { stdio: ['pipe', 'pipe', 'pipe', fd] });
  let err = '';
  const [stdin, stdout, stderr] = [child.stdin as NodeJS.WritableStream, child.stdout as NodeJS.ReadableStream, child.stderr as NodeJS.ReadableStream];
  stderr.on('data', (d) => (err += String(d)));
  stdout.resume();
  stdin.on('error', () => undefined);
  stdin.end('{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const code = await new Promise<number | null>((resolve) => {
    child.once('error', (e) => {
      err = e.message;
      resolve(-1);
    });
    child.once('close', (c) => resolve(c));
  });
  clearTimeout(timer);
  return code === 0 ? null : err.trim().split('\n')[0] || `exit ${code}`;
}

async function qemu(o: ProbeOptions, scratch: () => Promise<Scratch>): Promise<Check[]> {
  const bins = o.qemu ?? findQemus();
  if (!bins.length) return [check('qemu', 'FAIL', 'no qemu-system-* or qemu-kvm on PATH', { binaries: [] }, 'apt-get install qemu-system-x86 (netfd launch needs a qemu)')];
  const out: Check[] = [];
  for (const bin of bins) {
    const v = await run(bin, ['-version']);
    const version = /version (\S+)/.exec(v.stdout)?.[1] ?? null;
    if (v.status !== 0 || !version) {
      out.push(check('qemu', 'FAIL', `${bin} does not run: ${(v.error?.message ?? v.stderr ?? '').trim().split('\n')[0]}`, { binary: bin }));
      continue;
    }
    const s = await scratch();
    if ('error' in s) {
      out.push(check('qemu', 'WARN', `${bin} ${version}; tap fds not tried (no scratch namespace: ${s.error})`, { binary: bin, version, tapFd: null }, 'run as root to prove it'));
      continue;
    }
    const tap = await Tap.create({ netns: s.ns, name: 'probetap0', vnetHdr: true });
    let refused: string | null;
    try {
      refused = await takesTapFd(bin, tap.fds[0]);
    } finally {
      await tap.destroy();
    }
    if (refused)
      out.push(
        check('qemu', 'FAIL', `${bin} ${version} refused -netdev tap,fd=3,vhost=off: ${refused}`, { binary: bin, version, tapFd: false }, 'netfd hands qemu tap fds; this qemu cannot take them'),
      );
    else out.push(check('qemu', 'PASS', `${bin} ${version} takes a tap fd with vhost options (-netdev tap,fd=3,vhost=off)`, { binary: bin, version, tapFd: true, vhostOption: true }));
  }
  return out;
}

/** Runs the checks; never throws for what the host lacks (that is a check's level). */
export async function probeHost(o: ProbeOptions = {}): Promise<ProbeReport> {
  const ids = o.only ?? CHECK_IDS;
  const checks: Check[] = [];
  const linkIds = ids.filter((id) => id === 'macvtap' || id === 'macvlan' || id === 'bridge');
  let linksDone = false;
  // One scratch namespace for the link checks and qemu, made when first needed.
  let made: Promise<Scratch> | undefined;
  const scratch = () => (made ??= scratchNetns());
  try {
    for (const id of ids) {
      if (id === 'kvm') checks.push(await kvm(o));
      else if (id === 'cpu-virt') checks.push(cpuVirt(o));
      else if (id === 'tun') checks.push(await tun(o));
      else if (id === 'vhost-net') checks.push(await vhostNet(o));
      else if (id === 'sriov') checks.push(sriov(o));
      else if (id === 'qemu') checks.push(...(await qemu(o, scratch)));
      else if (!linksDone) {
        linksDone = true;
        checks.push(...(await links(linkIds, await scratch())));
      }
    }
  } finally {
    const s = made && (await made);
    if (s && !('error' in s)) await s.remove();
  }
  const kernel = readText(path.join(o.procRoot ?? '/proc', 'sys/kernel/osrelease'))?.trim() ?? os.release();
  return { version: 1, kernel, checks, ok: checks.every((c) => c.level !== 'FAIL') };
}

/** The human report: one line per check, coloured on a terminal. */
export function formatProbe(r: ProbeReport, color = false): string {
  const paint: Record<Level, string> = { PASS: '\x1b[32m', WARN: '\x1b[33m', FAIL: '\x1b[31m' };
  const lines = r.checks.map((c) => {
    const level = color ? `${paint[c.level]}${c.level}\x1b[0m` : c.level;
    return `${level}  ${c.id.padEnd(10)} ${c.summary}${c.hint ? `\n      ${' '.repeat(10)} hint: ${c.hint}` : ''}`;
  });
  return `${lines.join('\n')}\n`;
}
