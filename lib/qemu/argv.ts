// qemu command lines for a domain: -netdev/-device per interface, with the fd
// numbers qemu will see, and the small domain subset netfd runs. Pure.
import type { DriverDecision, InterfacePlan } from '../policy/interface';
import type { DomainDef } from '../xml/domain';

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
  const list: [string, string | number][] = [['netdev', plan.netdevId], ['id', plan.deviceId], ['mac', plan.mac]];
  if (plan.vectors !== null) list.push(['mq', 'on'], ['vectors', plan.vectors]);
  list.push(...plan.deviceProps.map(([k, x]): [string, string] => [k, escapeValue(x)]));
  return `${plan.device},${props(list)}`;
}

export interface ArgvOptions {
  /** Path of the QMP unix socket qemu listens on. */
  qmp?: string;
}

function memoryArg(kib: number): string {
  return kib % 1024 === 0 ? String(kib / 1024) : `${kib}k`;
}

/** The whole command line, argv[0] included. */
export function domainArgv(def: DomainDef, nets: NetArgs[], o: ArgvOptions = {}): string[] {
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
  for (const d of def.disks) {
    const list: [string, string | number][] = [['file', escapeValue(d.file)], ['format', d.format], ['if', d.bus], ['index', d.index]];
    if (d.device === 'cdrom') list.push(['media', 'cdrom']);
    if (d.readonly) list.push(['readonly', 'on']);
    a.push('-drive', props(list));
  }
  for (const n of nets) a.push('-netdev', netdevArg(n), '-device', deviceArg(n));
  if (o.qmp) a.push('-qmp', `unix:${escapeValue(o.qmp)},server=on,wait=off`);
  a.push(...def.qemuArgs); // <qemu:commandline>, last as libvirt puts them
  return a;
}

/** A shell-safe rendering of argv, one option per line, for people. */
export function formatArgv(argv: string[]): string {
  const q = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const lines: string[] = [q(argv[0])];
  for (let i = 1; i < argv.length; i++) {
    const next = argv[i + 1];
    if (argv[i].startsWith('-') && next !== undefined && !next.startsWith('-')) {
      lines.push(`${q(argv[i])} ${q(next)}`);
      i++;
    } else lines.push(q(argv[i]));
  }
  return lines.join(' \\\n  ') + '\n';
}
