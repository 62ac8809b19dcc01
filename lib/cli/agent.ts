// `netfd agent` (the privileged daemon) and the verbs an ordinary user runs
// through it with `--connect SOCKET`.
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { NetfdError } from '../errors';
import { AgentClient } from '../agent/client';
import { launchedQmp, launchViaAgent } from '../agent/launch';
import { Agent, DEFAULT_ACL } from '../agent/server';
import { formatProbe, ProbeReport } from '../host/probe';
import { interfaceByMac, qmpAttach, qmpDetach, QemuNic } from '../qemu/hotplug';
import { formatPci } from '../qemu/pci';
import * as v from '../validate';
import { DomainXml, PciAddress } from '../xml/domain';
import { checkName, defaultIo, Io, isQemuOf, parse, readDomainFile, str, timeoutMs, UsageError, Values } from './main';

/** A mode such as 0660 or 660 (octal). */
function octalMode(x: string | undefined): number | undefined {
  if (x === undefined) return undefined;
  if (!/^0?[0-7]{3}$/.test(x)) throw new NetfdError(`invalid socket-mode ${JSON.stringify(x)}: an octal mode such as 0660`, { code: 'INVALID_ARGUMENT', field: 'socket-mode', value: x });
  return Number.parseInt(x, 8);
}

/** The fd systemd passed (socket activation), when it was meant for this process. */
function activationFd(env: NodeJS.ProcessEnv): number | undefined {
  if (env.LISTEN_PID !== String(process.pid) || !env.LISTEN_FDS) return undefined;
  const n = Number(env.LISTEN_FDS);
  if (!Number.isInteger(n) || n < 1) return undefined;
  if (n > 1) throw new NetfdError(`systemd passed ${n} sockets; the agent takes exactly one (one ListenSequentialPacket= line)`, { code: 'INVALID_ARGUMENT', field: 'LISTEN_FDS', value: env.LISTEN_FDS });
  return 3;
}

/** Seconds (a decimal from 0 to `max`) as milliseconds; undefined when not given. */
function seconds(values: Values, name: string, max: number): number | undefined {
  const x = str(values, name);
  if (x === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(x) || Number(x) > max) throw new NetfdError(`invalid ${name} ${JSON.stringify(x)}: seconds, from 0 to ${max}`, { code: 'INVALID_ARGUMENT', field: name, value: x });
  return Number(x) * 1000;
}

/** netfd agent: serves until SIGTERM/SIGINT; SIGHUP reloads the ACL. */
export async function agentVerb(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    socket: { type: 'string' },
    'socket-mode': { type: 'string' },
    'socket-group': { type: 'string' },
    acl: { type: 'string' },
    grace: { type: 'string' },
    'stop-timeout': { type: 'string' },
    'max-clients': { type: 'string' },
    'log-level': { type: 'string' },
    'reserved-for-root': { type: 'string' },
  });
  const count = (name: string, lo: number): number | undefined => {
    const x = str(values, name);
    if (x === undefined) return undefined;
    if (!/^\d{1,6}$/.test(x) || Number(x) < lo) throw new NetfdError(`invalid ${name} ${JSON.stringify(x)}: a whole number from ${lo} to 999999`, { code: 'INVALID_ARGUMENT', field: name, value: x });
    return Number(x);
  };
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const graceMs = seconds(values, 'grace', 86400);
  const stopTimeoutMs = seconds(values, 'stop-timeout', 3600);
  const maxClients = str(values, 'max-clients');
  if (maxClients !== undefined && (!/^\d+$/.test(maxClients) || Number(maxClients) < 1 || Number(maxClients) > 65536))
    throw new NetfdError(`invalid max-clients ${JSON.stringify(maxClients)}: a number of connections, from 1 to 65536`, { code: 'INVALID_ARGUMENT', field: 'max-clients', value: maxClients });
  const socket = str(values, 'socket');
  if (socket !== undefined && !path.isAbsolute(socket)) throw new NetfdError(`invalid socket ${JSON.stringify(socket)}: an absolute path`, { code: 'INVALID_ARGUMENT', field: 'socket', value: socket });
  const level = str(values, 'log-level') ?? process.env.NETFD_LOG_LEVEL ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) throw new NetfdError(`invalid log-level ${JSON.stringify(level)}`, { code: 'INVALID_ARGUMENT', field: 'log-level', value: level });
  const group = str(values, 'socket-group');
  const agent = new Agent({
    socket,
    listenFd: activationFd(process.env),
    socketMode: octalMode(str(values, 'socket-mode')),
    socketGroup: group !== undefined && /^\d+$/.test(group) ? Number(group) : group,
    acl: str(values, 'acl') ?? DEFAULT_ACL,
    stateDir: str(values, 'state-dir'),
    configDir: str(values, 'config-dir'),
    sysfsRoot: str(values, 'sysfs-root'),
    netns: str(values, 'netns'),
    vhostDevice: str(values, 'vhost-device'),
    graceMs,
    stopTimeoutMs,
    maxClients: maxClients === undefined ? undefined : Number(maxClients),
    reservedForRoot: count('reserved-for-root', 0),
    logger: pino({ level, base: { component: 'netfd-agent', pid: process.pid } }, pino.destination({ fd: 2, sync: true })),
  });
  // Signals count from the start: recovery and autostart may take a while.
  let stopping: Promise<void> | undefined;
  const stopped = new Promise<boolean>((resolve) => {
    const stop = (sig: string) => {
      agent.log.info({ signal: sig }, 'stopping');
      stopping ??= agent.stop().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => agent.reloadAcl());
  });
  await agent.start();
  const finished = await stopped;
  // Work the timeout cut short (a request still waiting on a lock or the
  // kernel) must not keep the process alive: it exits now; after a clean
  // stop, when its last handle closes (at most a second later).
  setTimeout(() => process.exit(finished ? 0 : 1), finished ? 1000 : 0).unref();
  return finished ? 0 : 1;
}

type Remote = (args: string[], io: Io, socket: string) => Promise<number>;

/** Runs `body` with a connection to the agent, closed afterwards. */
async function withAgent<T>(socket: string, body: (c: AgentClient) => Promise<T>): Promise<T> {
  const c = await AgentClient.connect(socket);
  try {
    return await body(c);
  } finally {
    c.close();
  }
}

function oneName(args: string[], usage: string, extra = {}): { name: string; values: Values } {
  const { values, positionals } = parse(args, extra);
  if (positionals.length !== 1) throw new UsageError(`usage: ${usage}`);
  return { name: checkName(positionals[0]), values };
}

/** launch through the agent: qemu runs as this user; the agent releases the domain when qemu exits. */
async function launchRemote(args: string[], io: Io, socket: string): Promise<number> {
  const { values, positionals } = parse(args, { qemu: { type: 'string' }, accel: { type: 'string' }, detach: { type: 'boolean' }, 'from-live': { type: 'boolean' } });
  if (values.detach) throw new UsageError('launch --detach is not available with --connect: the launching process holds the agent connection; run it under your own supervisor (e.g. systemd-run --user)');
  if (positionals.length < 1) throw new UsageError('usage: --connect SOCKET launch DOMAIN.xml [--from-live] [--qemu PATH] [--accel tcg|kvm] [-- QEMU ARGS...]');
  const accel = str(values, 'accel');
  if (accel !== undefined && accel !== 'tcg' && accel !== 'kvm') throw new NetfdError(`invalid accel ${JSON.stringify(accel)}: tcg or kvm`, { code: 'INVALID_ARGUMENT', field: 'accel', value: accel });
  const client = await AgentClient.connect(socket);
  let l;
  try {
    const text = values['from-live'] ? DomainXml.fromLive(readDomainFile(positionals[0])).text : readDomainFile(positionals[0]);
    l = await launchViaAgent(client, text, { stateDir: str(values, 'state-dir'), qemu: str(values, 'qemu'), accel, extraArgs: positionals.slice(1) });
  } catch (err) {
    client.close();
    throw err;
  }
  const paused = l.runState?.running === false ? ' (vCPUs paused: the agent keeps its macvtaps down until they run)' : '';
  io.err(`netfd: ${l.name} running as qemu pid ${l.pid}${paused}; QMP ${l.qmp}; devices from the agent at ${socket}\n`);
  const onSignal = () => void l.stop();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const e = await l.exited;
    io.err(`netfd: qemu ${e.signal ? `killed by ${e.signal}` : `exited with ${e.code}`}; ${e.releaseError ? `releasing ${l.name} failed: ${e.releaseError.message}` : `${l.name} released`}\n`);
    return e.code ?? 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    l.close();
  }
}

async function listRemote(args: string[], io: Io, socket: string): Promise<number> {
  const { values, positionals } = parse(args, {});
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const rows = (await withAgent(socket, (c) => c.request<{ name: string; state: string; interfaces: { dev?: string }[] }[]>('list'))).result;
  if (values.json) io.out(`${JSON.stringify(rows)}\n`);
  else io.out([' Name                 State            Devices', '-'.repeat(56), ...rows.map((r) => ` ${r.name.padEnd(20)} ${r.state.padEnd(16)} ${r.interfaces.map((i) => i.dev).join(' ')}`)].join('\n') + '\n');
  return 0;
}

/** destroy through the agent: this user's qemu is stopped (when it runs from here), then the agent releases. */
async function destroyRemote(args: string[], io: Io, socket: string): Promise<number> {
  const { name, values } = oneName(args, '--connect SOCKET destroy NAME', { timeout: { type: 'string' } });
  const grace = timeoutMs(values, 10);
  let qmp: string | undefined;
  try {
    qmp = launchedQmp(name, str(values, 'state-dir'));
  } catch {
    // prepared only, or launched elsewhere: the agent still releases it
  }
  const pidFile = qmp?.replace(/\.qmp$/, '.pid');
  const pid = pidFile && fs.existsSync(pidFile) ? (JSON.parse(fs.readFileSync(pidFile, 'utf8')) as { pid: number }).pid : undefined;
  if (pid !== undefined && isQemuOf(pid, name)) {
    // The launching netfd releases the domain once qemu is gone.
    const gone = async (ms: number) => {
      for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 25))) if (!isQemuOf(pid, name) && !fs.existsSync(pidFile as string)) return true;
      return !isQemuOf(pid, name);
    };
    process.kill(pid, 'SIGTERM');
    if (!(await gone(grace))) {
      if (isQemuOf(pid, name)) process.kill(pid, 'SIGKILL');
      await gone(2000);
    }
  }
  await withAgent(socket, (c) => c.request('release', { name })).catch((e) => {
    // The launching process released it when qemu went.
    if ((e as NetfdError).code !== 'ENOENT' || pid === undefined) throw e;
  });
  io.out(`${name}: destroyed\n`);
  return 0;
}

async function dumpxmlRemote(args: string[], io: Io, socket: string): Promise<number> {
  const { name, values } = oneName(args, '--connect SOCKET dumpxml NAME [--inactive]', { inactive: { type: 'boolean' } });
  io.out((await withAgent(socket, (c) => c.request<{ xml: string }>('dumpxml', { name, ...(values.inactive ? { inactive: true } : {}) }))).result.xml);
  return 0;
}

async function attachRemote(args: string[], io: Io, socket: string): Promise<number> {
  const { values, positionals } = parse(args, { timeout: { type: 'string' } });
  if (positionals.length !== 2) throw new UsageError('usage: --connect SOCKET attach-interface NAME IFACE.xml');
  const name = checkName(positionals[0]);
  const qmp = launchedQmp(name, str(values, 'state-dir'));
  const wait = timeoutMs(values, 30);
  type R = { alias: string; mac: string; targetDev: string; driver: string | null; nic: QemuNic; tapFds: number; vhostFds: number };
  return withAgent(socket, async (c) => {
    const { result: r, fds } = await c.request<R>('attach', { name, xml: readDomainFile(positionals[1]) });
    let pci: PciAddress | null = null;
    try {
      pci = (await qmpAttach(qmp, r.nic, fds.slice(0, r.tapFds), fds.slice(r.tapFds), wait)).pci;
    } catch (err) {
      await c.request('detach', { name, mac: r.mac }).catch((e) => {
        (err as Error).message += ` (giving the device back to the agent also failed: ${(e as Error).message})`;
      });
      throw err;
    } finally {
      for (const fd of fds) fs.closeSync(fd);
    }
    // The agent keeps the live XML: it records where qemu put the NIC.
    if (pci) await c.request('record-pci', { name, addresses: [`${r.alias}=${formatPci(pci)}`] }).catch((e) => io.err(`netfd: warning: ${r.alias}'s PCI address was not recorded: ${(e as Error).message}\n`));
    else io.err(`netfd: warning: qemu did not say where ${r.alias} went (query-pci); the live XML has no <address> for it\n`);
    io.out(values.json ? `${JSON.stringify({ alias: r.alias, mac: r.mac, targetDev: r.targetDev, driver: r.driver, ...(pci ? { pci: formatPci(pci) } : {}) })}\n` : `${name}: attached ${r.alias} mac ${r.mac} on ${r.targetDev}${r.driver ? ` (driver ${r.driver})` : ''}${pci ? ` at PCI ${formatPci(pci)}` : ''}\n`);
    return 0;
  });
}

async function detachRemote(args: string[], io: Io, socket: string): Promise<number> {
  const { name, values } = oneName(args, '--connect SOCKET detach-interface NAME --mac MAC', { mac: { type: 'string' }, timeout: { type: 'string' } });
  const given = str(values, 'mac');
  if (given === undefined) throw new UsageError('detach-interface needs --mac MAC');
  const mac = v.mac(given, 'mac');
  const qmp = launchedQmp(name, str(values, 'state-dir'));
  return withAgent(socket, async (c) => {
    const live = DomainXml.parse((await c.request<{ xml: string }>('dumpxml', { name })).result.xml, { live: true });
    const { plan } = interfaceByMac(name, live, mac, given);
    await qmpDetach(qmp, plan, timeoutMs(values, 30));
    const { result: d } = await c.request<{ alias: string; mac: string; deleted: string[] }>('detach', { name, mac });
    io.out(values.json ? `${JSON.stringify({ alias: d.alias, mac: d.mac, deleted: d.deleted })}\n` : `${name}: detached ${d.alias} mac ${d.mac}${d.deleted.length ? `; deleted ${d.deleted.join(' ')}` : ''}\n`);
    return 0;
  });
}

async function probeRemote(args: string[], io: Io, socket: string): Promise<number> {
  const { values, positionals } = parse(args, { only: { type: 'string' } });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const only = str(values, 'only')?.split(',');
  const r = (await withAgent(socket, (c) => c.request<ProbeReport>('probe', only ? { only } : {}))).result;
  io.out(values.json ? `${JSON.stringify(r, null, 2)}\n` : formatProbe(r, io === defaultIo && process.stdout.isTTY === true));
  return r.ok ? 0 : 1;
}

async function netListRemote(args: string[], io: Io, socket: string): Promise<number> {
  const { values, positionals } = parse(args, { all: { type: 'boolean' } });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  type Row = { name: string; active: boolean; autostart: boolean; persistent: boolean; connections: number | null };
  const { rows, warnings } = (await withAgent(socket, (c) => c.request<{ rows: Row[]; warnings: string[] }>('net-list', values.all ? { all: true } : {}))).result;
  for (const w of warnings) io.err(`netfd: warning: ${w}\n`);
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  if (values.json) io.out(`${JSON.stringify(rows)}\n`);
  else io.out([' Name                 State      Autostart   Persistent  Connections', '-'.repeat(68), ...rows.map((r) => ` ${r.name.padEnd(20)} ${(r.active ? 'active' : 'inactive').padEnd(10)} ${yes(r.autostart).padEnd(11)} ${yes(r.persistent).padEnd(11)} ${r.connections ?? '-'}`)].join('\n') + '\n');
  return 0;
}

async function netDumpxmlRemote(args: string[], io: Io, socket: string): Promise<number> {
  const { name, values } = oneName(args, '--connect SOCKET net-dumpxml NAME [--inactive]', { inactive: { type: 'boolean' } });
  io.out((await withAgent(socket, (c) => c.request<{ xml: string }>('net-dumpxml', { name, ...(values.inactive ? { inactive: true } : {}) }))).result.xml);
  return 0;
}

/** net-start/destroy/undefine/autostart/define through the agent (the ACL must grant `all`). */
function netAdminRemote(op: 'net-start' | 'net-destroy' | 'net-undefine' | 'net-autostart' | 'net-define'): Remote {
  return async (args, io, socket) => {
    if (op === 'net-define') {
      const { positionals } = parse(args, {});
      if (positionals.length !== 1) throw new UsageError('usage: --connect SOCKET net-define FILE.xml');
      const r = (await withAgent(socket, (c) => c.request<{ name: string; redefined: boolean }>(op, { xml: readDomainFile(positionals[0]) }))).result;
      io.out(`Network ${r.name} ${r.redefined ? 'redefined' : 'defined'} from ${positionals[0]}\n`);
      return 0;
    }
    const { name, values } = oneName(args, `--connect SOCKET ${op} NAME`, op === 'net-autostart' ? { disable: { type: 'boolean' } } : {});
    await withAgent(socket, (c) => c.request(op, op === 'net-autostart' ? { name, enable: !values.disable } : { name }));
    const done = { 'net-start': 'started', 'net-destroy': 'destroyed', 'net-undefine': 'undefined', 'net-autostart': values.disable ? 'unmarked as autostarted' : 'marked as autostarted' }[op];
    io.out(`Network ${name} ${done}\n`);
    return 0;
  };
}

export const connectVerbs: Record<string, Remote> = {
  launch: launchRemote,
  list: listRemote,
  destroy: destroyRemote,
  dumpxml: dumpxmlRemote,
  'attach-interface': attachRemote,
  'detach-interface': detachRemote,
  probe: probeRemote,
  'net-list': netListRemote,
  'net-dumpxml': netDumpxmlRemote,
  'net-define': netAdminRemote('net-define'),
  'net-undefine': netAdminRemote('net-undefine'),
  'net-start': netAdminRemote('net-start'),
  'net-destroy': netAdminRemote('net-destroy'),
  'net-autostart': netAdminRemote('net-autostart'),
};

