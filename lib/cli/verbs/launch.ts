// launch: the interfaces prepared (here, or by the agent with --connect) and
// qemu run with their fds in the foreground; --detach (here only) leaves a
// supervisor of the same launch in the background.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Running } from '../../api/backend';
import { NetfdError, NetfdErrorCode, suppressedText } from '../../errors';
import { objectFile, stateDir } from '../../state/dirs';
import { closeOnExecFrom } from '../../sys/fds';
import { DomainXml } from '../../xml/domain';
import { Io, readDomainFile, str, UsageError } from '../args';
import type { Call, Verb } from '../command';
import { usageOf } from '../help';

/** The domain to launch: the file as written, or (--from-live) a live XML from dumpxml made a config again. */
export const launchXml = (file: string, fromLive: boolean): DomainXml => (fromLive ? DomainXml.fromLive(readDomainFile(file)) : DomainXml.parse(readDomainFile(file)));

const CLI = path.join(__dirname, '..', '..', '..', 'bin', 'netfd.js');

export const launch: Verb = {
  async run({ args, values, positionals, io, backend, connect }: Call) {
    if (values.detach && connect !== undefined)
      throw new UsageError('launch --detach is not available with --connect: the launching process holds the agent connection; run it under your own supervisor (e.g. systemd-run --user)');
    // Every positional after -- is qemu's; those before are domain files.
    const dashes = args.indexOf('--');
    const files = dashes < 0 ? positionals : positionals.slice(0, positionals.length - (args.length - dashes - 1));
    if (files.length < 1) throw new UsageError(usageOf('launch'));
    const accel = str(values, 'accel');
    if (accel !== undefined && accel !== 'tcg' && accel !== 'kvm')
      throw new NetfdError(`invalid accel ${JSON.stringify(accel)}: tcg or kvm`, { code: 'INVALID_ARGUMENT', field: 'accel', value: accel });
    const fromLive = values['from-live'] === true;
    if (files.length > 1) {
      if (values.detach || values.supervise) throw new UsageError('launch --detach takes one DOMAIN.xml: launch several domains in the foreground, or one launch --detach per domain');
      return launchMany(files, positionals.slice(files.length), values, backend, io, fromLive, accel as 'tcg' | 'kvm' | undefined);
    }
    if (values.detach) return launchDetached(args, positionals[0], str(values, 'state-dir'), fromLive, io);
    const supervise = values.supervise === true;
    const report = (m: object) => process.send?.(m);
    // This program's own inherited fds (without FD_CLOEXEC) stay out of qemu.
    closeOnExecFrom(3);
    let l: Running;
    try {
      l = await backend.launch(launchXml(files[0], fromLive), { qemu: str(values, 'qemu'), accel: accel as 'tcg' | 'kvm' | undefined, extraArgs: positionals.slice(1) });
    } catch (err) {
      const e = err as NetfdError;
      if (supervise) report({ error: { message: e.message, code: e.code, field: e.field, value: e.value, hint: e.hint, also: suppressedText(e) } });
      throw err;
    }
    const paused = l.runState?.running === false ? (l.agent ? ' (vCPUs paused: the agent keeps its macvtaps down until they run)' : ' (vCPUs paused: its macvtaps stay down until they run)') : '';
    io.err(`netfd: ${l.name} running as qemu pid ${l.pid}${paused}; QMP ${l.qmp}; ${l.agent ? `devices from the agent at ${l.agent}` : `live XML ${l.live}`}\n`);
    if (supervise) {
      report({ ok: true, name: l.name, pid: l.pid, qmp: l.qmp, live: l.live });
      process.disconnect?.();
    }
    const onSignal = () => void l.stop();
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    if (supervise) process.on('SIGHUP', () => undefined); // a supervisor outlives its terminal
    try {
      const e = await l.exited;
      const done = l.agent ? (e.releaseError ? `releasing ${l.name} failed: ${e.releaseError.message}` : `${l.name} released`) : `${l.name} torn down`;
      io.err(`netfd: qemu ${e.signal ? `killed by ${e.signal}` : `exited with ${e.code}`}; ${done}\n`);
      return e.code ?? 1;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      l.close();
    }
  },
};

/**
 * launch A.xml B.xml ...: the domains prepared together and their qemus run
 * in the foreground (all or nothing: when one fails to start, none is left);
 * SIGINT/SIGTERM stop them all; returns once every qemu has exited (the
 * first non-zero exit code, else 0).
 */
async function launchMany(files: string[], extraArgs: string[], values: Call['values'], backend: Call['backend'], io: Io, fromLive: boolean, accel: 'tcg' | 'kvm' | undefined): Promise<number> {
  const xmls = files.map((f) => launchXml(f, fromLive));
  closeOnExecFrom(3);
  // Through the agent this is refused (NOT_SUPPORTED): it prepares one domain per request.
  const ls = await backend.launchMany(xmls, { qemu: str(values, 'qemu'), accel, extraArgs });
  for (const l of ls) {
    const paused = l.runState?.running === false ? ' (vCPUs paused: its macvtaps stay down until they run)' : '';
    io.err(`netfd: ${l.name} running as qemu pid ${l.pid}${paused}; QMP ${l.qmp}; live XML ${l.live}\n`);
  }
  const onSignal = () => void Promise.all(ls.map((l) => l.stop()));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const codes = await Promise.all(
      ls.map(async (l) => {
        const e = await l.exited;
        io.err(`netfd: ${l.name}: qemu ${e.signal ? `killed by ${e.signal}` : `exited with ${e.code}`}; ${l.name} torn down\n`);
        return e.code ?? 1;
      }),
    );
    return codes.find((c) => c !== 0) ?? 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const l of ls) l.close();
  }
}

/**
 * launch --detach: the same launch in a new session (setsid) whose output
 * goes to STATE_DIR/NAME.log; returns once it reports qemu running, or
 * fails with its error.
 */
async function launchDetached(args: string[], file: string, explicitDir: string | undefined, fromLive: boolean, io: Io): Promise<number> {
  // The domain name, for messages and the log (parsed again by the supervisor).
  const name = launchXml(file, fromLive).def.name;
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
  type Report = { ok?: boolean; pid?: number; qmp?: string; live?: string; error?: { message: string; code?: NetfdErrorCode; field?: string; value?: unknown; hint?: string; also?: string } };
  const report = await new Promise<Report | null>((resolve) => {
    child.once('message', (m) => resolve(m as Report));
    child.once('exit', () => resolve(null));
    child.once('error', () => resolve(null));
  });
  if (report?.ok) {
    child.unref();
    if (child.connected) child.disconnect();
    io.err(`netfd: ${name} running as qemu pid ${report.pid}, supervised by pid ${child.pid}; QMP ${report.qmp}; live XML ${report.live}; log ${logFile}\n`);
    return 0;
  }
  if (report?.error)
    throw new NetfdError(`${report.error.message}${report.error.also ?? ''}`, { code: report.error.code ?? 'EUNKNOWN', field: report.error.field, value: report.error.value, hint: report.error.hint });
  throw new NetfdError(`the supervisor for ${name} exited before qemu was running; see ${logFile}`, { code: 'QEMU_FAILED' });
}
