// The agent section: `netfd agent` started as a child process (--netns of a
// scratch namespace netfd-bench-<pid>-agent holding only bridge br0; socket,
// ACL `allow user * bridge br0` and state directory in a temporary directory
// on /dev/shm, like /run); its clients are AgentClient connections in this
// process. Domains have one <interface type='bridge'> on br0; root may also
// make bridge-mode macvtaps on cni0 (the cni suite's master). Suites:
// clients, tap, fairness, cni. Afterwards:
//   agent_leaks                   links other than lo and br0 left in the
//                                 namespace + records or live XML left in the
//                                 agent's state directory, checked while the
//                                 agent still runs
// The agent, any helper still running, the namespace, the directory and a
// bridge.conf the tap suite created are removed in the finally, on
// SIGINT/SIGTERM and on exit.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { log, msSince, now, round, scratch, sleep, type Section } from './harness';
import { netfd, netfdAgent, NETFD_BIN, type AgentClient } from './netfd';
import { closedOf, endOf, killAndWait, running, tailOf, type Closed } from './proc';
import { removeNetns } from '../test/helpers/host';

/** The links the agent section's namespace holds between benchmarks. */
const AGENT_BASE_LINKS = ['lo', 'br0'];
const AGENT_START_TIMEOUT_MS = 15_000;

export interface AgentContext {
  ns: string;
  /** The temporary directory (0711) holding socket, ACL and state. */
  dir: string;
  socket: string;
  acl: string;
  stateDir: string;
  /** The agent. */
  child: ChildProcess;
  closed: Promise<Closed>;
  stderr: () => string;
  /** One connection of root's, open throughout. */
  client: AgentClient;
  connect: (socket: string) => Promise<AgentClient>;
  /** Other processes started (helpers, the flooding client): SIGKILLed at the end. */
  procs: Set<ChildProcess>;
  /** What the tap suite created for qemu-bridge-helper, and the namespaces a suite added (the cni suite's pod), removed at the end. */
  made: { conf: string | null; confDir: string | null; netns: string[] };
}

/**
 * A domain with one tap on br0. `driver` <driver name='qemu'/> keeps the
 * agent from also opening vhost-net on hosts that have it, which
 * qemu-bridge-helper never does (one tap fd from each).
 */
export const agentDomainXml = (name: string, driver = ''): string =>
  `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><devices>` + `<interface type='bridge'><source bridge='br0'/><model type='virtio'/>${driver}</interface></devices></domain>`;

/**
 * One prepare + release of `name` through `client`, its fds closed; ms. The
 * ms of the prepare alone (request -> reply with the fds) go to `prepared`.
 */
export async function agentCycle(client: AgentClient, name: string, xml: string, wantFds = 0, prepared?: number[]): Promise<number> {
  const t0 = now();
  const r = await client.request<{ interfaces?: unknown[] }>('prepare', { xml });
  prepared?.push(msSince(t0));
  for (const fd of r.fds) fs.closeSync(fd);
  const ifaces = r.result?.interfaces?.length;
  if (ifaces !== 1 || r.fds.length < 1 || (wantFds && r.fds.length !== wantFds)) throw new Error(`prepare ${name}: expected 1 interface and ${wantFds || '1+'} fds, got ${ifaces} and ${r.fds.length}`);
  await client.request('release', { name });
  return msSince(t0);
}

/** Starts `netfd agent` (a child process, serving the namespace); resolves with a client once its socket answers. */
async function startAgent(a: Pick<AgentContext, 'socket' | 'acl' | 'stateDir' | 'ns' | 'connect'>): Promise<Pick<AgentContext, 'child' | 'closed' | 'stderr' | 'client'>> {
  const argv = [NETFD_BIN, 'agent', '--socket', a.socket, '--socket-mode', '0666', '--acl', a.acl, '--state-dir', a.stateDir, '--netns', a.ns, '--grace', '1', '--log-level', 'warn'];
  // NETFD_BENCH_AGENT_NODE_ARGS: node options for the agent alone, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (written when it stops).
  const nodeArgs = (process.env.NETFD_BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
  const closed = closedOf(child);
  const stderr = tailOf(child.stderr, process.stderr);
  const t0 = Date.now();
  for (;;) {
    if (!running(child)) throw new Error(`netfd agent exited (${endOf(await closed)}): ${stderr() || 'no output'}`);
    try {
      return { child, closed, stderr, client: await a.connect(a.socket) };
    } catch (err) {
      if (Date.now() - t0 > AGENT_START_TIMEOUT_MS) throw new Error(`netfd agent not answering on ${a.socket} within ${AGENT_START_TIMEOUT_MS} ms: ${(err as Error).message}`, { cause: err });
      await sleep(20);
    }
  }
}

/** Links other than lo and br0 (or those gone), and records or live XML the agent still has. */
async function leaks(a: AgentContext): Promise<{ links: string[]; left: string[] }> {
  const links = (await netfd().listLinks({ netns: a.ns })).map((l) => l.name);
  const odd = [...links.filter((l) => !AGENT_BASE_LINKS.includes(l)).map((l) => `link ${l}`), ...AGENT_BASE_LINKS.filter((l) => !links.includes(l)).map((l) => `link ${l} gone`)];
  let files: string[] = [];
  try {
    files = fs.readdirSync(a.stateDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json') || f.endsWith('.xml'));
  } catch {
    // no state directory: nothing left
  }
  return { links, left: [...odd, ...files.map((f) => `file ${f}`)] };
}

export const agent: Section<AgentContext> = {
  name: 'agent',
  goals: { agent_leaks: '== 0' },
  async run(env, runSuites) {
    const t0 = now();
    const { AgentClient } = netfdAgent();
    const procs = new Set<ChildProcess>();
    const made: AgentContext['made'] = { conf: null, confDir: null, netns: [] };
    let a: AgentContext | null = null;
    let dir: string | null = null;
    let agentChild: ChildProcess | null = null;
    const s = scratch(env, `netfd-bench-${process.pid}-agent`, { veth: false });
    const remove = () => {
      for (const c of [agentChild, ...procs]) if (c && running(c)) c.kill('SIGKILL');
      procs.clear();
      if (made.conf) {
        fs.rmSync(made.conf, { force: true });
        if (made.confDir) fs.rmSync(made.confDir, { recursive: true, force: true });
        log(`removed ${made.conf}${made.confDir ? ` and ${made.confDir}` : ''}`);
        made.conf = made.confDir = null;
      }
      for (const ns of made.netns.splice(0)) {
        try {
          removeNetns(ns);
          log(`removed namespace ${ns}`);
        } catch (err) {
          console.error(`[bench] could not remove namespace ${ns}: ${(err as Error).message}`);
        }
      }
      if (dir) {
        fs.rmSync(dir, { recursive: true, force: true });
        dir = null;
      }
      s.remove();
    };
    env.onCleanup(remove);
    try {
      dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'netfd-bench-agent-'));
      fs.chmodSync(dir, 0o711); // the flooding user of the fairness suite reaches the socket
      const paths = { ns: s.ns, dir, socket: path.join(dir, 'agent.sock'), acl: path.join(dir, 'acl.conf'), stateDir: path.join(dir, 'state'), connect: (p: string) => AgentClient.connect(p) };
      // Root's clients are all one user here: room for the 100 concurrent
      // ones, their domains and their request rate. The flooding user of the fairness suite may
      // use br0 but asks for br9.
      fs.writeFileSync(
        paths.acl,
        `allow user * bridge br0\nallow user root dev cni0\nallow user root mode bridge\nlimit user root connections 1000\nlimit user root requests 1000\nlimit user root domains 1000\nlimit user root rate 100000\n`,
      );
      const started = await startAgent(paths);
      agentChild = started.child;
      a = { ...paths, ...started, procs, made };
      log(`agent: netfd agent pid ${started.child.pid} serving ${a.ns} on ${a.socket}`);
      await runSuites(a);
      a.client.close();

      // Leaks, while the agent still runs (a tap fd it kept open would keep its tap).
      const { links, left } = await leaks(a);
      env.results.agent_leaks = left.length;
      if (left.length) log(`WARNING: agent: the namespace should hold only ${AGENT_BASE_LINKS.join(' and ')} and the agent nothing, but: ${left.join(', ')}`);
      else log(`agent: no leaks (namespace links: ${links.join(', ')}; no records or live XML left)`);

      const e = await killAndWait(a.child, a.closed, 5000);
      if (e.code !== 0) throw new Error(`netfd agent exited with ${e.signal ?? `code ${e.code}`} on SIGTERM: ${a.stderr()}`);
      env.results.agent_section_s = round(msSince(t0) / 1000, 1);
      log(`agent: done in ${env.results.agent_section_s} s`);
    } finally {
      a?.client.close();
      if (a) await killAndWait(a.child, a.closed, 3000);
      remove();
    }
  },
};
