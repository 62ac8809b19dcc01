// The netfd command line. Every verb takes --netns NAME|PATH; errors print
// one line and exit non-zero (2 for usage errors).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, ParseArgsConfig } from 'node:util';
import { ErrnoCode, NetfdError, NetfdErrorCode } from '../errors';
import { teardownFromLive } from '../netdev/domain';
import { previewDomain } from '../qemu/domain';
import { attachInterface, detachInterface } from '../qemu/hotplug';
import { objectNames, inactiveXmlPath, liveXmlPath, objectFile, stateDir } from '../state/dirs';
import { pidAlive } from '../state/pidfile';
import { launchDomain, pidPath, qmpPath, readPidInfo } from '../qemu/launch';
import { formatPci } from '../qemu/pci';
import { formatArgs, formatArgv } from '../qemu/argv';
import { DomainXml } from '../xml/domain';
import { Networks } from '../network/store';
import { domainFromNative, domainToNative, XEN_FORMATS, XenFormat } from '../xen';
import { CHECK_IDS, CheckId, formatProbe, probeHost } from '../host/probe';
import { deleteLink, getLink, LinkInfo, listLinks, setLink } from '../sys/link';
import { createMacvtap } from '../sys/macvtap';
import { Tap } from '../sys/tap';
import { agentVerb, connectVerbs } from './agent';
import { globalUsage, usageOf, verbUsage } from './help';

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

const globalOptions: Options = {
  netns: { type: 'string' },
  'vhost-device': { type: 'string' },
  'state-dir': { type: 'string' },
  'config-dir': { type: 'string' },
  'sysfs-root': { type: 'string' },
  connect: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
};

/** `netfd --help`, from the one help table (lib/cli/help.ts). */
export const usage = globalUsage();

export class UsageError extends Error {}

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const defaultIo: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

export function parse(args: string[], extra: Options): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args, options: { ...globalOptions, ...extra }, allowPositionals: true, strict: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function str(values: Values, key: string): string | undefined {
  const x = values[key];
  return typeof x === 'string' ? x : undefined;
}

function flagsText(l: LinkInfo): string {
  const f: string[] = [];
  if (l.flags & 0x2) f.push('BROADCAST');
  if (l.flags & 0x8) f.push('LOOPBACK');
  if (l.flags & 0x1000) f.push('MULTICAST');
  if (l.up) f.push('UP');
  if (l.lowerUp) f.push('LOWER_UP');
  return `<${f.join(',')}>`;
}

/** One link in the style of `ip -d link show`. */
export function formatLink(l: LinkInfo, names: Map<number, string>): string {
  const parent = l.parent !== null && l.parent !== l.index ? `@${names.get(l.parent) ?? `if${l.parent}`}` : '';
  const parts = [`${l.index}: ${l.name}${parent}: ${flagsText(l)} mtu ${l.mtu}`];
  if (l.master !== null) parts.push(`master ${names.get(l.master) ?? `if${l.master}`}`);
  parts.push(`state ${l.up ? 'UP' : 'DOWN'}`);
  let line = parts.join(' ');
  if (l.mac) line += `\n    link/ether ${l.mac}`;
  if (l.kind) {
    line += `\n    ${l.kind}`;
    if (l.mode) line += ` mode ${l.mode}`;
    if (l.tun) {
      line += ` type ${l.tun.type ?? '?'} pi ${l.tun.pi ? 'on' : 'off'} vnet_hdr ${l.tun.vnetHdr ? 'on' : 'off'}`;
      if (l.tun.multiQueue) line += ` multi_queue numqueues ${l.tun.numQueues ?? '?'}`;
      if (l.tun.persist) line += ' persist on';
    }
  }
  return line;
}

async function tapCreate(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    name: { type: 'string' },
    template: { type: 'string' },
    queues: { type: 'string' },
    'no-vnet-hdr': { type: 'boolean' },
    owner: { type: 'string' },
    group: { type: 'string' },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const name = str(values, 'name');
  const template = str(values, 'template');
  const tap = await Tap.create({
    netns: str(values, 'netns'),
    name,
    template: name === undefined ? (template ?? 'vnet%d') : template,
    queues: values.queues === undefined ? 1 : (str(values, 'queues') as unknown as number),
    vnetHdr: !values['no-vnet-hdr'],
    persist: true, // the process exits: the tap must outlive its fds
    owner: str(values, 'owner') as unknown as number | undefined,
    group: str(values, 'group') as unknown as number | undefined,
  });
  const queues = tap.fds.length;
  tap.close();
  io.out(values.json ? `${JSON.stringify({ name: tap.name, ifindex: tap.ifindex, queues, persist: true })}\n` : `${tap.name}\n`);
  return 0;
}

async function macvtapCreate(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    link: { type: 'string' },
    mode: { type: 'string' },
    name: { type: 'string' },
    template: { type: 'string' },
    mac: { type: 'string' },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const link = str(values, 'link');
  const mode = str(values, 'mode');
  if (!link) throw new UsageError('macvtap create needs --link DEV');
  if (!mode) throw new UsageError('macvtap create needs --mode vepa|bridge|private|passthrough');
  const info = await createMacvtap({
    netns: str(values, 'netns'),
    link,
    mode,
    name: str(values, 'name'),
    template: str(values, 'template'),
    mac: str(values, 'mac'),
  });
  io.out(values.json ? `${JSON.stringify(info)}\n` : `${info.name}\n`);
  return 0;
}

async function linkShow(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {});
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${positionals[1]}`);
  const netns = str(values, 'netns');
  const all = await listLinks({ netns });
  const links = positionals.length ? [await getLink(positionals[0], { netns })] : all;
  if (values.json) {
    io.out(`${JSON.stringify(positionals.length ? links[0] : links, null, 2)}\n`);
  } else {
    const names = new Map(all.map((l) => [l.index, l.name]));
    io.out(links.map((l) => formatLink(l, names)).join('\n') + '\n');
  }
  return 0;
}

async function linkSet(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    up: { type: 'boolean' },
    down: { type: 'boolean' },
    mac: { type: 'string' },
    master: { type: 'string' },
    nomaster: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError('link set needs exactly one link NAME');
  if (values.up && values.down) throw new UsageError('give --up or --down, not both');
  if (values.master !== undefined && values.nomaster) throw new UsageError('give --master or --nomaster, not both');
  await setLink(positionals[0], {
    netns: str(values, 'netns'),
    up: values.up ? true : values.down ? false : undefined,
    mac: str(values, 'mac'),
    master: values.nomaster ? null : str(values, 'master'),
  });
  return 0;
}

async function linkDelete(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {});
  if (positionals.length !== 1) throw new UsageError('link delete needs exactly one link NAME');
  await deleteLink(positionals[0], { netns: str(values, 'netns') });
  return 0;
}

export function readDomainFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new NetfdError(`cannot read ${file}: ${e.message}`, { code: (e.code ?? 'EIO') as ErrnoCode, errno: e.errno, syscall: e.syscall });
  }
}

const LAUNCH_OPTIONS: Options = { qemu: { type: 'string' }, accel: { type: 'string' }, detach: { type: 'boolean' }, supervise: { type: 'boolean' }, 'from-live': { type: 'boolean' } };

/** The domain to launch: the file as written, or (--from-live) a live XML from dumpxml made a config again. */
export const launchXml = (file: string, fromLive: boolean): DomainXml => (fromLive ? DomainXml.fromLive(readDomainFile(file)) : DomainXml.parse(readDomainFile(file)));

/** The domain name in a file, for messages and the detached log (parsed again by launch). */
const domainName = (file: string, fromLive: boolean) => launchXml(file, fromLive).def.name;

async function launch(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, LAUNCH_OPTIONS);
  if (positionals.length < 1) throw new UsageError(usageOf('launch'));
  const accel = str(values, 'accel');
  if (accel !== undefined && accel !== 'tcg' && accel !== 'kvm') throw new NetfdError(`invalid accel ${JSON.stringify(accel)}: tcg or kvm`, { code: 'INVALID_ARGUMENT', field: 'accel', value: accel });
  const dashdash = args.indexOf('--');
  if (positionals.length > 1 && dashdash < 0) throw new UsageError(`unexpected argument ${positionals[1]}; qemu arguments go after --`);
  const fromLive = values['from-live'] === true;
  if (values.detach) return launchDetached(args, positionals[0], str(values, 'state-dir'), fromLive);
  const supervise = values.supervise === true;
  const report = (m: object) => process.send?.(m);
  let l;
  try {
    l = await launchDomain(launchXml(positionals[0], fromLive), {
      netns: str(values, 'netns'),
      stateDir: str(values, 'state-dir'),
      vhostDevice: str(values, 'vhost-device'),
      onWarning: warnTo(defaultIo),
      qemu: str(values, 'qemu'),
      accel,
      extraArgs: positionals.slice(1),
    });
  } catch (err) {
    const e = err as NetfdError;
    if (supervise) report({ error: { message: e.message, code: e.code, field: e.field, value: e.value } });
    throw err;
  }
  const paused = l.runState?.running === false ? ' (vCPUs paused: its macvtaps stay down until they run)' : '';
  process.stderr.write(`netfd: ${l.domain.name} running as qemu pid ${l.pid}${paused}; QMP ${l.qmp}; live XML ${l.domain.statePath}\n`);
  if (supervise) {
    report({ ok: true, name: l.domain.name, pid: l.pid, qmp: l.qmp, live: l.domain.statePath });
    process.disconnect?.();
  }
  const onSignal = () => void l.stop();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (supervise) process.on('SIGHUP', () => undefined); // a supervisor outlives its terminal
  try {
    const e = await l.exited;
    process.stderr.write(`netfd: qemu ${e.signal ? `killed by ${e.signal}` : `exited with ${e.code}`}; ${l.domain.name} torn down\n`);
    return e.code ?? 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const CLI = path.join(__dirname, '..', '..', 'bin', 'netfd.js');

/**
 * launch --detach: the same launch in a new session (setsid) whose output
 * goes to STATE_DIR/NAME.log; returns once it reports qemu running, or
 * fails with its error.
 */
async function launchDetached(args: string[], file: string, explicitDir: string | undefined, fromLive: boolean): Promise<number> {
  const name = domainName(file, fromLive);
  const dir = stateDir(explicitDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const logFile = objectFile(dir, name, 'log');
  const log = fs.openSync(logFile, 'a', 0o644);
  const childArgs = [CLI, 'launch', ...args.map((a) => (a === '--detach' ? '--supervise' : a))];
  let child;
  try {
    child = spawn(process.execPath, childArgs, { detached: true, stdio: ['ignore', log, log, 'ipc'] });
  } finally {
    fs.closeSync(log);
  }
  type Report = { ok?: boolean; pid?: number; qmp?: string; live?: string; error?: { message: string; code?: NetfdErrorCode; field?: string; value?: unknown } };
  const report = await new Promise<Report | null>((resolve) => {
    child.once('message', (m) => resolve(m as Report));
    child.once('exit', () => resolve(null));
    child.once('error', () => resolve(null));
  });
  if (report?.ok) {
    child.unref();
    if (child.connected) child.disconnect();
    process.stderr.write(`netfd: ${name} running as qemu pid ${report.pid}, supervised by pid ${child.pid}; QMP ${report.qmp}; live XML ${report.live}; log ${logFile}\n`);
    return 0;
  }
  if (report?.error) throw new NetfdError(report.error.message, { code: report.error.code ?? 'EUNKNOWN', field: report.error.field, value: report.error.value });
  throw new NetfdError(`the supervisor for ${name} exited before qemu was running; see ${logFile}`, { code: 'QEMU_FAILED' });
}

async function list(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {});
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const dir = stateDir(str(values, 'state-dir'));
  const names = objectNames(dir);
  const rows = names.map((name) => {
    const pid = readPidInfo(dir, name)?.pid ?? null; // null: prepared, not launched
    return { name, pid, state: pid === null ? 'prepared' : pidAlive(pid) ? 'running' : 'stale' };
  });
  if (values.json) io.out(`${JSON.stringify(rows)}\n`);
  else io.out([' Pid      Name                 State', '-'.repeat(40), ...rows.map((r) => ` ${String(r.pid ?? '-').padEnd(8)} ${r.name.padEnd(20)} ${r.state}`)].join('\n') + '\n');
  return 0;
}

async function dumpxml(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { inactive: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError(usageOf('dumpxml'));
  const dir = stateDir(str(values, 'state-dir'));
  const name = checkName(positionals[0]);
  const file = values.inactive ? inactiveXmlPath(dir, name) : liveXmlPath(dir, name);
  if (!fs.existsSync(liveXmlPath(dir, name))) throw new NetfdError(`no domain named ${name} in ${dir}`, { code: 'ENOENT', field: 'name', value: name });
  io.out(readDomainFile(file));
  return 0;
}

export function checkName(name: string): string {
  if (!name || name.includes('/') || name === '.' || name === '..') throw new NetfdError(`invalid name ${JSON.stringify(name)}`, { code: 'INVALID_ARGUMENT', field: 'name', value: name });
  return name;
}

export function timeoutMs(values: Values, fallbackSecs: number): number {
  const t = str(values, 'timeout');
  if (t === undefined) return fallbackSecs * 1000;
  if (!/^\d+(\.\d+)?$/.test(t) || Number(t) <= 0) throw new NetfdError(`invalid timeout ${JSON.stringify(t)}: a positive number of seconds`, { code: 'INVALID_ARGUMENT', field: 'timeout', value: t });
  return Number(t) * 1000;
}

/** Whether `pid` is the qemu running domain `name` (not a reused pid). */
export function isQemuOf(pid: number, name: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(`guest=${name.replace(/,/g, ',,')}`);
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function destroy(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { timeout: { type: 'string' } });
  if (positionals.length !== 1) throw new UsageError(usageOf('destroy'));
  const name = checkName(positionals[0]);
  const dir = stateDir(str(values, 'state-dir'));
  const live = liveXmlPath(dir, name);
  if (!fs.existsSync(live)) throw new NetfdError(`no domain named ${name} in ${dir}`, { code: 'ENOENT', field: 'name', value: name });
  const info = readPidInfo(dir, name); // null: prepared only
  const grace = timeoutMs(values, 10);
  const pid = info && isQemuOf(info.pid, name) ? info.pid : null;
  const gone = async (ms: number) => {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(25)) if (!fs.existsSync(live) && (pid === null || !isQemuOf(pid, name))) return true;
    return false;
  };
  if (pid !== null) {
    process.kill(pid, 'SIGTERM');
    if (!(await gone(grace))) {
      if (isQemuOf(pid, name)) process.kill(pid, 'SIGKILL');
      await gone(2000);
    }
  }
  if (fs.existsSync(live)) {
    // No supervisor did it (it was killed, or the domain was only prepared).
    const r = await teardownFromLive(name, { stateDir: dir, netns: str(values, 'netns') ?? info?.netns ?? undefined, onWarning: warnTo(io) });
    for (const f of [pidPath(dir, name), qmpPath(dir, name)]) fs.rmSync(f, { force: true });
    io.out(`${name}: destroyed; deleted ${r.deleted.join(' ') || 'no links'}${r.skipped.length ? `; kept ${r.skipped.join(' ')} (not netfd's as recorded)` : ''}\n`);
  } else io.out(`${name}: destroyed\n`);
  return 0;
}

async function attachIface(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { timeout: { type: 'string' } });
  if (positionals.length !== 2) throw new UsageError(usageOf('attach-interface'));
  const a = await attachInterface(checkName(positionals[0]), readDomainFile(positionals[1]), {
    netns: str(values, 'netns'),
    stateDir: str(values, 'state-dir'),
    vhostDevice: str(values, 'vhost-device'),
    timeoutMs: timeoutMs(values, 30),
    onWarning: warnTo(io),
  });
  const { liveXml: _, pci, ...r } = a;
  const at = pci ? formatPci(pci) : undefined;
  io.out(values.json ? `${JSON.stringify({ ...r, ...(at ? { pci: at } : {}) })}\n` : `${positionals[0]}: attached ${a.alias} mac ${a.mac} on ${a.targetDev}${a.driver ? ` (driver ${a.driver})` : ''}${at ? ` at PCI ${at}` : ''}\n`);
  return 0;
}

async function detachIface(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { mac: { type: 'string' }, timeout: { type: 'string' } });
  if (positionals.length !== 1) throw new UsageError(usageOf('detach-interface'));
  const mac = str(values, 'mac');
  if (mac === undefined) throw new UsageError('detach-interface needs --mac MAC');
  const d = await detachInterface(checkName(positionals[0]), { mac }, { netns: str(values, 'netns'), stateDir: str(values, 'state-dir'), timeoutMs: timeoutMs(values, 30), onWarning: warnTo(io) });
  const { liveXml: _, ...r } = d;
  io.out(values.json ? `${JSON.stringify(r)}\n` : `${positionals[0]}: detached ${d.alias} mac ${d.mac}${d.deleted.length ? `; deleted ${d.deleted.join(' ')}` : ''}\n`);
  return 0;
}

function describeProbe(p: { usable: boolean; code?: string; message?: string } | undefined): string {
  if (!p) return 'vhost-net not tried';
  return p.usable ? 'vhost-net usable' : `vhost-net not usable (${p.code})`;
}

async function domxmlToNative(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { 'net-only': { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError(usageOf('domxml-to-native qemu-argv'));
  const netOnly = values['net-only'] === true;
  // --net-only: only <name> and the interfaces are read (and fully checked).
  const xml = DomainXml.parse(readDomainFile(positionals[0]), { netOnly });
  const qmp = qmpPath(stateDir(str(values, 'state-dir')), xml.def.name);
  const p = await previewDomain(xml, { vhostDevice: str(values, 'vhost-device'), qmp, onWarning: warnTo(io), netOnly });
  if (values.json) {
    const interfaces = p.plans.map((plan, i) => ({ ...plan, probe: p.probes[i] ?? null, decision: p.decisions[i] }));
    io.out(`${JSON.stringify(netOnly ? { argv: p.argv, interfaces } : { argv: p.argv, interfaces, ignoredDevices: xml.def.ignoredDevices }, null, 2)}\n`);
    return 0;
  }
  const lines = p.plans.map((plan, i) => {
    const d = p.decisions[i];
    const l = plan.link;
    const net = plan.network ? ` (network '${plan.network.name}' would give ${plan.network.dev} now)` : '';
    const host = l.kind === 'tap' ? `tap ${l.name}${l.bridge ? ` on bridge ${l.bridge}` : ''}` : l.kind === 'macvtap' ? `macvtap ${l.name} on ${l.parent} mode ${l.mode}${net}` : `existing ${l.name}`;
    const driver = d.record ? `live XML records <driver name='${d.record}'/>` : 'no driver recorded (not virtio)';
    return `# ${plan.path}: ${plan.model} -> ${plan.device}; ${host}; ${plan.queues} queue(s); ${describeProbe(p.probes[i])}, so vhost=${d.vhost ? 'on' : 'off'}; ${driver}; mac ${plan.mac}${plan.macGenerated ? ' (generated)' : ''}`;
  });
  for (const dev of xml.def.ignoredDevices) lines.push(`# <${dev}> is not turned into qemu arguments by netfd`);
  io.out(`${lines.map((l) => `${l}\n`).join('')}${netOnly ? formatArgs(p.argv) : formatArgv(p.argv)}`);
  return 0;
}

/** Library warnings, printed on stderr. */
export const warnTo = (io: Io) => (message: string) => io.err(`netfd: warning: ${message}\n`);

const networks = () => new Networks();

function oneName(args: string[], verb: string, extra: Options = {}): { name: string; values: Values } {
  const { values, positionals } = parse(args, extra);
  if (positionals.length !== 1) throw new UsageError(usageOf(verb));
  return { name: positionals[0], values };
}

async function netDefine(args: string[], io: Io): Promise<number> {
  const { positionals } = parse(args, {});
  if (positionals.length !== 1) throw new UsageError(usageOf('net-define'));
  const r = await networks().define(readDomainFile(positionals[0]));
  io.out(`Network ${r.name} ${r.redefined ? 'redefined' : 'defined'} from ${positionals[0]} (uuid ${r.uuid})\n`);
  return 0;
}

async function netUndefine(args: string[], io: Io): Promise<number> {
  const { name } = oneName(args, 'net-undefine');
  const r = await networks().undefine(name);
  io.out(`Network ${name} has been undefined${r.active ? ' (it stays active until net-destroy)' : ''}\n`);
  return 0;
}

async function netStart(args: string[], io: Io): Promise<number> {
  const { name, values } = oneName(args, 'net-start');
  const s = await networks().start(name);
  s.warnings.forEach(warnTo(io));
  const n = s.pool.reduce((k, p) => k + p.connections, 0);
  io.out(values.json ? `${JSON.stringify({ name, pool: s.pool })}\n` : `Network ${name} started: ${s.pool.length} device(s) in its pool${n ? `, ${n} connection(s) already in use` : ''}\n`);
  return 0;
}

async function netDestroy(args: string[], io: Io): Promise<number> {
  const { name } = oneName(args, 'net-destroy');
  (await networks().destroy(name)).warnings.forEach(warnTo(io));
  io.out(`Network ${name} destroyed\n`);
  return 0;
}

async function netList(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { all: { type: 'boolean' }, inactive: { type: 'boolean' } });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const { rows, warnings } = networks().list();
  warnings.forEach(warnTo(io));
  const shown = rows.filter((r) => (values.all ? true : values.inactive ? !r.active : r.active));
  if (values.json) {
    io.out(`${JSON.stringify(shown)}\n`);
    return 0;
  }
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const lines = [` ${'Name'.padEnd(20)} ${'State'.padEnd(10)} ${'Autostart'.padEnd(11)} ${'Persistent'.padEnd(11)} Connections`, '-'.repeat(68)];
  for (const r of shown) lines.push(` ${r.name.padEnd(20)} ${(r.active ? 'active' : 'inactive').padEnd(10)} ${yes(r.autostart).padEnd(11)} ${yes(r.persistent).padEnd(11)} ${r.connections ?? '-'}`);
  io.out(`${lines.join('\n')}\n`);
  return 0;
}

async function netDumpxml(args: string[], io: Io): Promise<number> {
  const { name, values } = oneName(args, 'net-dumpxml', { inactive: { type: 'boolean' } });
  io.out(networks().dumpxml(name, { inactive: values.inactive === true }));
  return 0;
}

async function netAutostart(args: string[], io: Io): Promise<number> {
  const { name, values } = oneName(args, 'net-autostart', { disable: { type: 'boolean' } });
  networks().setAutostart(name, !values.disable);
  io.out(`Network ${name} ${values.disable ? 'unmarked as autostarted' : 'marked as autostarted'}\n`);
  return 0;
}

async function probe(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    only: { type: 'string' },
    qemu: { type: 'string', multiple: true },
    'dev-root': { type: 'string' },
    'proc-root': { type: 'string' },
    'boot-root': { type: 'string' },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const only = str(values, 'only')?.split(',');
  for (const id of only ?? []) if (!(CHECK_IDS as readonly string[]).includes(id)) throw new NetfdError(`invalid only ${JSON.stringify(id)}: one of ${CHECK_IDS.join(', ')}`, { code: 'INVALID_ARGUMENT', field: 'only', value: id });
  const roots: Record<string, string | undefined> = {};
  for (const k of ['dev-root', 'proc-root', 'boot-root']) {
    const dir = str(values, k);
    if (dir !== undefined && !path.isAbsolute(dir)) throw new NetfdError(`invalid ${k} ${JSON.stringify(dir)}: an absolute directory path`, { code: 'INVALID_ARGUMENT', field: k, value: dir });
    roots[k] = dir;
  }
  const r = await probeHost({
    only: only as CheckId[] | undefined,
    qemu: (values.qemu as unknown as string[] | undefined) ?? undefined,
    devRoot: roots['dev-root'],
    procRoot: roots['proc-root'],
    bootRoot: roots['boot-root'],
    vhostDevice: str(values, 'vhost-device'),
  });
  io.out(values.json ? `${JSON.stringify(r, null, 2)}\n` : formatProbe(r, io === defaultIo && process.stdout.isTTY === true));
  return r.ok ? 0 : 1;
}

function xendVersion(values: Values): number | undefined {
  const x = str(values, 'xend-config-version');
  if (x === undefined) return undefined;
  if (!/^\d{1,3}$/.test(x)) throw new NetfdError(`invalid xend-config-version ${JSON.stringify(x)}: a small non-negative integer`, { code: 'INVALID_ARGUMENT', field: 'xend-config-version', value: x });
  return Number(x);
}

/** domxml-to-native / domxml-from-native for one Xen format. */
function xenVerb(format: XenFormat, direction: 'to' | 'from') {
  return async (args: string[], io: Io): Promise<number> => {
    const { values, positionals } = parse(args, { 'xend-config-version': { type: 'string' } });
    if (positionals.length !== 1) throw new UsageError(usageOf(`domxml-${direction}-native ${format}`));
    const text = readDomainFile(positionals[0]);
    const o = { xendConfigVersion: xendVersion(values) };
    io.out(direction === 'to' ? domainToNative(text, format, o) : domainFromNative(text, format, o));
    return 0;
  };
}

const verbs: Record<string, (args: string[], io: Io) => Promise<number>> = {
  'tap create': tapCreate,
  'macvtap create': macvtapCreate,
  'link show': linkShow,
  'link list': linkShow,
  'link set': linkSet,
  'link delete': linkDelete,
  'link del': linkDelete,
  'domxml-to-native qemu-argv': domxmlToNative,
  ...Object.fromEntries(XEN_FORMATS.flatMap((f) => [[`domxml-to-native ${f}`, xenVerb(f, 'to')], [`domxml-from-native ${f}`, xenVerb(f, 'from')]])),
  launch: (args) => launch(args),
  list,
  dumpxml,
  destroy,
  'attach-interface': attachIface,
  'detach-interface': detachIface,
  'net-define': netDefine,
  'net-undefine': netUndefine,
  'net-start': netStart,
  'net-destroy': netDestroy,
  'net-list': netList,
  'net-dumpxml': netDumpxml,
  'net-autostart': netAutostart,
  probe,
  agent: agentVerb,
};

const GLOBAL_ENV: Record<string, string> = {
  '--vhost-device': 'NETFD_VHOST_DEVICE',
  '--state-dir': 'NETFD_STATE_DIR',
  '--config-dir': 'NETFD_CONFIG_DIR',
  '--sysfs-root': 'NETFD_SYSFS_ROOT',
};
const VALUED_GLOBALS = ['--netns', '--connect', ...Object.keys(GLOBAL_ENV)];

/** --connect SOCKET (or --connect=SOCKET), the last one given. */
function connectOption(args: string[]): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    if (args[i] === '--connect') value = args[++i];
    else if (args[i].startsWith('--connect=')) value = args[i].slice('--connect='.length);
  }
  return value;
}

/** The verbs main() runs: each has a row in the help table (test/unit/cli-help.ts checks). */
export const VERB_NAMES: readonly string[] = Object.keys(verbs);

/** This package's version, from its package.json. */
export function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/** Runs the CLI; returns the exit status. Global options may stand anywhere. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  // The verb is the first two words that are not options or option values.
  const words: number[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    if (argv[i] === '--') break;
    const a = argv[i];
    if (VALUED_GLOBALS.includes(a)) i++;
    else if (!a.startsWith('-')) words.push(i);
  }
  // One-word verbs (launch, list, dumpxml) take positionals after them.
  if (words.length === 2 && !verbs[words.map((i) => argv[i]).join(' ')] && verbs[argv[words[0]]]) words.pop();
  const verb = words.map((i) => argv[i]).join(' ');
  const rest = argv.filter((_, i) => !words.includes(i));
  const connect = connectOption(rest);
  if (!verbs[verb]) {
    if (!verb && argv.includes('--version')) {
      io.out(`netfd ${version()}\n`);
      return 0;
    }
    if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
      io.out(usage);
      return argv.length === 0 ? 2 : 0;
    }
    io.err(`netfd: unknown command '${verb || argv.join(' ')}'\n${usage}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(verbUsage(verb));
    return 0;
  }
  try {
    // The globals reach every layer (and child processes) through their env variables.
    for (const [option, env] of Object.entries(GLOBAL_ENV))
      rest.forEach((a, i) => {
        const value = a === option ? rest[i + 1] : a.startsWith(`${option}=`) ? a.slice(option.length + 1) : undefined;
        if (value) process.env[env] = value; // the last one wins, as in parseArgs
      });
    if (connect !== undefined) {
      const remote = connectVerbs[verb];
      if (!remote) throw new UsageError(`${verb} is not done through the agent; run it without --connect (as root), or use one of: ${Object.keys(connectVerbs).join(', ')}`);
      return await remote(rest, io, connect);
    }
    return await verbs[verb](rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`netfd ${verb}: ${err.message}\n`);
      return 2;
    }
    const e = err as NetfdError;
    io.err(`netfd ${verb}: ${e.code ? `${e.code}: ` : ''}${e.message}\n`);
    return 1;
  }
}
