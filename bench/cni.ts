// A macvtap attachment through netfd's CNI plugin against the reference
// macvlan plugin (Debian's containernetworking-plugins), ADD then DEL of one
// attachment on master cni0 (a veth in the agent's namespace, which plays
// the node's) into a pod namespace, each plugin exec'd as a runtime execs it
// (CNI_* environment, configuration on stdin) through `nsenter
// --net=/run/netns/AGENT_NS`, so both run in the node's namespace and pay
// the same exec:
//   cni_netfd_add_del_ms          netfd's plugin (a native forwarder to the
//                                 warm agent): ADD of a bridge-mode macvtap
//                                 made inside the pod, then DEL
//   cni_netfd_add_ms, _del_ms     each call alone
//   cni_macvlan_add_del_ms        the reference macvlan plugin, same master,
//                                 mode and pod, `ipam: {}` (no addresses,
//                                 as netfd's config asks none)
//   cni_macvlan_add_ms, _del_ms   each call alone
//   nsenter_true_ms               `nsenter --net=... true`: the exec both pay
//   cni_vs_macvlan_ratio          cni_netfd_add_del_ms / cni_macvlan_add_del_ms
// Medians of NETFD_BENCH_CNI_COUNT (100) interleaved rounds each, after 5
// untimed; every call must exit 0 and the pod must hold only lo after each
// DEL. What the plugins make differs: netfd's is a macvtap (a character
// device for qemu) with the guest MAC, recorded; the reference plugin's a
// macvlan made in the node's namespace and then moved and renamed.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { AgentContext } from './agent';
import type { Results, Suite } from './harness';
import { envCount, interleaved, log, median, msSince, now, percentile, round } from './harness';
import { ROOT } from './netfd';
import { closedOf, endOf, tailOf, timeout } from './proc';

const PLUGIN = path.join(ROOT, 'build', 'Release', 'netfd-cni');
const MACVLAN = '/usr/lib/cni/macvlan';
const CALL_TIMEOUT_MS = 10_000;
const WARMUP = 5;

/** `ip ARGS...`, synchronously (setup and teardown only); its stdout. */
function ip(args: string[], { allowFail = false } = {}): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** One plugin call through nsenter into the agent's namespace; ms from spawn to exit 0. */
async function call(a: AgentContext, argv: string[], env: Record<string, string>, stdin: string): Promise<number> {
  const t0 = now();
  const child = spawn('nsenter', [`--net=/run/netns/${a.ns}`, ...argv], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  a.procs.add(child);
  const closed = closedOf(child);
  const out = tailOf(child.stdout);
  const err = tailOf(child.stderr);
  child.stdin.on('error', () => undefined);
  child.stdin.end(stdin);
  try {
    const e = await timeout(closed, CALL_TIMEOUT_MS, `${argv.join(' ')} still running`);
    if (e.error || e.code !== 0) throw new Error(`${argv.join(' ')} ${env.CNI_COMMAND ?? ''} exited with ${endOf(e)}: ${out()}${err()}`);
    return msSince(t0);
  } finally {
    a.procs.delete(child);
  }
}

async function cniVsMacvlan(a: AgentContext, results: Results): Promise<void> {
  const n = envCount('NETFD_BENCH_CNI_COUNT', 100);
  if (!fs.existsSync(PLUGIN)) throw new Error(`${PLUGIN} is not built (npm install builds it)`);
  if (!fs.existsSync(MACVLAN)) {
    results.cni_skipped = `${MACVLAN} is not installed (apt-get install containernetworking-plugins)`;
    log(`cni: skipped: ${results.cni_skipped}`);
    return;
  }
  const pod = `${a.ns}-pod`;
  ip(['netns', 'add', pod]);
  a.made.netns.push(pod);
  ip(['-n', a.ns, 'link', 'add', 'cni0', 'type', 'veth', 'peer', 'name', 'cni1']);
  try {
    ip(['-n', a.ns, 'link', 'set', 'cni0', 'up']);
    const podOnlyLo = () => {
      const links = (JSON.parse(ip(['-n', pod, '-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname);
      if (links.join() !== 'lo') throw new Error(`cni: the pod holds ${links.join(', ')} after DEL`);
    };
    const env = (command: string, id: string) => ({
      CNI_COMMAND: command,
      CNI_CONTAINERID: id,
      CNI_NETNS: `/run/netns/${pod}`,
      CNI_IFNAME: 'net1',
      CNI_PATH: '/usr/lib/cni',
      NETFD_AGENT_SOCKET: a.socket,
    });
    const netfdConf = JSON.stringify({ cniVersion: '1.0.0', name: 'bench', type: 'netfd', master: 'cni0', mode: 'bridge' });
    const macvlanConf = JSON.stringify({ cniVersion: '1.0.0', name: 'bench', type: 'macvlan', master: 'cni0', mode: 'bridge', ipam: {} });
    const split = { netfd: { add: [] as number[], del: [] as number[] }, macvlan: { add: [] as number[], del: [] as number[] } };
    const pair = async (kind: 'netfd' | 'macvlan', argv: string[], conf: string) => {
      const add = await call(a, argv, env('ADD', `bench-${kind}`), conf);
      const del = await call(a, argv, env('DEL', `bench-${kind}`), conf);
      podOnlyLo();
      split[kind].add.push(add);
      split[kind].del.push(del);
      return add + del;
    };
    const kinds = {
      netfd: () => pair('netfd', [PLUGIN], netfdConf),
      macvlan: () => pair('macvlan', [MACVLAN], macvlanConf),
      nsenter: () => call(a, ['true'], {}, ''),
    };
    log(`cni: ADD+DEL of one macvtap through netfd's plugin vs the reference macvlan plugin, and nsenter true, ${n} rounds each, interleaved`);
    const ms = await interleaved(n, kinds, ['netfd', 'macvlan', 'nsenter'] as const, WARMUP);
    const med = (xs: number[]) => round(median(xs.slice(WARMUP)), 2);
    results.cni_count = n;
    results.cni_netfd_add_del_ms = round(median(ms.netfd), 2);
    results.cni_netfd_add_del_ms_p99 = round(percentile(ms.netfd, 99), 2);
    results.cni_netfd_add_ms = med(split.netfd.add);
    results.cni_netfd_del_ms = med(split.netfd.del);
    results.cni_macvlan_add_del_ms = round(median(ms.macvlan), 2);
    results.cni_macvlan_add_del_ms_p99 = round(percentile(ms.macvlan, 99), 2);
    results.cni_macvlan_add_ms = med(split.macvlan.add);
    results.cni_macvlan_del_ms = med(split.macvlan.del);
    results.nsenter_true_ms = round(median(ms.nsenter), 2);
    log(
      `cni: medians: netfd ADD+DEL ${results.cni_netfd_add_del_ms} ms (ADD ${results.cni_netfd_add_ms}, DEL ${results.cni_netfd_del_ms}), ` +
        `macvlan ${results.cni_macvlan_add_del_ms} ms (ADD ${results.cni_macvlan_add_ms}, DEL ${results.cni_macvlan_del_ms}), nsenter true ${results.nsenter_true_ms} ms`,
    );
  } finally {
    ip(['-n', a.ns, 'link', 'del', 'cni0'], { allowFail: true });
    ip(['netns', 'del', pod], { allowFail: true });
    a.made.netns.splice(a.made.netns.indexOf(pod), 1);
  }
}

export const cni: Suite<AgentContext> = {
  name: 'cni',
  goals: { cni_vs_macvlan_ratio: '<= 1' },
  ratios: [['cni_vs_macvlan_ratio', 'cni_netfd_add_del_ms', 'cni_macvlan_add_del_ms']],
  run: cniVsMacvlan,
};
