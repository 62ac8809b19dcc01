// Launching qemu with the fds netfd prepared: they are inherited through
// spawn's stdio slots at exactly the numbers in the argv (3, 4, ...;
// fdpass.ts), and no other fd of netfd reaches qemu (netfd, like Node, opens
// everything O_CLOEXEC). netfd supervises qemu: when it exits, the domain
// is torn down; while it runs, the domain's macvtaps follow the vCPUs (up
// while they run, down while paused), as libvirt keeps them, over a private
// QMP monitor; and the live XML records the PCI address each NIC got.
// qemu's QMP socket (STATE/NAME.qmp) is made by netfd, listening before
// qemu runs, and handed to qemu as an fd (ready.ts): no wait for a file.
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { NetfdError } from '../errors';
import { socketPair } from '../sys/fdpass';
import { native } from '../sys/native';
import type { PrepareOptions } from '../netdev/connect';
import { prepareDomain, PreparedDomain } from './domain';
import { CommandFds, FdPass } from './fdpass';
import { Qmp } from './qmp/commands';
import { QmpSocket, whenUp } from './ready';
import { QMP_CHARDEV_ID, withQmpFd } from './argv';
import { queryPciAddresses } from './pci';
import { RunState } from './runstate';
import { objectFile, stateDir } from '../state/dirs';
import type { PciAddress } from '../xml/interface';
import { DomainXml } from '../xml/domain';

/** Options of {@link launchDomain}. */
export interface LaunchOptions extends PrepareOptions {
  /** The qemu binary (default: <emulator> of the domain, else qemu-system-x86_64). */
  qemu?: string | undefined;
  /** Overrides the accelerator from <domain type>. */
  accel?: 'tcg' | 'kvm' | undefined;
  /** Extra arguments appended to qemu's command line. */
  extraArgs?: string[] | undefined;
  /** qemu's stdin/stdout: 'inherit' (the serial console on stdio) or 'pipe'. Default 'inherit'. */
  stdio?: 'inherit' | 'pipe' | undefined;
  /** How long qemu may take to come up (its QMP socket answering). Default 30 s. */
  startTimeoutMs?: number | undefined;
  /**
   * The domain's macvtaps (type='direct', and type='network' on a pool):
   * 'follow' (default), as libvirt: created down, up while the vCPUs run,
   * down again while they are paused or stopped (QMP RESUME and STOP on a
   * monitor of netfd's own, `-chardev socket,id=netfd-mon,fd=N -mon
   * chardev=netfd-mon,mode=control`, N the fd after the NICs'); 'up': up at
   * once and left so (no extra monitor). Taps are up from the start either way.
   */
  macvtapLinks?: 'follow' | 'up' | undefined;
}

/** The id of the chardev of netfd's own QMP monitor on qemu's command line. */
export const MONITOR_ID = 'netfd-mon';

export const qmpPath = (dir: string, name: string): string => objectFile(dir, name, 'qmp');
export const pidPath = (dir: string, name: string): string => objectFile(dir, name, 'pid');

/** STATE/NAME.pid: who runs a launched domain. */
export interface PidInfo {
  /** qemu's pid. */
  pid: number;
  /** The netfd process supervising qemu. */
  supervisor: number;
  qmp: string;
  /** The namespace given at launch. */
  netns: string | null;
  /** The accelerator given at launch (over <domain type>), for hotplug's driver decisions. */
  accel?: 'tcg' | 'kvm';
  /** 'follow': the supervisor keeps the macvtaps in step with the vCPUs, and a hotplugged one starts so too. */
  links?: 'follow';
}

/** The domain's pid file, or null when there is none (prepared only) or it is not netfd's. */
export function readPidInfo(dir: string, name: string): PidInfo | null {
  try {
    const info = JSON.parse(fs.readFileSync(pidPath(dir, name), 'utf8')) as PidInfo;
    return typeof info.pid === 'number' && typeof info.qmp === 'string' ? info : null;
  } catch {
    return null;
  }
}

/** The last lines of qemu's stderr, kept for error messages. */
class Tail {
  #lines: string[] = [];
  #partial = '';
  push(chunk: Buffer): void {
    const parts = (this.#partial + chunk.toString('utf8')).split('\n');
    this.#partial = parts.pop() ?? '';
    this.#lines.push(...parts);
    if (this.#lines.length > 20) this.#lines.splice(0, this.#lines.length - 20);
  }
  text(): string {
    return [...this.#lines, this.#partial].filter((l) => l.trim()).join('\n');
  }
}

/** How qemu ended: its exit code, or the signal that killed it. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running qemu and its prepared domain. `exited` resolves after teardown. */
export class LaunchedDomain {
  readonly domain: PreparedDomain;
  readonly child: ChildProcess;
  readonly argv: string[];
  readonly qmp: string;
  readonly pidFile: string;
  /** Resolves when qemu has exited and the domain has been torn down. */
  readonly exited: Promise<Exit>;
  /**
   * The vCPUs' state and the macvtaps following it (macvtapLinks 'follow');
   * null with 'up'. `runState.running`, `await runState.settled()`.
   */
  readonly runState: RunState | null;

  /**
   * Made by {@link launchDomain}.
   * @internal
   */
  constructor(domain: PreparedDomain, child: ChildProcess, argv: string[], qmp: string, pidFile: string, exited: Promise<Exit>, runState: RunState | null = null) {
    this.domain = domain;
    this.child = child;
    this.argv = argv;
    this.qmp = qmp;
    this.pidFile = pidFile;
    this.exited = exited;
    this.runState = runState;
  }

  /** qemu's pid. */
  get pid(): number {
    return this.child.pid as number;
  }

  /** Asks qemu to stop (SIGTERM; SIGKILL after `graceMs`) and waits for teardown. */
  async stop(graceMs = 5000): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      try {
        return await this.exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return this.exited;
  }
}

/**
 * Follows qemu's run state on the monitor netfd holds (`q.monitor`), calling
 * `apply(running)` for the macvtaps; a qemu whose monitor answers no
 * query-status is not usable (killed, QEMU_FAILED). `doing` says what apply
 * does, in its errors.
 */
export async function followRunState(q: StartedQemu, name: string, doing: string, apply: (running: boolean) => Promise<void>, warn: (m: string) => void): Promise<RunState> {
  const wrapped = async (running: boolean) => {
    try {
      await apply(running);
    } catch (e) {
      throw new NetfdError(`${name}: ${doing} ${running ? 'up (the vCPUs run)' : 'down (the vCPUs are paused)'} failed: ${(e as Error).message}`, { code: (e as NetfdError).code ?? 'EIO', cause: e });
    }
  };
  try {
    return await RunState.follow(q.monitor as Qmp, wrapped, { onError: (e) => warn(e.message), appliedAtStart: false });
  } catch (err) {
    q.child.kill('SIGKILL');
    await q.exited;
    throw new NetfdError(`qemu failed to start: its monitor did not answer query-status: ${(err as Error).message}`, { code: 'QEMU_FAILED', cause: err });
  }
}

/** qemu started by `startQemu`: `exited` resolves after `cleanup` has run. */
export interface StartedQemu {
  child: ChildProcess;
  argv: string[];
  exited: Promise<Exit>;
  /** netfd's own monitor (`monitor: true`), connected; closed when qemu exits. */
  monitor: Qmp | null;
}

export interface StartExtras {
  /** Give qemu a monitor of netfd's own (a socket pair end after `fds`) and connect to it. */
  monitor?: boolean;
  /** Runs on the first QMP connection once qemu is up, before `startQemu` resolves (a throw fails the start). */
  ready?: (q: Qmp) => Promise<void>;
}

/** How long a qemu that failed its start may take to exit by itself (so its own exit code and message are reported). */
const FAILED_EXIT_MS = 1000;

/**
 * Spawns qemu with `fds` at 3, 4, … (spawn slots; the fds netfd and Node
 * open are close-on-exec, so none of theirs reaches qemu otherwise), and
 * its QMP socket `qmp`, which netfd makes listening before qemu runs and
 * hands it as an fd (argv's `-qmp unix:QMP,…` becomes `-chardev
 * socket,fd=N,server=on -mon mode=control`; N is the fd after the NICs',
 * or after netfd's own monitor when there is one). Resolves once that
 * socket greets, negotiates and reports a post-init run state (qemu's init,
 * its drives opened, is over); qemu exiting first is seen by its exit event. `closeFds` runs once qemu has its
 * copies; `cleanup` runs when qemu exits, after the socket file is removed,
 * before `exited` resolves. When qemu fails to start, the rejection carries
 * qemu's own message, after `cleanup`.
 */
export async function startQemu(argv: string[], fds: readonly number[], qmp: string, o: LaunchOptions, closeFds: () => void, cleanup: () => Promise<void>, x: StartExtras = {}): Promise<StartedQemu> {
  let child: ChildProcess;
  let socket: QmpSocket | null = null;
  // netfd's end of its monitor, and qemu's until qemu has it.
  let mine = -1;
  let theirs = -1;
  const closeMonitorFds = () => {
    for (const fd of [mine, theirs]) if (fd >= 0) native().close(fd);
    mine = theirs = -1;
  };
  try {
    if (o.qemu) argv[0] = o.qemu;
    if (o.accel) argv[argv.indexOf('-accel') + 1] = o.accel;
    // The NICs' fds take slots 3, 4, … (argv numbers them so), netfd's monitor the next, the QMP socket the one after.
    const cmd = new CommandFds(3);
    new FdPass('netfd-nics', fds).toCommand(cmd);
    const monitorArgs: string[] = [];
    if (x.monitor) {
      [mine, theirs] = socketPair('stream');
      const [n] = new FdPass(MONITOR_ID, [theirs]).toCommand(cmd);
      monitorArgs.push('-chardev', `socket,id=${MONITOR_ID},fd=${n}`, '-mon', `chardev=${MONITOR_ID},mode=control`);
    }
    try {
      socket = QmpSocket.listen(qmp);
    } catch (e) {
      // What qemu binding it would have failed with (a path too long, a directory it may not write).
      throw new NetfdError(`qemu failed to start: its QMP socket ${qmp} could not be made: ${(e as Error).message}`, { code: 'QEMU_FAILED', cause: e });
    }
    const [q] = new FdPass(QMP_CHARDEV_ID, [socket.fd]).toCommand(cmd);
    argv.splice(0, argv.length, ...withQmpFd(argv, qmp, q), ...monitorArgs);
    argv.push(...(o.extraArgs ?? []));
    const io = o.stdio ?? 'inherit';
    // Of netfd's fds only those in the stdio slots reach qemu: the others,
    // like Node's own, are O_CLOEXEC. An fd this process inherited without
    // close-on-exec passes too; marking those is the program's call, not a
    // library's (the netfd CLI may, for its own process).
    child = spawn(argv[0], argv.slice(1), { stdio: cmd.stdio([io, io, 'pipe']) });
  } catch (err) {
    closeFds();
    closeMonitorFds();
    socket?.unlink();
    await cleanup().catch(() => undefined);
    throw err;
  }
  // qemu has its copies now (spawn returns after the exec).
  const qmpSocket = socket;
  qmpSocket.closeFd();
  if (theirs >= 0) {
    native().close(theirs);
    theirs = -1;
  }
  let monitor: Qmp | null = null;
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const tail = new Tail();
  child.stderr?.on('data', (c: Buffer) => {
    tail.push(c);
    process.stderr.write(c);
  });
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => {
      qmpSocket.unlink();
      closeMonitorFds();
      void (monitor?.close() ?? Promise.resolve()).then(() => cleanup()).then(() => resolve({ code, signal }));
    });
  });
  closeFds();
  // netfd's monitor greets alongside the QMP socket (both wait for qemu's main loop).
  const timeoutMs = o.startTimeoutMs ?? 30000;
  let opening: Promise<Qmp> | null = null;
  if (mine >= 0) {
    const fd = mine;
    mine = -1; // the connection owns it from here, also when it fails
    opening = Qmp.open(fd, { timeoutMs });
    opening.catch(() => undefined); // awaited below, or closed on failure
  }
  try {
    // Up means: the greeting, capabilities negotiated, and a run state qemu
    // reaches only after init (running, paused by -S, prelaunch, incoming).
    // A qemu that fails init (a kernel it cannot load) drops the connection
    // or exits: either rejects at once.
    if (child.pid === undefined) throw await spawnError; // not spawned (ENOENT…): 'error' comes next
    await whenUp(qmp, child, { timeoutMs, ready: x.ready });
    if (opening) monitor = await opening;
  } catch (err) {
    void opening?.then(
      (m) => m.close(),
      () => undefined,
    );
    // A qemu that failed init drops its QMP connection as it exits: let it
    // exit by itself (its exit event; at most FAILED_EXIT_MS), so its own
    // exit code and message are reported.
    if (child.exitCode === null && child.signalCode === null) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => (timer = setTimeout(r, FAILED_EXIT_MS)))]);
      clearTimeout(timer);
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    const e = await exited;
    const spawnErr =
      (err as NodeJS.ErrnoException).code === 'ENOENT' && String((err as NodeJS.ErrnoException).syscall).startsWith('spawn')
        ? ` (${argv[0]} not found: install qemu-system-x86 or pass --qemu PATH)`
        : '';
    // qemu's stderr: the tail kept of it, or (inherited) already on the caller's stderr.
    const why = tail.text() || (child.stderr ? (err as Error).message : `see qemu's message above (${(err as Error).message})`);
    const how = spawnErr || ` (${e.signal ?? `exit code ${e.code}`})`;
    throw new NetfdError(`qemu failed to start${how}: ${why}`, { code: 'QEMU_FAILED', cause: err });
  }
  return { child, argv, exited, monitor };
}

/**
 * query-pci on `q`, then `record` with the NICs' addresses (by qemu device
 * id). A failure is a warning: the guest runs; its live XML lacks addresses.
 */
export async function recordNicAddresses(q: Qmp, record: (a: Map<string, PciAddress>) => Promise<unknown>, warn: (m: string) => void, what: string): Promise<void> {
  try {
    await record(await queryPciAddresses(q));
  } catch (e) {
    warn(`${what}: the NICs' PCI addresses were not recorded in the live XML: ${(e as Error).message}`);
  }
}

/**
 * Prepares the domain's interfaces, then spawns qemu with exactly those fds.
 * Resolves once qemu is up (its QMP socket answers), the NICs' PCI addresses
 * are in the live XML, and (macvtapLinks 'follow') the macvtaps are as the
 * vCPUs are: down under -S until `cont`. Rejects with qemu's own message when
 * it fails to start, after tearing everything down. `input` may be a domain
 * prepared already (by prepareDomains, its macvtaps down when macvtapLinks
 * is 'follow'); it is then launched as it is, and torn down as any other.
 */
export async function launchDomain(input: string | DomainXml | PreparedDomain, o: LaunchOptions = {}): Promise<LaunchedDomain> {
  const prepared = input instanceof PreparedDomain ? input : null;
  const xml = input instanceof PreparedDomain ? input.xml : typeof input === 'string' ? DomainXml.parse(input) : input;
  const name = xml.def.name;
  const dir = stateDir(o.stateDir);
  const qmp = qmpPath(dir, name);
  const pidFile = pidPath(dir, name);
  const warn = o.onWarning ?? ((m: string) => process.emitWarning(m, 'NetfdWarning'));
  const follow = (o.macvtapLinks ?? 'follow') === 'follow';
  const domain = prepared ?? (await prepareDomain(xml, { ...o, stateDir: dir, macvtapsDown: follow }));
  // teardown deletes links by index: netfd's fds can go once qemu has its own.
  const q = await startQemu(
    domain.argv({ qmp }),
    domain.qemuFds(),
    qmp,
    o,
    () => domain.closeFds(),
    async () => {
      fs.rmSync(pidFile, { force: true });
      await domain.teardown().catch((e) => process.stderr.write(`netfd: teardown of ${name} failed: ${(e as Error).message}\n`));
    },
    { monitor: follow, ready: (m) => recordNicAddresses(m, (a) => domain.recordAddresses(a), warn, name) },
  );
  const info: PidInfo = {
    pid: q.child.pid as number,
    supervisor: process.pid,
    qmp,
    netns: domain.netns ?? null,
    ...(o.accel ? { accel: o.accel } : {}),
    ...(follow ? { links: 'follow' as const } : {}),
  };
  fs.writeFileSync(pidFile, `${JSON.stringify(info)}\n`);
  const runState = q.monitor ? await followRunState(q, name, 'setting its macvtaps', (running) => domain.setRunning(running), warn) : null;
  return new LaunchedDomain(domain, q.child, q.argv, qmp, pidFile, q.exited, runState);
}
