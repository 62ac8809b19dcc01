// qemu command lines for a domain: -netdev/-device per interface, with the fd
// numbers qemu will see, and the small domain subset netfd runs. Pure.
import type { DriverDecision, InterfacePlan } from '../policy/interface';
import type { DiskDef, DomainDef } from '../xml/domain';

/** The qemu binary when the domain names no `<emulator>`. */
export const DEFAULT_EMULATOR = 'qemu-system-x86_64';

/** One interface as qemu gets it: fd numbers are the ones in qemu's table. */
export interface NetArgs {
  plan: InterfacePlan;
  decision: DriverDecision;
  tapFds: number[];
  vhostFds: number[];
}

/** qemu's option syntax doubles commas inside values. */
export const escapeValue = (s: string): string => s.replace(/,/g, ',,');

const props = (list: [string, string | number][]) => list.map(([k, x]) => `${k}=${x}`).join(',');

/**
 * Child fd numbers for each interface, in order: the tap (or macvtap) queues,
 * then the vhost fds, counting up from `first` (3: after stdin/out/err).
 */
export function childFds(counts: { tap: number; vhost: number }[], first = 3): { tapFds: number[]; vhostFds: number[] }[] {
  let next = first;
  const take = (n: number) => Array.from({ length: n }, () => next++);
  return counts.map((c) => ({ tapFds: take(c.tap), vhostFds: take(c.vhost) }));
}

/** `tap,id=hostnet0,fd=3,vhost=off` / `tap,id=…,fds=3:4,vhost=on,vhostfds=5:6` */
export function netdevArg(n: NetArgs): string {
  const { plan, decision } = n;
  if (n.tapFds.length !== plan.queues) throw new Error(`netdevArg: ${plan.path} has ${plan.queues} queues but ${n.tapFds.length} fds`);
  const list: [string, string | number][] = [['id', plan.netdevId]];
  list.push(plan.queues > 1 ? ['fds', n.tapFds.join(':')] : ['fd', n.tapFds[0]]);
  if (decision.vhost) {
    if (n.vhostFds.length !== plan.queues) throw new Error(`netdevArg: ${plan.path} needs ${plan.queues} vhost fds, got ${n.vhostFds.length}`);
    list.push(['vhost', 'on'], plan.queues > 1 ? ['vhostfds', n.vhostFds.join(':')] : ['vhostfd', n.vhostFds[0]]);
  } else {
    // QEMU 7.2 aborts when it tries vhost and cannot: say off explicitly.
    list.push(['vhost', 'off']);
  }
  if (plan.sndbuf !== undefined) list.push(['sndbuf', plan.sndbuf]);
  return `tap,${props(list)}`;
}

/** `virtio-net-pci,netdev=hostnet0,id=net0,mac=…[,mq=on,vectors=N][,…]` */
export function deviceArg(n: NetArgs): string {
  const { plan } = n;
  const list: [string, string | number][] = [
    ['netdev', plan.netdevId],
    ['id', plan.deviceId],
    ['mac', plan.mac],
  ];
  if (plan.vectors !== null) list.push(['mq', 'on'], ['vectors', plan.vectors]);
  list.push(...plan.deviceProps.map(([k, x]): [string, string] => [k, escapeValue(x)]));
  return `${plan.device},${props(list)}`;
}

/** Options of {@link domainArgv}. */
export interface ArgvOptions {
  /** Path of the QMP unix socket qemu listens on. */
  qmp?: string | undefined;
}

/** `-qmp`'s value for a unix socket at `path` that qemu binds itself: `unix:PATH,server=on,wait=off`. */
export const qmpArg = (path: string): string => `unix:${escapeValue(path)},server=on,wait=off`;

/** The chardev id of the QMP socket netfd makes and hands to qemu as an fd. */
export const QMP_CHARDEV_ID = 'netfd-qmp';

/**
 * A QMP monitor on a listening socket qemu inherits as fd `fd` (netfd bound
 * it): `-chardev socket,id=netfd-qmp,fd=N,server=on,wait=off -mon
 * chardev=netfd-qmp,mode=control` (`-qmp` takes no fd).
 */
export function qmpFdArgv(fd: number): string[] {
  return ['-chardev', `socket,id=${QMP_CHARDEV_ID},fd=${fd},server=on,wait=off`, '-mon', `chardev=${QMP_CHARDEV_ID},mode=control`];
}

/**
 * `argv` with its `-qmp unix:PATH,…` for `path` (domainArgv's) replaced, in
 * place, by {@link qmpFdArgv}; appended when there is none. A copy.
 */
export function withQmpFd(argv: readonly string[], path: string, fd: number): string[] {
  const want = qmpArg(path);
  const at = argv.findIndex((a, i) => a === '-qmp' && argv[i + 1] === want);
  return at < 0 ? [...argv, ...qmpFdArgv(fd)] : [...argv.slice(0, at), ...qmpFdArgv(fd), ...argv.slice(at + 2)];
}

function memoryArg(kib: number): string {
  return kib % 1024 === 0 ? String(kib / 1024) : `${kib}k`;
}

/**
 * The interfaces' arguments alone: -netdev/-device per interface, fds as
 * numbered in `nets` (what a VM manager building the rest needs).
 */
export function netArgv(nets: NetArgs[]): string[] {
  return nets.flatMap((n) => ['-netdev', netdevArg(n), '-device', deviceArg(n)]);
}

/**
 * `-drive` for a disk, as libvirt's -drive (qemuBuildDriveStr) spells its
 * <driver> options; the device is qemu's own for if=virtio|ide. A block
 * device is opened with qemu's host_device driver, as libvirt does.
 */
export function driveArg(d: DiskDef): string {
  const list: [string, string | number][] = [['file', escapeValue(d.source)]];
  if (d.type === 'block') list.push(['file.driver', 'host_device']);
  list.push(['format', d.format], ['if', d.bus], ['index', d.index]);
  if (d.device === 'cdrom') list.push(['media', 'cdrom']);
  if (d.readonly) list.push(['readonly', 'on']);
  // enospace is qemu's enospc and only for writes; rerror follows werror otherwise.
  if (d.errorPolicy) list.push(['werror', d.errorPolicy === 'enospace' ? 'enospc' : d.errorPolicy]);
  const rerror = d.rerrorPolicy ?? (d.errorPolicy === 'enospace' ? undefined : d.errorPolicy);
  if (rerror) list.push(['rerror', rerror]);
  if (d.cache) list.push(['cache', d.cache]);
  if (d.copyOnRead !== undefined) list.push(['copy-on-read', d.copyOnRead ? 'on' : 'off']);
  if (d.discard) list.push(['discard', d.discard]);
  // detect_zeroes='unmap' is 'on' unless discards are unmapped.
  if (d.detectZeroes) list.push(['detect-zeroes', d.detectZeroes === 'unmap' && d.discard !== 'unmap' ? 'on' : d.detectZeroes]);
  if (d.io) list.push(['aio', d.io]);
  return props(list);
}

/** The whole command line, argv[0] included. */
export function domainArgv(def: DomainDef, nets: NetArgs[], o: ArgvOptions = {}): string[] {
  if (def.netOnly) throw new Error(`domainArgv: domain ${def.name} was parsed with { netOnly: true }; use netArgv()`);
  const a: string[] = [def.emulator ?? DEFAULT_EMULATOR];
  a.push('-name', `guest=${escapeValue(def.name)}`);
  if (def.uuid) a.push('-uuid', def.uuid);
  if (def.os.machine) a.push('-machine', def.os.machine);
  a.push('-accel', def.type === 'kvm' ? 'kvm' : 'tcg');
  a.push('-m', memoryArg(def.memoryKiB), '-smp', String(def.vcpus));
  a.push('-nodefaults', '-no-user-config', '-display', 'none');
  if (def.onReboot === 'destroy') a.push('-no-reboot');
  if (def.os.kernel) a.push('-kernel', def.os.kernel);
  if (def.os.initrd) a.push('-initrd', def.os.initrd);
  if (def.os.cmdline !== undefined) a.push('-append', def.os.cmdline);
  for (const s of def.serials) a.push('-serial', s.type === 'file' ? `file:${s.path}` : s.type);
  for (const d of def.disks) a.push('-drive', driveArg(d));
  a.push(...netArgv(nets));
  if (o.qmp) a.push('-qmp', qmpArg(o.qmp));
  a.push(...def.qemuArgs); // <qemu:commandline>, last as libvirt puts them
  return a;
}

const shellQuote = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Options one per line (an option and its value together), shell-quoted. */
function optionLines(args: string[]): string[] {
  const lines: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (args[i].startsWith('-') && next !== undefined && !next.startsWith('-')) {
      lines.push(`${shellQuote(args[i])} ${shellQuote(next)}`);
      i++;
    } else lines.push(shellQuote(args[i]));
  }
  return lines;
}

/** A shell-safe rendering of argv, one option per line, for people. */
export function formatArgv(argv: string[]): string {
  return [shellQuote(argv[0]), ...optionLines(argv.slice(1))].join(' \\\n  ') + '\n';
}

/** A shell-safe rendering of options without a program (`netArgv`'s), one per line. */
export function formatArgs(args: string[]): string {
  return args.length ? optionLines(args).join(' \\\n') + '\n' : '';
}
