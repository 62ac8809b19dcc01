// `netfd agent`: the privileged daemon that the verbs with --connect talk to.
import path from 'node:path';
import pino from 'pino';
import { NetfdError } from '../../errors';
import { Agent, DEFAULT_ACL } from '../../agent/server';
import { str, UsageError, Values } from '../args';
import type { Verb } from '../command';

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
  if (n > 1)
    throw new NetfdError(`systemd passed ${n} sockets; the agent takes exactly one (one ListenSequentialPacket= line)`, { code: 'INVALID_ARGUMENT', field: 'LISTEN_FDS', value: env.LISTEN_FDS });
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
export const daemon: Verb = {
  run: ({ values, positionals }) => serve(values, positionals),
};

async function serve(values: Values, positionals: string[]): Promise<number> {
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
  if (socket !== undefined && !path.isAbsolute(socket))
    throw new NetfdError(`invalid socket ${JSON.stringify(socket)}: an absolute path`, { code: 'INVALID_ARGUMENT', field: 'socket', value: socket });
  const level = str(values, 'log-level') ?? process.env.NETFD_LOG_LEVEL ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level))
    throw new NetfdError(`invalid log-level ${JSON.stringify(level)}`, { code: 'INVALID_ARGUMENT', field: 'log-level', value: level });
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
