// Launching qemu as an ordinary user with fds the agent prepared: the agent
// creates the devices and sends the fds (SCM_RIGHTS); this process spawns
// qemu with them, as `launchDomain` does with its own, and asks the agent to
// release the domain when qemu exits. The QMP socket and pid file live in
// the caller's own state directory.
//
// The devices are the agent's and this user cannot set links up or down
// (that needs CAP_NET_ADMIN), so the run state this process reads from its
// own QMP monitor goes to the agent (set-running), which sets the domain's
// macvtaps up or down; the PCI addresses qemu gave go to the agent's live XML
// the same way (record-pci).
import fs from 'node:fs';
import { NetfdError } from '../errors';
import { native } from '../sys/native';
import { stateDir } from '../state/dirs';
import { Exit, followRunState, LaunchOptions, pidPath, PidInfo, qmpPath, recordNicAddresses, startQemu } from '../qemu/launch';
import { formatPci } from '../qemu/pci';
import { RunState } from '../qemu/runstate';
import { DomainXml } from '../xml/domain';
import { AgentClient } from './client';

/**
 * The `prepare` reply: the domain's name, live XML, qemu argv (fds numbered from 3) and per interface
 * its device and fd counts.
 */
export interface PreparedByAgent {
  name: string;
  liveXml: string;
  argv: string[];
  interfaces: { dev: string; mac: string; alias: string; driver: 'vhost' | 'qemu' | null; tapFds: number; vhostFds: number }[];
}

/** A qemu started by {@link launchViaAgent}: running as the caller, on fds the agent made. */
export interface AgentLaunched {
  name: string;
  pid: number;
  qmp: string;
  /** The live XML the agent keeps (with the NICs' PCI addresses once recorded). */
  liveXml: string;
  argv: string[];
  /** The vCPUs' state, which the agent's macvtaps follow (macvtapLinks 'follow'); null with 'up'. */
  runState: RunState | null;
  /** Resolves when qemu has exited and the agent has released the domain (or could not be asked). */
  exited: Promise<Exit & { releaseError?: Error }>;
  /**
   * SIGTERM to qemu, SIGKILL after `graceMs` (default 10 s); resolves with how it exited, after the
   * agent released the domain.
   */
  stop(graceMs?: number): Promise<Exit>;
  /** The connection in use now (a new one after the agent restarted). */
  client(): AgentClient;
  /** Closes the agent connection (after `exited`). */
  close(): void;
}

/** The client's own state directory: --state-dir, NETFD_STATE_DIR, else $XDG_RUNTIME_DIR/netfd or /tmp/netfd-UID. */
export function clientStateDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const fallback = env.XDG_RUNTIME_DIR ? `${env.XDG_RUNTIME_DIR}/netfd` : `/tmp/netfd-${process.getuid?.() ?? 0}`;
  return stateDir(explicit ?? (env.NETFD_STATE_DIR || fallback), env);
}

/** Asks the agent to prepare the domain, then runs qemu with the fds it sent. */
export async function launchViaAgent(client: AgentClient, text: string, o: LaunchOptions = {}): Promise<AgentLaunched> {
  const name = DomainXml.parse(text).def.name;
  const dir = clientStateDir(o.stateDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Another user could have made it first (/tmp/netfd-UID): it must be ours alone.
  const st = fs.lstatSync(dir);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory() || st.uid !== uid || st.mode & 0o022)
    throw new NetfdError(`state directory ${dir} is not a directory owned by uid ${uid} and writable only by it; remove it or pass --state-dir`, { code: 'EACCES', field: 'stateDir', value: dir });
  const qmp = qmpPath(dir, name);
  const pidFile = pidPath(dir, name);
  const follow = (o.macvtapLinks ?? 'follow') === 'follow';
  const warn = o.onWarning ?? ((m: string) => process.emitWarning(m, 'NetfdWarning'));
  // running: false: the agent makes the macvtaps down and waits for set-running.
  const { result, fds } = await client.request<PreparedByAgent>('prepare', { xml: text, qmp, ...(o.accel ? { accel: o.accel } : {}), ...(follow ? { running: false } : {}) });
  let liveXml = result.liveXml;
  let runState: RunState | null = null;
  const closeFds = () => fds.splice(0).forEach((fd) => native().close(fd));
  let current = client;
  let running = true;
  // The agent went away (restarted, upgraded): reconnect and claim the
  // domain before its grace period ends, for as long as qemu runs.
  const reconnect = async (): Promise<void> => {
    for (let delay = 100; running; delay = Math.min(delay * 2, 2000)) {
      await new Promise((r) => setTimeout(r, delay));
      let c: AgentClient | undefined;
      try {
        c = await AgentClient.connect(client.socket);
        await c.request('claim', { name });
        current = c;
        c.onClose = () => void reconnect();
        // What changed while it was away (or was being applied) is said again.
        runState?.resync();
        return;
      } catch {
        c?.close(); // not back yet
      }
    }
  };
  client.onClose = () => void reconnect();
  let releaseError: Error | undefined;
  const release = async () => {
    running = false;
    fs.rmSync(pidFile, { force: true });
    // The agent may be restarting: a fresh connection releases too (same user).
    const via = current.closed ? await AgentClient.connect(client.socket).catch(() => current) : current;
    await via.request('release', { name }).catch((e) => {
      releaseError = e as Error;
    });
    if (via !== current) via.close();
  };
  const nics = new Set(result.interfaces.map((i) => i.alias));
  const recordPci = async (a: Map<string, { bus: number; slot: number; function: number }>) => {
    const addresses = [...a].filter(([id]) => nics.has(id)).map(([id, p]) => `${id}=${formatPci(p)}`);
    liveXml = (await current.request<{ liveXml: string | null }>('record-pci', { name, addresses })).result.liveXml ?? liveXml;
  };
  const q = await startQemu(result.argv, fds, qmp, o, closeFds, release, { monitor: follow, ready: (m) => recordNicAddresses(m, recordPci, warn, name) });
  const info: PidInfo & { agent: string } = { pid: q.child.pid as number, supervisor: process.pid, qmp, netns: null, agent: client.socket, ...(follow ? { links: 'follow' as const } : {}) };
  fs.writeFileSync(pidFile, `${JSON.stringify(info)}\n`);
  if (q.monitor) runState = await followRunState(q, name, 'asking the agent to set its macvtaps', async (running) => void (await current.request('set-running', { name, running })), warn);
  const exited = q.exited.then((e) => ({ ...e, ...(releaseError ? { releaseError } : {}) }));
  return {
    name,
    pid: q.child.pid as number,
    qmp,
    get liveXml() {
      return liveXml;
    },
    argv: q.argv,
    runState,
    exited,
    client: () => current,
    close: () => {
      running = false;
      current.onClose = undefined;
      current.close();
    },
    stop: async (graceMs = 5000) => {
      if (q.child.exitCode === null && q.child.signalCode === null) {
        q.child.kill('SIGTERM');
        const timer = setTimeout(() => q.child.kill('SIGKILL'), graceMs);
        try {
          return await exited;
        } finally {
          clearTimeout(timer);
        }
      }
      return exited;
    },
  };
}

/** The QMP socket of a domain this user launched through the agent. */
export function launchedQmp(name: string, explicitDir?: string): string {
  const dir = clientStateDir(explicitDir);
  try {
    const info = JSON.parse(fs.readFileSync(pidPath(dir, name), 'utf8')) as PidInfo;
    if (typeof info.qmp === 'string') return info.qmp;
  } catch {
    // below
  }
  throw new NetfdError(`domain ${name} has no qemu launched by you (no ${pidPath(dir, name)}); hotplug needs a running qemu`, { code: 'ENOENT', field: 'name', value: name });
}
