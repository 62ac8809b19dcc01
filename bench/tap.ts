// One tap fd on br0: through the agent against Debian's qemu-bridge-helper.
//   agent_tap_ms                  one tap fd through the agent: prepare +
//                                 release on one connection, nothing else in
//                                 flight (<driver name='qemu'/>: no vhost-net)
//   agent_tap_prepare_ms          the prepare of it alone (request -> reply
//                                 with the fd)
//   bridge_helper_tap_ms          one tap fd from qemu-bridge-helper
//                                 (`ip netns exec NS qemu-bridge-helper
//                                 --use-vnet --br=br0 --fd=3`, fd 3 one end of
//                                 a socketpair): spawn -> fd received ->
//                                 closed (the tap goes) -> helper exited
//   ip_netns_exec_true_ms         `ip netns exec NS true` spawned the same way:
//                                 what entering the namespace costs the
//                                 helper (ip's exec, setns, /sys remount, the
//                                 second exec), which a helper on the host
//                                 would not pay; bridge_helper_tap_net_ms is
//                                 the helper's median less this one
//   agent_vs_bridge_helper_ratio  agent_tap_ms / bridge_helper_tap_ms (lower is
//                                 better for the agent); _net_ratio against
//                                 bridge_helper_tap_net_ms
// Medians of NETFD_BENCH_TAP_COUNT (200) interleaved runs each, after 5
// untimed. The helper reads only /etc/qemu/bridge.conf: created (`allow br0`)
// if missing and removed at the end; if one exists that does not let br0
// through, the helper comparison is skipped (bridge_helper_skipped says why).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { agentCycle, agentDomainXml, type AgentContext } from './agent';
import type { Results, Suite } from './harness';
import { envCount, interleaved, log, median, msSince, now, percentile, round } from './harness';
import { netfd } from './netfd';
import { closedOf, endOf, running, tailOf, timeout } from './proc';

const BRIDGE_HELPER = '/usr/lib/qemu/qemu-bridge-helper';
const BRIDGE_CONF = '/etc/qemu/bridge.conf';
const HELPER_TIMEOUT_MS = 5_000;
const TAP_WARMUP = 5;

/**
 * `ip netns exec NS ARGV...` with one end of a stream socketpair as its fd 3
 * (stdio as for the helper either way, so the baseline spawns the same way).
 * With recvFd, waits for one fd on our end (closing it at once, which deletes
 * the helper's tap) and then for the exit, status 0; resolves with the ms from
 * just before the spawn to then.
 */
async function nsExec(a: AgentContext, args: string[], { recvFd }: { recvFd: boolean }): Promise<number> {
  const { socketPair, closeFd, recvFds } = netfd();
  const [mine, theirs] = socketPair('stream');
  let child;
  const t0 = now();
  try {
    child = spawn('ip', ['netns', 'exec', a.ns, ...args], { stdio: ['ignore', 'ignore', 'pipe', theirs] });
  } finally {
    closeFd(theirs);
  }
  a.procs.add(child);
  const closed = closedOf(child);
  const stderr = tailOf(child.stderr!); // stdio[2] is a pipe
  const what = args[0] === BRIDGE_HELPER ? 'qemu-bridge-helper' : args.join(' ');
  try {
    if (recvFd) {
      let m: { fds: number[]; err?: Error };
      try {
        m = await recvFds(mine, 16, 4, HELPER_TIMEOUT_MS);
      } catch (err) {
        m = { fds: [], err: err as Error };
      }
      for (const fd of m.fds) closeFd(fd);
      if (m.fds.length !== 1) {
        await timeout(closed, HELPER_TIMEOUT_MS, `${what} still running`).catch(() => undefined);
        throw new Error(`${what} sent ${m.fds.length} fds${m.err ? ` (${m.err.message})` : ''}: ${stderr() || 'no output'}`);
      }
    }
    const e = await timeout(closed, HELPER_TIMEOUT_MS, `${what} still running`);
    if (e.error || e.code !== 0) throw new Error(`${what} exited with ${endOf(e)}: ${stderr() || 'no output'}`);
    return msSince(t0);
  } finally {
    closeFd(mine);
    if (running(child)) child.kill('SIGKILL');
    a.procs.delete(child);
  }
}

const helperTap = (a: AgentContext) => nsExec(a, [BRIDGE_HELPER, '--use-vnet', '--br=br0', '--fd=3'], { recvFd: true });
const nsExecTrue = (a: AgentContext) => nsExec(a, ['true'], { recvFd: false });

/**
 * Makes qemu-bridge-helper usable on br0 and runs it once; null when it is,
 * else why not. The helper reads only /etc/qemu/bridge.conf: created (with
 * `allow br0`) when missing and removed at the end; an existing one is left
 * alone, and if it does not let br0 through the comparison is skipped.
 */
async function bridgeHelperReady(a: AgentContext): Promise<string | null> {
  if (!fs.existsSync(BRIDGE_HELPER)) return `${BRIDGE_HELPER} is not installed (apt-get install qemu-system-common)`;
  const existed = fs.existsSync(BRIDGE_CONF);
  if (!existed) {
    const dir = path.dirname(BRIDGE_CONF);
    if (!fs.existsSync(dir)) {
      fs.mkdirSync(dir, { mode: 0o755 });
      a.made.confDir = dir;
    }
    fs.writeFileSync(BRIDGE_CONF, 'allow br0\n', { flag: 'wx', mode: 0o644 });
    a.made.conf = BRIDGE_CONF;
    log(`agent: created ${BRIDGE_CONF} (allow br0) for qemu-bridge-helper; removed at the end`);
  }
  try {
    await helperTap(a);
    return null;
  } catch (err) {
    if (!existed) throw err;
    return `${BRIDGE_CONF} exists and does not let br0 through (${(err as Error).message}); left alone`;
  }
}

async function agentVsBridgeHelper(a: AgentContext, results: Results): Promise<void> {
  const n = envCount('NETFD_BENCH_TAP_COUNT', 200);
  const skip = await bridgeHelperReady(a);
  if (skip) log(`agent: qemu-bridge-helper comparison skipped: ${skip}`);
  const xml = agentDomainXml('bench-tap', "<driver name='qemu'/>");
  const prepared: number[] = [];
  const kinds = {
    agent: () => agentCycle(a.client, 'bench-tap', xml, 1, prepared),
    helper: () => helperTap(a),
    nsexec: () => nsExecTrue(a),
  };
  const order = skip ? (['agent'] as const) : (['agent', 'helper', 'nsexec'] as const);
  log(`agent: one tap fd, ${n} times each: agent prepare+release on one connection${skip ? '' : `, ip netns exec qemu-bridge-helper, ip netns exec true; interleaved`}`);
  // Each round rotates which goes first, so none always follows another.
  const ms: Partial<Record<keyof typeof kinds, number[]>> = await interleaved(n, kinds, order, TAP_WARMUP);
  const f = (x: number) => x.toFixed(2);
  const agent = ms.agent!;
  results.agent_tap_count = n;
  results.agent_tap_ms = round(median(agent), 2);
  results.agent_tap_ms_p99 = round(percentile(agent, 99), 2);
  results.agent_tap_prepare_ms = round(median(prepared.slice(TAP_WARMUP)), 2);
  if (skip) {
    results.bridge_helper_skipped = skip;
    log(`agent: one tap fd: median ${f(median(agent))} ms, p99 ${f(percentile(agent, 99))} ms; the prepare alone ${f(median(prepared.slice(TAP_WARMUP)))} ms`);
    return;
  }
  const helper = median(ms.helper!);
  const nsexec = median(ms.nsexec!);
  results.bridge_helper_tap_ms = round(helper, 2);
  results.bridge_helper_tap_ms_p99 = round(percentile(ms.helper!, 99), 2);
  results.ip_netns_exec_true_ms = round(nsexec, 2);
  results.bridge_helper_tap_net_ms = round(helper - nsexec, 2);
  log(
    `agent: one tap fd, medians: agent ${f(median(agent))} ms (p99 ${f(percentile(agent, 99))}; the prepare alone ${f(median(prepared.slice(TAP_WARMUP)))} ms), qemu-bridge-helper ${f(helper)} ms (p99 ${f(percentile(ms.helper!, 99))}), ` +
      `ip netns exec true ${f(nsexec)} ms, helper less that ${f(helper - nsexec)} ms; agent/helper ${f(median(agent) / helper)}, agent/(helper - exec) ${f(median(agent) / (helper - nsexec))}`,
  );
}

export const tap: Suite<AgentContext> = {
  name: 'tap',
  // No kernel floor near it: one tap created, attached and up costs the
  // kernel ip_batch_tap_create_ms (clients suite), well under this.
  goals: { agent_vs_bridge_helper_net_ratio: '<= 0.2' },
  ratios: [
    ['agent_vs_bridge_helper_ratio', 'agent_tap_ms', 'bridge_helper_tap_ms'],
    ['agent_vs_bridge_helper_net_ratio', 'agent_tap_ms', 'bridge_helper_tap_net_ms'],
  ],
  run: agentVsBridgeHelper,
};
