#!/usr/bin/env node
// Benchmarks netfd's link operations against iproute2, and a real guest's
// networking through netfd's fds against bare qemu (`npm run bench`).
//
// What it measures, for N macvtaps (default 1000, `--count N`) in bridge mode
// on one veth end:
//   ip_batch_ms_per_link          one `ip -batch` process creating N macvtaps, / N
//   ip_group_delete_ms_per_link   one `ip -batch` moving them to a group and
//                                 deleting the group, / N
//   netfd_create_ms_per_link      createMacvtap() with a few calls in flight
//                                 (as many as the libuv threadpool has threads), / N
//   netfd_create_seq_ms_per_link  createMacvtap() awaited one at a time, / N
//   bulk_delete_ms_per_link       one deleteLinks() of all N, / N (+ bulk_delete_grouped)
//   ip_spawn_ms_per_link          one `ip link add` process per link, over
//                                 min(N, 200) links, / that count
//   event_loop_max_ms             worst event-loop delay while netfd creates
//                                 and bulk-deletes (monitorEventLoopDelay)
//   prepare_teardown_ms_p50/_p99  prepareDomain() + teardown() of a domain with
//                                 4 interfaces (2 macvtap on v0, 2 tap on br0),
//                                 200 cycles (+ prepare_ms_p50, teardown_ms_p50)
//   ip_domain_cycle_ms_p50/_p99   the same 4 links created, configured and
//                                 deleted one by one by ONE long-running
//                                 `ip -batch -` process fed over stdin, per cycle
//   prepare_teardown_leaks        after those cycles: fds left open + links left
//                                 in the namespace + files left in the state dir
// and the ratios create_vs_ip_batch, ip_spawn_vs_create and
// prepare_teardown_vs_kernel, against `goals`.
// Progress goes to stdout; the LAST line is one JSON object of the figures.
//
// SAFETY: the host's own interfaces are never touched. Everything happens in a
// scratch network namespace (netfd-bench-<pid>) holding a veth pair v0/v1 and a
// bridge br0, all up (the domain's live XML goes to a temporary directory); the
// namespace is removed in a `finally`, on SIGINT/SIGTERM and on exit, also
// when a benchmark fails.
//
// Guest section (`bench.js guest`): one guest image (scripts/guest.js), booted
// under TCG in another scratch namespace (netfd-bench-<pid>-xxxx, from
// guest.scratchNetns: bridge br0 whose veth port's peer b1 is 10.0.0.1) with
// one NIC; all packets stay inside that namespace.
//   tap_netfd_mbps / tap_bare_mbps   guest -> peer TCP (iperf3 client in the
//                                 guest, `iperf3 -s -1` on b1), virtio-net:
//                                 through netfd's tap fd (launchDomain) / with
//                                 qemu opening its own pre-created tap tb0 on
//                                 br0 (`ip netns exec NS qemu ... -netdev
//                                 tap,ifname=tb0,...`, otherwise netfd's argv);
//                                 medians of alternating runs
//   tap_throughput_parity         their ratio
//   e1000_netfd_mbps, virtio_vs_e1000_ratio   the same through netfd with e1000
//   launch_netfd_cli_ms / launch_bare_qemu_ms spawn of `netfd launch` (the
//                                 CLI; qemu's console comes through its stdout)
//                                 / of bare qemu with tb0, to the guest's
//                                 NETFD-PING-OK console line; medians of
//                                 alternating runs; launch_overhead_ms = the
//                                 difference (launch_overhead_preboot_ms: the
//                                 same with the guest's own uptime at the ping
//                                 subtracted, which removes most boot noise)
//   netfd_prepare_spawn_ms        in-process: launchDomain() called -> qemu
//                                 spawned (prepare + argv), median
// Runs: NETFD_BENCH_THROUGHPUT_ROUNDS (3; each round = netfd virtio, bare
// virtio, netfd e1000) and NETFD_BENCH_LAUNCH_PAIRS (5). Every qemu, netfd CLI
// and iperf3 started is killed, and the namespace and temporary directory
// removed, at the end, on failure, on SIGINT/SIGTERM and on exit.
//
// Networks section (`bench.js networks`): files only, in a temporary state
// directory on tmpfs (/dev/shm, like /run) and sysfs fixture trees
// (scripts/sriov-fixture.js); no link is touched.
//   pool_alloc_release_us         Networks.allocate() + release() on a bridge
//                                 network over a 64-VF <pf> pool, 10,000 times
//                                 (NETFD_BENCH_POOL_CYCLES), per cycle: each
//                                 takes the network's lock, expands the PF from
//                                 sysfs, checks the ledger against the domains'
//                                 live XML and writes ledger and live XML
//                                 atomically (fsync + rename)
//   pf_expand_256_ms              net-start (Networks.start) of a network whose
//                                 <pf> has 256 VFs, median of 20 (+ destroy)
//   ls_virtfn_256_ms              what a user would run instead: one
//                                 `sh -c 'ls -d .../device/virtfn*/net/*'`
//                                 over the same tree, median of 20
//   pf_expand_vs_ls               their ratio
//
// Agent section (`bench.js agent`): `netfd agent` started as a child process
// (--netns of a scratch namespace netfd-bench-<pid>-agent holding only bridge
// br0; socket, ACL `allow user * bridge br0` and state directory in a
// temporary directory on /dev/shm); its clients are AgentClient connections
// in this process. Domains have one <interface type='bridge'> on br0.
//   agent_ops_per_s               100 connections (NETFD_BENCH_AGENT_CLIENTS)
//                                 at once, each 50 (NETFD_BENCH_AGENT_CYCLES)
//                                 sequential prepare + release cycles of its
//                                 own domain (bench-cN; the tap fds received
//                                 are closed): cycles / wall time
//   agent_p50_ms / agent_p99_ms   one such prepare + release, over all cycles
//   ip_batch_tap_cycles_per_s     the kernel's ceiling for that: one `ip -batch`
//                                 creating, attaching to br0, setting up and
//                                 deleting 200 taps back to back (rtnl
//                                 serializes these however many clients ask);
//                                 agent_ops_vs_ip_batch = agent / this
//   agent_tap_ms                  one tap fd through the agent: prepare +
//                                 release on one connection, nothing else in
//                                 flight (<driver name='qemu'/>: no vhost-net)
//   bridge_helper_tap_ms          one tap fd from Debian's qemu-bridge-helper
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
//   agent_leaks                   links other than lo and br0 left in the
//                                 namespace + records or live XML left in the
//                                 agent's state directory, checked while the
//                                 agent still runs
// The three one-tap figures are medians of NETFD_BENCH_TAP_COUNT (200)
// interleaved runs each, after 5 untimed. The helper reads only
// /etc/qemu/bridge.conf: created (`allow br0`) if missing and removed at the
// end; if one exists that does not let br0 through, the helper comparison is
// skipped (bridge_helper_skipped says why).
//
// Sections: `bench.js` runs all, `bench.js links` only the link benchmarks,
// `bench.js guest` only the guest ones (`npm run bench -- guest`),
// `bench.js networks` only the network ones, `bench.js agent` only the agent's.
//
// Adding a benchmark: write an async function (ctx, results) that puts its
// figures into `results`, and append it to BENCHES (GUEST_BENCHES for guest
// ones, which get the guest context; AGENT_BENCHES for agent ones); derived
// figures go in derive().
'use strict';
const { execFile, execFileSync, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { monitorEventLoopDelay } = require('node:perf_hooks');

const SPAWN_MAX = 200;
const GOALS = {
  create_vs_ip_batch: '<= 1.2',
  ip_spawn_vs_create: '>= 5',
  bulk_delete_ms_per_link: '<= 1',
  event_loop_max_ms: '< 5',
  prepare_teardown_vs_kernel: '<= 1.3',
  prepare_teardown_leaks: '== 0',
  tap_throughput_parity: '>= 0.95',
  launch_overhead_ms: '< 150',
  agent_leaks: '== 0',
  agent_hello_p99_under_flood_ms: '< 50',
};

const DOMAIN_CYCLES = 200;
const DOMAIN_WARMUP = 5;
/** A domain with 2 macvtaps on v0 (bridge, vepa) and 2 taps on br0; vhost off. */
const DOMAIN_XML = `<domain type='qemu'>
  <name>bench</name>
  <memory unit='MiB'>256</memory>
  <devices>
    <interface type='direct'><source dev='v0' mode='bridge'/><model type='virtio'/><driver name='qemu'/></interface>
    <interface type='direct'><source dev='v0' mode='vepa'/><model type='virtio'/><driver name='qemu'/></interface>
    <interface type='bridge'><source bridge='br0'/><model type='virtio'/><driver name='qemu'/></interface>
    <interface type='bridge'><source bridge='br0'/><model type='virtio'/><driver name='qemu'/></interface>
  </devices>
</domain>
`;
/** The links the scratch namespace holds between benchmarks. */
const BASE_LINKS = ['lo', 'v0', 'v1', 'br0'];
/**
 * What a user with ip does for the same domain: the taps created (persistent,
 * as `ip tuntap add` makes them), given a host MAC, attached to br0 and up, as
 * netfd does in one request per tap; the macvtaps created with their MAC and
 * set up; then the four deleted one by one.
 */
const IP_DOMAIN_CYCLE = [
  'link add link v0 name ipm0 address 52:54:00:be:00:01 type macvtap mode bridge',
  'link set ipm0 up',
  'link add link v0 name ipm1 address 52:54:00:be:00:02 type macvtap mode vepa',
  'link set ipm1 up',
  'tuntap add mode tap name ipt0 vnet_hdr',
  'link set ipt0 address fe:54:00:be:00:03 master br0 up',
  'tuntap add mode tap name ipt1 vnet_hdr',
  'link set ipt1 address fe:54:00:be:00:04 master br0 up',
  'link del ipm0',
  'link del ipm1',
  'link del ipt0',
  'link del ipt1',
];
const IP_BATCH_TIMEOUT_MS = 10_000;

const log = (msg) => console.log(`[bench] ${msg}`);
const now = () => process.hrtime.bigint();
const msSince = (t0) => Number(now() - t0) / 1e6;
const round = (x, digits = 3) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

const SECTIONS = ['links', 'networks', 'guest', 'agent'];

/** `[links|guest|networks|agent ...] [--count N]`: the sections to run (default all) and N. */
function parseArgs(argv) {
  let count = 1000;
  const sections = new Set();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    let value;
    if (SECTIONS.includes(a)) {
      sections.add(a);
      continue;
    }
    if (a === '--count') value = argv[++i];
    else if (a.startsWith('--count=')) value = a.slice('--count='.length);
    else throw new Error(`unknown argument ${JSON.stringify(a)} (usage: bench.js [links|guest|networks|agent] [--count N])`);
    if (!/^[1-9][0-9]{0,5}$/.test(value ?? '')) throw new Error(`--count wants a positive integer, got ${JSON.stringify(value)}`);
    count = Number(value);
  }
  return { count, sections: SECTIONS.filter((x) => sections.size === 0 || sections.has(x)) };
}

/** Runs `ip -n NS ARGS...` without blocking the event loop. */
function ipAsync(ns, args) {
  return new Promise((resolve, reject) => {
    execFile('ip', ['-n', ns, ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        err.message = `ip -n ${ns} ${args.join(' ')}: ${String(stderr).trim() || err.message}`;
        reject(err);
      } else resolve(stdout);
    });
  });
}

/** Runs one `ip -n NS -batch FILE` with the given lines. */
async function ipBatch(ctx, label, lines) {
  const file = path.join(ctx.tmp, `${label}.batch`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return ipAsync(ctx.ns, ['-batch', file]);
}

/** Nearest-rank percentile (p in (0, 100]) of a non-empty array of numbers. */
function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
}

/**
 * This process's open fds, number -> target. The directory handle readdir used
 * is closed by the time of readlink and drops out (ENOENT).
 */
function openFds() {
  const fds = new Map();
  for (const n of fs.readdirSync('/proc/self/fd')) {
    try {
      fds.set(n, fs.readlinkSync(`/proc/self/fd/${n}`));
    } catch {
      // gone meanwhile
    }
  }
  return fds;
}

/**
 * One long-running `ip -n NS -o -force -batch -`, fed batches of lines over
 * stdin, one batch at a time.
 *
 * Knowing when a batch has finished: ip runs the lines strictly in order, each
 * link command waits for the kernel's acknowledgement before ip reads the next
 * line, and ip flushes stdout after every line of a batch. So each batch ends
 * with the query `link show dev lo`, which with -o prints exactly one line
 * starting with "1: lo:" (lo is ifindex 1 in every namespace); when that line
 * arrives, every command before it has completed. stderr is merged into the
 * same pipe (sh -c 'exec ... 2>&1'), so an error ("Error: ...", "Command failed
 * -:N") arrives in order, before the marker, and fails the batch instead of
 * racing it on another pipe; -force keeps ip reading after a failed line, so
 * the marker still comes and nothing hangs. A timeout guards against an ip that
 * would not flush.
 */
class IpBatchProcess {
  static MARKER = 'link show dev lo';
  static MARKER_REPLY = /^1: lo:/;

  constructor(ns) {
    this.ns = ns;
    this.child = spawn('sh', ['-c', 'exec "$@" 2>&1', 'sh', 'ip', '-n', ns, '-o', '-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.pending = null;
    this.buf = '';
    this.other = [];
    this.gone = null;
    this.closed = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        this.gone = `ip -batch exited (${signal ?? `code ${code}`})${this.other.length ? `: ${this.other.join(' | ')}` : ''}`;
        this.settle(new Error(this.gone));
        resolve();
      });
    });
    this.child.once('error', (err) => {
      this.gone = `cannot run ip -batch: ${err.message}`;
      this.settle(new Error(this.gone));
    });
    this.child.stdin.on('error', () => {}); // EPIPE when ip is gone; reported by 'close'
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk) => {
      this.buf += chunk;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (!IpBatchProcess.MARKER_REPLY.test(line)) this.other.push(line);
        else {
          const other = this.other.splice(0);
          this.settle(other.length ? new Error(`ip -n ${ns} -batch -: ${other.join(' | ')}`) : null);
        }
      }
    });
  }

  settle(err) {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve();
  }

  /** Sends `lines` and the marker; resolves when ip has run them all without error. */
  run(lines) {
    if (this.gone) return Promise.reject(new Error(this.gone));
    if (this.pending) return Promise.reject(new Error('IpBatchProcess: one batch at a time'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.settle(new Error(`ip -n ${this.ns} -batch -: no marker within ${IP_BATCH_TIMEOUT_MS} ms`)), IP_BATCH_TIMEOUT_MS);
      this.pending = { resolve, reject, timer };
      this.child.stdin.write([...lines, IpBatchProcess.MARKER].join('\n') + '\n');
    });
  }

  /** Ends ip's input and waits until it has exited and its pipes are closed. */
  async close() {
    if (!this.gone) this.child.stdin.end();
    const timer = setTimeout(() => this.kill(), 5000);
    await this.closed;
    clearTimeout(timer);
  }

  /** Synchronous, for the 'exit' handler. */
  kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** Calls fn(i) for i in [0, n) with at most `limit` calls in flight; stops issuing after a failure. */
async function pool(n, limit, fn) {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < n) {
      const i = next++;
      try {
        await fn(i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

/** Runs fn with the event-loop delay monitor on; returns [fn's result, max delay in ms]. */
async function withLoopMonitor(fn) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  try {
    const r = await fn();
    h.disable();
    return [r, h.max / 1e6];
  } finally {
    h.disable();
  }
}

/** Indexes of the links in the namespace whose names start with prefix. */
async function linksNamed(ctx, prefix) {
  return (await ctx.netfd.listLinks({ netns: ctx.ns })).filter((l) => l.name.startsWith(prefix)).map((l) => l.index);
}

async function expectLinks(ctx, prefix, count) {
  const found = (await linksNamed(ctx, prefix)).length;
  if (found !== count) throw new Error(`expected ${count} links named ${prefix}*, found ${found}`);
}

async function removeAll(ctx, prefix) {
  const indexes = await linksNamed(ctx, prefix);
  if (indexes.length) await ctx.netfd.deleteLinks(indexes, { netns: ctx.ns });
  await expectLinks(ctx, prefix, 0);
}

// ---- benchmarks: each adds keys to `results` -------------------------------

async function benchIpBatch(ctx, results) {
  const n = ctx.count;
  const names = Array.from({ length: n }, (_, i) => `ipb${i}`);
  log(`ip -batch: creating ${n} macvtaps in one process`);
  let t0 = now();
  await ipBatch(ctx, 'ipb-add', names.map((name) => `link add link v0 name ${name} type macvtap mode bridge`));
  const addMs = msSince(t0);
  await expectLinks(ctx, 'ipb', n);
  log(`ip -batch: ${addMs.toFixed(1)} ms, ${(addMs / n).toFixed(3)} ms/link`);

  log('ip -batch: deleting them (set group 99 each, then delete group 99)');
  t0 = now();
  await ipBatch(ctx, 'ipb-del', [...names.map((name) => `link set dev ${name} group 99`), 'link del group 99']);
  const delMs = msSince(t0);
  await expectLinks(ctx, 'ipb', 0);
  log(`ip -batch group delete: ${delMs.toFixed(1)} ms, ${(delMs / n).toFixed(3)} ms/link`);

  results.ip_batch_ms_per_link = round(addMs / n);
  results.ip_group_delete_ms_per_link = round(delMs / n);
}

async function benchNetfdCreate(ctx, results) {
  const { netfd, ns, count: n, poolSize } = ctx;
  const indexes = new Array(n);
  log(`netfd: creating ${n} macvtaps, ${poolSize} in flight`);
  let t0;
  const [, createLoopMax] = await withLoopMonitor(async () => {
    t0 = now();
    await pool(n, poolSize, async (i) => {
      indexes[i] = (await netfd.createMacvtap({ netns: ns, link: 'v0', mode: 'bridge', name: `nfd${i}` })).index;
    });
  });
  const createMs = msSince(t0);
  await expectLinks(ctx, 'nfd', n);
  log(`netfd create: ${createMs.toFixed(1)} ms, ${(createMs / n).toFixed(3)} ms/link, event loop max ${createLoopMax.toFixed(2)} ms`);

  log(`netfd: deleteLinks() of all ${n}`);
  let r;
  const [, deleteLoopMax] = await withLoopMonitor(async () => {
    t0 = now();
    r = await netfd.deleteLinks(indexes, { netns: ns });
  });
  const deleteMs = msSince(t0);
  await expectLinks(ctx, 'nfd', 0);
  log(`netfd bulk delete: ${deleteMs.toFixed(1)} ms, ${(deleteMs / n).toFixed(3)} ms/link, deleted ${r.deleted}, grouped ${r.grouped}, event loop max ${deleteLoopMax.toFixed(2)} ms`);

  results.netfd_create_ms_per_link = round(createMs / n);
  results.netfd_create_concurrency = poolSize;
  results.bulk_delete_ms_per_link = round(deleteMs / n);
  results.bulk_delete_grouped = r.grouped;
  results.event_loop_max_create_ms = round(createLoopMax);
  results.event_loop_max_delete_ms = round(deleteLoopMax);
  results.event_loop_max_ms = round(Math.max(createLoopMax, deleteLoopMax));
}

async function benchNetfdCreateSeq(ctx, results) {
  const { netfd, ns, count: n } = ctx;
  log(`netfd: creating ${n} macvtaps, one at a time`);
  const t0 = now();
  for (let i = 0; i < n; i++) await netfd.createMacvtap({ netns: ns, link: 'v0', mode: 'bridge', name: `nfs${i}` });
  const ms = msSince(t0);
  await expectLinks(ctx, 'nfs', n);
  log(`netfd sequential create: ${ms.toFixed(1)} ms, ${(ms / n).toFixed(3)} ms/link`);
  await removeAll(ctx, 'nfs');
  results.netfd_create_seq_ms_per_link = round(ms / n);
}

async function benchIpSpawn(ctx, results) {
  const n = Math.min(ctx.count, SPAWN_MAX);
  log(`ip: one process per link, ${n} links`);
  const t0 = now();
  for (let i = 0; i < n; i++) await ipAsync(ctx.ns, ['link', 'add', 'link', 'v0', 'name', `ips${i}`, 'type', 'macvtap', 'mode', 'bridge']);
  const ms = msSince(t0);
  await expectLinks(ctx, 'ips', n);
  log(`ip spawn: ${ms.toFixed(1)} ms, ${(ms / n).toFixed(3)} ms/link`);
  await removeAll(ctx, 'ips');
  results.ip_spawn_count = n;
  results.ip_spawn_ms_per_link = round(ms / n);
}

async function benchDomain(ctx, results) {
  const { netfd, ns } = ctx;
  const { prepareDomain } = require('../dist/qemu/domain');
  const stateDir = path.join(ctx.tmp, 'state');
  fs.mkdirSync(stateDir);
  const fdsBefore = openFds();

  const cycleNetfd = async () => {
    const t0 = now();
    const p = await prepareDomain(DOMAIN_XML, { netns: ns, stateDir });
    const t1 = now();
    await p.teardown();
    return { total: msSince(t0), prepare: Number(t1 - t0) / 1e6, teardown: msSince(t1) };
  };

  // Warm-up, untimed; the first cycle also checks what a cycle does.
  log(`domain: ${DOMAIN_WARMUP} warm-up prepare+teardown cycles`);
  {
    const p = await prepareDomain(DOMAIN_XML, { netns: ns, stateDir });
    const kinds = p.interfaces.map((i) => i.kind).sort().join(',');
    const extra = (await netfd.listLinks({ netns: ns })).filter((l) => !BASE_LINKS.includes(l.name)).length;
    const liveXml = fs.existsSync(path.join(stateDir, 'bench.xml'));
    await p.teardown();
    if (kinds !== 'macvtap,macvtap,tap,tap' || extra !== 4 || !liveXml)
      throw new Error(`prepareDomain: expected 2 macvtaps + 2 taps and a live XML, got [${kinds}], ${extra} new links, live XML ${liveXml}`);
    for (let i = 1; i < DOMAIN_WARMUP; i++) await cycleNetfd();
  }

  const ip = new IpBatchProcess(ns);
  const killIp = () => ip.kill();
  process.once('exit', killIp);
  const netfdMs = [];
  const prepareMs = [];
  const teardownMs = [];
  const ipMs = [];
  try {
    const cycleIp = async () => {
      const t0 = now();
      await ip.run(IP_DOMAIN_CYCLE);
      return msSince(t0);
    };
    for (let i = 0; i < DOMAIN_WARMUP; i++) await cycleIp();

    log(`domain: ${DOMAIN_CYCLES} cycles each of netfd prepare+teardown and ip -batch, interleaved`);
    const t0 = now();
    const netfdCycle = async () => {
      const r = await cycleNetfd();
      netfdMs.push(r.total);
      prepareMs.push(r.prepare);
      teardownMs.push(r.teardown);
    };
    const ipCycle = async () => ipMs.push(await cycleIp());
    // Alternating which goes first, so neither always follows the other.
    for (let i = 0; i < DOMAIN_CYCLES; i++) {
      if (i % 2 === 0) {
        await netfdCycle();
        await ipCycle();
      } else {
        await ipCycle();
        await netfdCycle();
      }
    }
    log(`domain: ${(msSince(t0) / 1000).toFixed(1)} s`);
  } finally {
    await ip.close();
    process.removeListener('exit', killIp);
  }

  // Leaks: the ip child's pipes are closed now, so any fd not open before is
  // netfd's. (libuv's one /dev/null fd from the first spawn predates fdsBefore:
  // the namespace setup and the benches before this one spawn ip.)
  const fdsAfter = openFds();
  const leakedFds = [...fdsAfter].filter(([n, target]) => fdsBefore.get(n) !== target).map(([n, target]) => `${n} -> ${target}`);
  const leakedLinks = (await netfd.listLinks({ netns: ns })).filter((l) => !BASE_LINKS.includes(l.name)).map((l) => l.name);
  const leakedFiles = fs.readdirSync(stateDir);
  const leaks = leakedFds.length + leakedLinks.length + leakedFiles.length;

  const f = (x) => x.toFixed(2);
  const p50 = percentile(netfdMs, 50);
  const ip50 = percentile(ipMs, 50);
  log(`netfd prepare+teardown: p50 ${f(p50)} ms, p99 ${f(percentile(netfdMs, 99))} ms (prepare p50 ${f(percentile(prepareMs, 50))} ms, teardown p50 ${f(percentile(teardownMs, 50))} ms)`);
  log(`ip -batch same links: p50 ${f(ip50)} ms, p99 ${f(percentile(ipMs, 99))} ms; netfd/ip ${(p50 / ip50).toFixed(2)} (goal ${GOALS.prepare_teardown_vs_kernel})`);
  log(`leaks: ${leaks} (goal ${GOALS.prepare_teardown_leaks}): ${leakedFds.length} fds, ${leakedLinks.length} links, ${leakedFiles.length} state files`);
  if (leaks) log(`leaked: ${[...leakedFds, ...leakedLinks.map((l) => `link ${l}`), ...leakedFiles.map((x) => `file ${x}`)].join(', ')}`);

  results.prepare_teardown_cycles = DOMAIN_CYCLES;
  results.prepare_teardown_ms_p50 = round(p50);
  results.prepare_teardown_ms_p99 = round(percentile(netfdMs, 99));
  results.prepare_ms_p50 = round(percentile(prepareMs, 50));
  results.teardown_ms_p50 = round(percentile(teardownMs, 50));
  results.ip_domain_cycle_ms_p50 = round(ip50);
  results.ip_domain_cycle_ms_p99 = round(percentile(ipMs, 99));
  results.prepare_teardown_leaks = leaks;
}

const BENCHES = [benchIpBatch, benchNetfdCreate, benchNetfdCreateSeq, benchIpSpawn, benchDomain];

// ---- guest benchmarks: a real guest through netfd's fds vs bare qemu -------

const NETFD_BIN = path.join(__dirname, '..', 'bin', 'netfd.js');
const GUEST_MAC = '52:54:00:be:00:10';
/**
 * The host side of the bare-qemu tap: fe:, as netfd gives its taps, but not
 * netfd's own fe:54:00:be:00:10 for GUEST_MAC (netfd refuses a MAC already on
 * the bridge).
 */
const BARE_TAP_MAC = 'fe:54:00:be:01:10';
const BARE_TAP = 'tb0';
const GUEST_ADDR = '10.0.0.2/24';
const IPERF3_TIME_S = 4;
const IPERF3_PORT = 5201;
const BOOT_TIMEOUT_MS = 60_000; // spawn -> NETFD-PING-OK (TCG: ~5 s virtio, ~8 s e1000)
const IPERF3_TIMEOUT_MS = IPERF3_TIME_S * 1000 + 30_000; // ping -> NETFD-IPERF3
const POWEROFF_TIMEOUT_MS = 15_000; // last marker -> NETFD-POWEROFF
const EXIT_TIMEOUT_MS = 20_000; // NETFD-POWEROFF -> qemu (and netfd) gone
const SERVER_TIMEOUT_MS = 10_000; // iperf3 -s listening / gone after its one test
/** Console lines that end a run as a failure. */
const GUEST_FAIL = /^NETFD-(PING-FAIL|IP-FAIL|NICS-FAIL|IPERF3-FAIL)/;

function envCount(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  if (!/^[1-9][0-9]{0,5}$/.test(v)) throw new Error(`${name} wants a positive integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function median(values) {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Resolves with `promise`, or rejects with `what` after ms. */
function timeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} (${ms} ms)`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Resolves with { code, signal } when the child has exited and its pipes are closed (or failed to spawn). */
function closedOf(child) {
  return new Promise((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

const running = (child) => child.exitCode === null && child.signalCode === null && child.pid !== undefined;

/** SIGTERM (SIGKILL after graceMs) and wait until it is gone. */
async function killAndWait(child, closed, graceMs = 3000) {
  if (running(child)) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => running(child) && child.kill('SIGKILL'), graceMs);
    try {
      await closed;
    } finally {
      clearTimeout(timer);
    }
  }
  return closed;
}

/** Keeps the last 4000 characters written to a stream (optionally forwarding them); returns a getter. */
function tailOf(stream, forward = null) {
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (c) => {
    text = (text + c).slice(-4000);
    if (forward) forward.write(c);
  });
  return () => text.trim();
}

/**
 * Waits for a console line matching re; a GUEST_FAIL line, the end of the
 * console or the timeout fails with the console's last lines (and stderr's).
 */
async function waitMarker(run, re, ms, label) {
  const { con } = run;
  const what = re.source.replace(/^\^/, '').trim();
  const why = (s) => {
    const stderr = run.stderr ? run.stderr() : '';
    return new Error(`${label}: ${s}; last console lines:\n${con.tail()}${stderr ? `\nstderr:\n${stderr}` : ''}`);
  };
  const line = await con.wait(new RegExp(`${re.source}|${GUEST_FAIL.source}`), ms).catch(() => {
    throw why(con.ended ? `qemu's console ended before ${what}` : `no ${what} on the guest console within ${ms} ms`);
  });
  if (GUEST_FAIL.test(line.text)) throw why(`the guest reported ${JSON.stringify(line.text)}`);
  return line;
}

/** Whether /proc/PID/net/tcp (PID's namespace) has a listener on 10.0.0.1:port and PID is iperf3 by now. */
function iperf3Listening(pid, port) {
  try {
    if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'iperf3') return false; // still `ip netns exec`
    const want = `0100000A:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    return fs
      .readFileSync(`/proc/${pid}/net/tcp`, 'utf8')
      .split('\n')
      .slice(1)
      .some((l) => {
        const f = l.trim().split(/\s+/);
        return f[1] === want && f[3] === '0A';
      });
  } catch {
    return false;
  }
}

/** The argv netfd generates, with the fd netdev replaced by qemu opening BARE_TAP itself. */
function bareArgv(argv) {
  const at = argv.reduce((acc, a, i) => (a === '-netdev' ? [...acc, i + 1] : acc), []);
  if (at.length !== 1) throw new Error(`expected one -netdev in netfd's argv, got ${at.length}`);
  const m = /^tap,id=([^,]+),fd=\d+,vhost=off$/.exec(argv[at[0]]);
  if (!m) throw new Error(`unexpected -netdev ${argv[at[0]]} (want one queue, vhost off)`);
  const out = [...argv];
  out[at[0]] = `tap,id=${m[1]},ifname=${BARE_TAP},script=no,downscript=no,vhost=off,vnet_hdr=on`;
  return out;
}

/** argv with the -qmp socket path blanked, for comparing command lines. */
const withoutQmp = (argv) => argv.map((a, i) => (argv[i - 1] === '-qmp' ? '-qmp-path-' : a));

/**
 * The guest section's namespace (guest.scratchNetns, plus the bare tap tb0 on
 * br0), temporary directory and every process it starts (`track`), with a
 * synchronous remove() for signals and exit.
 */
function makeGuestScratch(netfd) {
  const g = { netfd, guest: require('./guest.js'), ns: null, tmp: null, stateDir: null, img: null, procs: new Set(), prepareSpawnMs: [] };
  let removeNs = null;
  g.track = (label, pids, stop) => {
    const entry = { label, pids, stop };
    g.procs.add(entry);
    return entry;
  };
  g.setup = () => {
    const t0 = now();
    g.img = g.guest.image();
    if (g.img.stamp.iperf3 !== 'yes') throw new Error(`the guest image has no iperf3 (stamp iperf3=${g.img.stamp.iperf3}); rebuild it with scripts/guest-image.sh`);
    const v = spawnSync('iperf3', ['--version'], { stdio: 'ignore' });
    if (v.status !== 0) throw new Error('no iperf3 on this host (apt-get install iperf3)');
    log(`guest: image ${g.img.stamp.kernel_version ?? '?'} (${g.img.stamp.boot ?? '?'}) ready in ${(msSince(t0) / 1000).toFixed(1)} s`);
    g.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-bench-guest-'));
    g.stateDir = path.join(g.tmp, 'state');
    fs.mkdirSync(g.stateDir);
    const s = g.guest.scratchNetns('netfd-bench');
    g.ns = s.ns;
    removeNs = s.remove;
    g.net = s.net;
    const ip = (...a) => execFileSync('ip', ['-n', g.ns, ...a], { stdio: ['ignore', 'ignore', 'pipe'] });
    ip('tuntap', 'add', 'dev', BARE_TAP, 'mode', 'tap', 'vnet_hdr');
    ip('link', 'set', BARE_TAP, 'address', BARE_TAP_MAC, 'master', g.net.bridge, 'up');
    log(`guest: namespace ${g.ns}: bridge ${g.net.bridge}, peer ${g.net.bridgePeerDev} ${g.net.bridgePeer}, bare tap ${BARE_TAP} (vnet_hdr) on ${g.net.bridge}`);
  };
  /** Graceful: stops what is still running (netfd tears its domain down). */
  g.stop = async () => {
    for (const e of [...g.procs]) {
      await e.stop().catch((err) => console.error(`[bench] stopping ${e.label}: ${err.message}`));
      g.procs.delete(e);
    }
  };
  /** Synchronous, for signals and exit: SIGKILL everything, delete the namespace and the directory. */
  g.remove = () => {
    for (const e of g.procs) {
      for (const pid of e.pids()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    g.procs.clear();
    if (removeNs) {
      // Anything still inside the namespace is ours (its name is unique to this run).
      const left = spawnSync('ip', ['netns', 'pids', g.ns], { encoding: 'utf8' }).stdout?.split(/\s+/).filter(Boolean) ?? [];
      for (const pid of left) {
        console.error(`[bench] killing process ${pid} left in ${g.ns}`);
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone
        }
      }
      removeNs();
      removeNs = null;
      log(`removed namespace ${g.ns}`);
    }
    if (g.tmp) {
      fs.rmSync(g.tmp, { recursive: true, force: true });
      g.tmp = null;
    }
  };
  return g;
}

/** `ip netns exec NS iperf3 -s -1` on the bridge peer; resolves once it listens. */
async function startIperf3Server(g) {
  const child = spawn('ip', ['netns', 'exec', g.ns, 'iperf3', '-s', '-1', '-B', g.net.bridgePeer, '-p', String(IPERF3_PORT)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const closed = closedOf(child);
  const out = tailOf(child.stdout);
  const err = tailOf(child.stderr);
  const entry = g.track('iperf3 server', () => (child.pid ? [child.pid] : []), () => killAndWait(child, closed));
  const t0 = Date.now();
  while (!iperf3Listening(child.pid, IPERF3_PORT)) {
    if (!running(child)) throw new Error(`iperf3 -s in ${g.ns} exited: ${err() || out() || 'no output'}`);
    if (Date.now() - t0 > SERVER_TIMEOUT_MS) throw new Error(`iperf3 -s in ${g.ns} not listening on ${g.net.bridgePeer}:${IPERF3_PORT} within ${SERVER_TIMEOUT_MS} ms`);
    await sleep(20);
  }
  return { child, closed, entry, output: () => `${out()}\n${err()}`.trim() };
}

/**
 * Boots the guest once with one NIC of `model` on br0, started `how`:
 *   'netfd'  launchDomain() in this process (qemu gets netfd's tap fd);
 *   'cli'    `node bin/netfd.js --netns NS --state-dir DIR launch FILE`;
 *   'bare'   `ip netns exec NS qemu-system-x86_64 ...` with netfd's argv for
 *            the same domain but -netdev tap,ifname=tb0 (qemu opens the tap).
 * Waits for NETFD-PING-OK, NETFD-IPERF3 (when params.iperf3), NETFD-POWEROFF
 * and the exit (status 0) of qemu (and the CLI). Always leaves nothing running.
 * Returns { t0 (Date.now() just before the spawn or launchDomain call), ping,
 * iperf (console lines with .at), prepareSpawnMs (netfd only) }.
 */
async function bootGuest(g, { how, model, params, label }) {
  const name = `bench-${how}-${model}`;
  const xml = g.guest.domainXml({ name, image: g.img, nics: [{ type: 'bridge', model, mac: GUEST_MAC }], params });
  const server = params.iperf3 === 'client' ? await startIperf3Server(g) : null;
  let run = null; // { con, exited: Promise<{code, signal}>, entry, what() }
  try {
    let t0;
    let prepareSpawnMs = null;
    if (how === 'netfd') {
      // launchDomain calls child_process.spawn through the module object: note when it spawns qemu.
      const cp = require('node:child_process');
      const realSpawn = cp.spawn;
      let spawnedAt = null;
      cp.spawn = function spawnSpy(file, ...rest) {
        if (spawnedAt === null && /qemu-system/.test(file)) spawnedAt = now();
        return realSpawn.call(this, file, ...rest);
      };
      const h0 = now();
      t0 = Date.now();
      let l;
      try {
        l = await g.netfd.launchDomain(xml, { netns: g.ns, stateDir: g.stateDir, stdio: 'pipe' });
      } finally {
        cp.spawn = realSpawn;
      }
      if (spawnedAt !== null) prepareSpawnMs = Number(spawnedAt - h0) / 1e6;
      const entry = g.track(label, () => (running(l.child) ? [l.pid] : []), () => l.stop(3000));
      run = { con: new g.guest.Console(l.child.stdout), exited: l.exited, entry };
      // The bare runs use previewDomain's argv: it must be what launchDomain ran.
      const p = await g.netfd.previewDomain(xml, { qmp: l.qmp });
      if (JSON.stringify(withoutQmp(p.argv)) !== JSON.stringify(withoutQmp(l.argv)))
        throw new Error(`previewDomain's argv differs from launchDomain's:\n  ${JSON.stringify(p.argv)}\n  ${JSON.stringify(l.argv)}`);
    } else if (how === 'cli') {
      const file = path.join(g.tmp, `${name}.xml`);
      fs.writeFileSync(file, xml);
      const pidFile = path.join(g.stateDir, `${name}.pid`);
      let qemuPid = null;
      const qemu = () => {
        if (qemuPid === null) {
          try {
            qemuPid = JSON.parse(fs.readFileSync(pidFile, 'utf8')).pid;
          } catch {
            // not launched yet, or gone
          }
        }
        return qemuPid;
      };
      t0 = Date.now();
      const child = spawn(process.execPath, [NETFD_BIN, '--netns', g.ns, '--state-dir', g.stateDir, 'launch', file], { stdio: ['ignore', 'pipe', 'pipe'] });
      const closed = closedOf(child);
      const stderr = tailOf(child.stderr);
      const entry = g.track(
        label,
        () => [qemu(), running(child) ? child.pid : null].filter((p) => p),
        async () => {
          qemu();
          await killAndWait(child, closed, 10_000); // netfd stops qemu on SIGTERM and tears down
          if (qemuPid) {
            try {
              process.kill(qemuPid, 'SIGKILL'); // only if netfd could not
            } catch {
              // gone, as it should be
            }
          }
        },
      );
      run = { con: new g.guest.Console(child.stdout), exited: closed, entry, stderr };
    } else {
      const qmp = path.join(g.tmp, `${name}.qmp`);
      const argv = bareArgv((await g.netfd.previewDomain(xml, { qmp })).argv);
      t0 = Date.now();
      const child = spawn('ip', ['netns', 'exec', g.ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
      const closed = closedOf(child);
      const stderr = tailOf(child.stderr, process.stderr);
      const entry = g.track(label, () => (running(child) ? [child.pid] : []), () => killAndWait(child, closed));
      run = { con: new g.guest.Console(child.stdout), exited: closed, entry, stderr };
    }
    const ping = await waitMarker(run, /^NETFD-PING-OK /, BOOT_TIMEOUT_MS, label);
    const iperf = server ? await waitMarker(run, /^NETFD-IPERF3 client /, IPERF3_TIMEOUT_MS, label) : null;
    await waitMarker(run, /^NETFD-POWEROFF/, POWEROFF_TIMEOUT_MS, label);
    const e = await timeout(run.exited, EXIT_TIMEOUT_MS, `${label}: still running after the guest's poweroff`);
    if (e.error || e.code !== 0)
      throw new Error(`${label}: exited with ${e.error ? e.error.message : e.signal ?? `code ${e.code}`}${run.stderr ? `: ${run.stderr()}` : ''}`);
    if (server) {
      const s = await timeout(server.closed, SERVER_TIMEOUT_MS, `${label}: iperf3 -s -1 still running after the test`);
      if (s.code !== 0) throw new Error(`${label}: iperf3 -s exited with ${s.signal ?? `code ${s.code}`}: ${server.output()}`);
    }
    return { t0, ping, iperf, prepareSpawnMs };
  } finally {
    if (run) {
      await run.entry.stop().catch((err) => console.error(`[bench] stopping ${label}: ${err.message}`));
      g.procs.delete(run.entry);
    }
    if (server) {
      await server.entry.stop();
      g.procs.delete(server.entry);
    }
  }
}

/** Mbit/s the peer received, from `NETFD-IPERF3 client PEER sender=XMbit/s receiver=YMbit/s`. */
function receiverMbps(line) {
  const m = / receiver=([0-9.]+)Mbit\/s/.exec(line.text);
  if (!m) throw new Error(`cannot parse ${JSON.stringify(line.text)}`);
  return Number(m[1]);
}

async function benchGuestThroughput(g, results) {
  const rounds = envCount('NETFD_BENCH_THROUGHPUT_ROUNDS', 3);
  const params = { ip0: GUEST_ADDR, peer0: g.net.bridgePeer, ping0: 1, iperf3: 'client', iperf3_time: IPERF3_TIME_S };
  const mbps = { netfd: [], bare: [], e1000: [] };
  const kinds = {
    netfd: { how: 'netfd', model: 'virtio', what: 'virtio, netfd tap fd' },
    bare: { how: 'bare', model: 'virtio', what: 'virtio, qemu opens tb0' },
    e1000: { how: 'netfd', model: 'e1000', what: 'e1000, netfd tap fd' },
  };
  log(`guest throughput: ${rounds} rounds of (netfd virtio, bare qemu virtio, netfd e1000), iperf3 ${IPERF3_TIME_S} s guest -> ${g.net.bridgePeer}`);
  const t0 = now();
  for (let r = 0; r < rounds; r++) {
    // netfd and bare alternate which goes first.
    for (const key of r % 2 === 0 ? ['netfd', 'bare', 'e1000'] : ['bare', 'netfd', 'e1000']) {
      const k = kinds[key];
      const label = `round ${r + 1}/${rounds} ${k.what}`;
      const run = await bootGuest(g, { how: k.how, model: k.model, params, label });
      const x = receiverMbps(run.iperf);
      mbps[key].push(x);
      if (run.prepareSpawnMs !== null) g.prepareSpawnMs.push(run.prepareSpawnMs);
      log(`guest ${label}: ${x.toFixed(0)} Mbit/s (${run.iperf.text.replace(/^NETFD-IPERF3 client \S+ /, '')}), ping after ${((run.ping.at - run.t0) / 1000).toFixed(1)} s`);
    }
  }
  const med = { netfd: median(mbps.netfd), bare: median(mbps.bare), e1000: median(mbps.e1000) };
  log(`guest throughput (${(msSince(t0) / 1000).toFixed(1)} s): medians netfd ${med.netfd.toFixed(0)}, bare qemu ${med.bare.toFixed(0)}, e1000 ${med.e1000.toFixed(0)} Mbit/s; parity ${(med.netfd / med.bare).toFixed(3)} (goal ${GOALS.tap_throughput_parity}); virtio/e1000 ${(med.netfd / med.e1000).toFixed(2)}`);
  results.guest_iperf3_time_s = IPERF3_TIME_S;
  results.tap_netfd_mbps = round(med.netfd, 1);
  results.tap_bare_mbps = round(med.bare, 1);
  results.e1000_netfd_mbps = round(med.e1000, 1);
  results.tap_netfd_mbps_runs = mbps.netfd;
  results.tap_bare_mbps_runs = mbps.bare;
  results.e1000_netfd_mbps_runs = mbps.e1000;
  if (g.prepareSpawnMs.length) {
    results.netfd_prepare_spawn_ms = round(median(g.prepareSpawnMs), 2);
    log(`netfd in-process launchDomain() -> qemu spawned: median ${results.netfd_prepare_spawn_ms} ms over ${g.prepareSpawnMs.length} launches`);
  }
}

async function benchGuestLaunch(g, results) {
  const pairs = envCount('NETFD_BENCH_LAUNCH_PAIRS', 5);
  const params = { ip0: GUEST_ADDR, peer0: g.net.bridgePeer, ping0: 1 };
  const ms = { cli: [], bare: [] };
  const preboot = { cli: [], bare: [] };
  log(`guest launch: ${pairs} pairs of \`netfd launch\` (CLI) and bare qemu with ${BARE_TAP}, spawn -> NETFD-PING-OK`);
  const t0 = now();
  for (let i = 0; i < pairs; i++) {
    for (const how of i % 2 === 0 ? ['cli', 'bare'] : ['bare', 'cli']) {
      const label = `launch ${i + 1}/${pairs} ${how === 'cli' ? 'netfd launch' : 'bare qemu'}`;
      const run = await bootGuest(g, { how, model: 'virtio', params, label });
      const total = run.ping.at - run.t0;
      const m = / t=([0-9.]+)/.exec(run.ping.text);
      const uptime = m ? Number(m[1]) * 1000 : NaN;
      ms[how].push(total);
      preboot[how].push(total - uptime);
      log(`guest ${label}: ping after ${total} ms (guest uptime ${Number.isFinite(uptime) ? uptime.toFixed(0) : '?'} ms)`);
    }
  }
  const d = median(ms.cli) - median(ms.bare);
  const dPre = median(preboot.cli) - median(preboot.bare);
  log(`guest launch (${(msSince(t0) / 1000).toFixed(1)} s): medians netfd launch ${median(ms.cli).toFixed(0)} ms, bare qemu ${median(ms.bare).toFixed(0)} ms; overhead ${d.toFixed(0)} ms (goal ${GOALS.launch_overhead_ms}); without the guest's own boot time ${dPre.toFixed(0)} ms`);
  results.launch_netfd_cli_ms = round(median(ms.cli), 1);
  results.launch_bare_qemu_ms = round(median(ms.bare), 1);
  results.launch_netfd_cli_ms_runs = ms.cli;
  results.launch_bare_qemu_ms_runs = ms.bare;
  results.launch_preboot_netfd_cli_ms = round(median(preboot.cli), 1);
  results.launch_preboot_bare_qemu_ms = round(median(preboot.bare), 1);
  results.launch_overhead_note = 'netfd launch CLI (node startup included; qemu console through its stdout) vs ip netns exec qemu with its own tap; spawn to NETFD-PING-OK; medians of alternating runs';
}

const GUEST_BENCHES = [benchGuestThroughput, benchGuestLaunch];

// ---- agent benchmarks: the host agent over its socket vs qemu-bridge-helper -

const BRIDGE_HELPER = '/usr/lib/qemu/qemu-bridge-helper';
const BRIDGE_CONF = '/etc/qemu/bridge.conf';
/** The links the agent section's namespace holds between benchmarks. */
const AGENT_BASE_LINKS = ['lo', 'br0'];
const AGENT_START_TIMEOUT_MS = 15_000;
const HELPER_TIMEOUT_MS = 5_000;
const TAP_WARMUP = 5;
/** Tap cycles of the ip -batch baseline for agent_ops_per_s. */
const IP_TAP_CYCLES = 200;

/**
 * A domain with one tap on br0. `driver` <driver name='qemu'/> keeps the
 * agent from also opening vhost-net on hosts that have it, which
 * qemu-bridge-helper never does (one tap fd from each).
 */
const agentDomainXml = (name, driver = '') =>
  `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><devices>` +
  `<interface type='bridge'><source bridge='br0'/><model type='virtio'/>${driver}</interface></devices></domain>`;

/**
 * Starts `netfd agent` (a child process, serving the namespace) and resolves
 * with a client connected to it once its socket answers.
 */
async function startAgent(a) {
  const argv = [NETFD_BIN, 'agent', '--socket', a.socket, '--socket-mode', '0666', '--acl', a.acl, '--state-dir', a.stateDir, '--netns', a.ns, '--grace', '1', '--log-level', 'warn'];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  a.child = child;
  a.closed = closedOf(child);
  a.stderr = tailOf(child.stderr, process.stderr);
  const t0 = Date.now();
  for (;;) {
    if (!running(child)) {
      const e = await a.closed;
      throw new Error(`netfd agent exited (${e.error ? e.error.message : e.signal ?? `code ${e.code}`}): ${a.stderr() || 'no output'}`);
    }
    try {
      return await a.AgentClient.connect(a.socket);
    } catch (err) {
      if (Date.now() - t0 > AGENT_START_TIMEOUT_MS) throw new Error(`netfd agent not answering on ${a.socket} within ${AGENT_START_TIMEOUT_MS} ms: ${err.message}`);
      await sleep(20);
    }
  }
}

/** One prepare + release of `name` through `client`, its fds closed; ms. */
async function agentCycle(client, name, xml, wantFds = 0) {
  const t0 = now();
  const r = await client.request('prepare', { xml });
  for (const fd of r.fds) fs.closeSync(fd);
  const ifaces = r.result?.interfaces?.length;
  if (ifaces !== 1 || r.fds.length < 1 || (wantFds && r.fds.length !== wantFds)) throw new Error(`prepare ${name}: expected 1 interface and ${wantFds || '1+'} fds, got ${ifaces} and ${r.fds.length}`);
  await client.request('release', { name });
  return msSince(t0);
}

/**
 * `ip netns exec NS ARGV...` with one end of a stream socketpair as its fd 3
 * (stdio as for the helper either way, so the baseline spawns the same way).
 * With recvFd, waits for one fd on our end (closing it at once, which deletes
 * the helper's tap) and then for the exit, status 0; resolves with the ms from
 * just before the spawn to then.
 */
async function nsExec(a, args, { recvFd }) {
  const nat = a.native;
  const [mine, theirs] = nat.socketPair('stream');
  let child;
  const t0 = now();
  try {
    child = spawn('ip', ['netns', 'exec', a.ns, ...args], { stdio: ['ignore', 'ignore', 'pipe', theirs] });
  } finally {
    nat.close(theirs);
  }
  a.procs.add(child);
  const closed = closedOf(child);
  const stderr = tailOf(child.stderr);
  const what = args[0] === BRIDGE_HELPER ? 'qemu-bridge-helper' : args.join(' ');
  try {
    if (recvFd) {
      let m;
      try {
        m = await nat.fdRecv(mine, 16, 4, HELPER_TIMEOUT_MS);
      } catch (err) {
        m = { data: Buffer.alloc(0), fds: [], err };
      }
      for (const fd of m.fds) nat.close(fd);
      if (m.fds.length !== 1) {
        await timeout(closed, HELPER_TIMEOUT_MS, `${what} still running`).catch(() => undefined);
        throw new Error(`${what} sent ${m.fds.length} fds${m.err ? ` (${m.err.message})` : ''}: ${stderr() || 'no output'}`);
      }
    }
    const e = await timeout(closed, HELPER_TIMEOUT_MS, `${what} still running`);
    if (e.error || e.code !== 0) throw new Error(`${what} exited with ${e.error ? e.error.message : e.signal ?? `code ${e.code}`}: ${stderr() || 'no output'}`);
    return msSince(t0);
  } finally {
    nat.close(mine);
    if (running(child)) child.kill('SIGKILL');
    a.procs.delete(child);
  }
}

const helperTap = (a) => nsExec(a, [BRIDGE_HELPER, '--use-vnet', '--br=br0', '--fd=3'], { recvFd: true });
const nsExecTrue = (a) => nsExec(a, ['true'], { recvFd: false });

/**
 * Makes qemu-bridge-helper usable on br0 and runs it once; null when it is,
 * else why not. The helper reads only /etc/qemu/bridge.conf: created (with
 * `allow br0`) when missing and removed at the end; an existing one is left
 * alone, and if it does not let br0 through the comparison is skipped.
 */
async function bridgeHelperReady(a) {
  if (!fs.existsSync(BRIDGE_HELPER)) return `${BRIDGE_HELPER} is not installed (apt-get install qemu-system-common)`;
  const existed = fs.existsSync(BRIDGE_CONF);
  if (!existed) {
    const dir = path.dirname(BRIDGE_CONF);
    if (!fs.existsSync(dir)) {
      fs.mkdirSync(dir, { mode: 0o755 });
      a.confDirCreated = dir;
    }
    fs.writeFileSync(BRIDGE_CONF, 'allow br0\n', { flag: 'wx', mode: 0o644 });
    a.confCreated = BRIDGE_CONF;
    log(`agent: created ${BRIDGE_CONF} (allow br0) for qemu-bridge-helper; removed at the end`);
  }
  try {
    await helperTap(a);
    return null;
  } catch (err) {
    if (!existed) throw err;
    return `${BRIDGE_CONF} exists and does not let br0 through (${err.message}); left alone`;
  }
}

async function benchAgentConcurrent(a, results) {
  const nClients = envCount('NETFD_BENCH_AGENT_CLIENTS', 100);
  const cycles = envCount('NETFD_BENCH_AGENT_CYCLES', 50);
  const clients = [];
  try {
    for (let i = 0; i < nClients; i++) clients.push(await a.AgentClient.connect(a.socket));
    const name = (i) => `bench-c${i}`;
    // One untimed cycle each: every connection and domain name has been through the agent once.
    await Promise.all(clients.map((c, i) => agentCycle(c, name(i), agentDomainXml(name(i)))));
    log(`agent: ${nClients} clients, ${cycles} prepare+release cycles each of a one-tap domain, all at once`);
    const ms = [];
    const t0 = now();
    await Promise.all(
      clients.map(async (c, i) => {
        const xml = agentDomainXml(name(i));
        for (let k = 0; k < cycles; k++) ms.push(await agentCycle(c, name(i), xml));
      }),
    );
    const total = msSince(t0);
    const pairs = nClients * cycles;
    results.agent_clients = nClients;
    results.agent_cycles_per_client = cycles;
    results.agent_ops_per_s = round(pairs / (total / 1000), 1);
    results.agent_p50_ms = round(percentile(ms, 50), 2);
    results.agent_p99_ms = round(percentile(ms, 99), 2);
    log(`agent: ${pairs} prepare+release pairs in ${(total / 1000).toFixed(2)} s: ${results.agent_ops_per_s} pairs/s; per pair p50 ${results.agent_p50_ms} ms, p99 ${results.agent_p99_ms} ms`);
  } finally {
    for (const c of clients) c.close();
  }
  // The kernel's ceiling: creating, attaching and deleting taps is serialized
  // under the rtnl lock (and each delete waits for the device to go), so
  // concurrent clients cannot beat one ip -batch doing it back to back.
  const file = path.join(a.dir, 'taps.batch');
  const lines = [];
  for (let i = 0; i < IP_TAP_CYCLES; i++) lines.push(`tuntap add mode tap name ipt${i} vnet_hdr`, `link set ipt${i} master br0 up`, `link del ipt${i}`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  const t1 = now();
  await ipAsync(a.ns, ['-batch', file]);
  const ipMs = msSince(t1) / IP_TAP_CYCLES;
  results.ip_batch_tap_cycle_ms = round(ipMs, 2);
  results.ip_batch_tap_cycles_per_s = round(1000 / ipMs, 1);
  log(`agent: the kernel alone, one ip -batch: ${IP_TAP_CYCLES} taps created, attached to br0, up and deleted at ${ipMs.toFixed(2)} ms each = ${results.ip_batch_tap_cycles_per_s}/s; agent/ip-batch throughput ${(results.agent_ops_per_s / results.ip_batch_tap_cycles_per_s).toFixed(2)}`);
}

async function benchAgentVsBridgeHelper(a, results) {
  const n = envCount('NETFD_BENCH_TAP_COUNT', 200);
  const skip = await bridgeHelperReady(a);
  if (skip) log(`agent: qemu-bridge-helper comparison skipped: ${skip}`);
  const xml = agentDomainXml('bench-tap', "<driver name='qemu'/>");
  const kinds = {
    agent: () => agentCycle(a.client, 'bench-tap', xml, 1),
    helper: () => helperTap(a),
    nsexec: () => nsExecTrue(a),
  };
  const order = skip ? ['agent'] : ['agent', 'helper', 'nsexec'];
  const ms = { agent: [], helper: [], nsexec: [] };
  for (let i = 0; i < TAP_WARMUP; i++) for (const k of order) await kinds[k]();
  log(`agent: one tap fd, ${n} times each: agent prepare+release on one connection${skip ? '' : `, ip netns exec qemu-bridge-helper, ip netns exec true; interleaved`}`);
  // Each round rotates which goes first, so none always follows another.
  for (let i = 0; i < n; i++) for (let j = 0; j < order.length; j++) {
    const k = order[(i + j) % order.length];
    ms[k].push(await kinds[k]());
  }
  const f = (x) => x.toFixed(2);
  results.agent_tap_count = n;
  results.agent_tap_ms = round(median(ms.agent), 2);
  results.agent_tap_ms_p99 = round(percentile(ms.agent, 99), 2);
  if (skip) {
    results.bridge_helper_skipped = skip;
    log(`agent: one tap fd: median ${f(median(ms.agent))} ms, p99 ${f(percentile(ms.agent, 99))} ms`);
    return;
  }
  const helper = median(ms.helper);
  const nsexec = median(ms.nsexec);
  results.bridge_helper_tap_ms = round(helper, 2);
  results.bridge_helper_tap_ms_p99 = round(percentile(ms.helper, 99), 2);
  results.ip_netns_exec_true_ms = round(nsexec, 2);
  results.bridge_helper_tap_net_ms = round(helper - nsexec, 2);
  log(
    `agent: one tap fd, medians: agent ${f(median(ms.agent))} ms (p99 ${f(percentile(ms.agent, 99))}), qemu-bridge-helper ${f(helper)} ms (p99 ${f(percentile(ms.helper, 99))}), ` +
      `ip netns exec true ${f(nsexec)} ms, helper less that ${f(helper - nsexec)} ms; agent/helper ${f(median(ms.agent) / helper)}, agent/(helper - exec) ${f(median(ms.agent) / (helper - nsexec))}`,
  );
}

/** The uid of the flooding user (no account needed: the ACL names it by number). */
const FLOOD_UID = 4242420;
const FLOOD_SCRIPT = `
  const { native } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'sys', 'native.js'))});
  const { encodeRequest } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'agent', 'protocol.js'))});
  const xml = "<domain type='qemu'><name>flood</name><memory unit='MiB'>64</memory><devices><interface type='bridge'><source bridge='br9'/></interface></devices><description>" + 'y'.repeat(120000) + '</description></domain>';
  const frame = encodeRequest(1, 'prepare', { xml });
  (async () => {
    const fds = [];
    for (let c = 0; c < 3; c++) fds.push(await native().unixConnect(process.argv[1]));
    let sent = 0;
    for (;;) {
      for (const fd of fds) {
        try { native().sendNow(fd, frame); sent++; } catch {}
        try { while (native().recvNow(fd, 65536, 0)); } catch {}
      }
      if (sent === 3) process.stdout.write('FLOODING\\n');
      await new Promise((r) => setTimeout(r, 2));
    }
  })();`;

/**
 * Fairness: another user's `hello` round trip while one user floods the
 * agent with large prepare requests the ACL refuses (120 KiB of XML each,
 * from 3 connections, as fast as the agent takes them), against the same
 * hello with nobody else there. The refused XML is parsed off the agent's
 * event loop, users taking turns.
 */
async function benchAgentFairness(a, results) {
  const n = envCount('NETFD_BENCH_HELLO_COUNT', 300);
  fs.appendFileSync(a.acl, `allow user ${FLOOD_UID} bridge br0\n`);
  a.child.kill('SIGHUP');
  await new Promise((r) => setTimeout(r, 200));
  const hellos = async () => {
    const ms = [];
    for (let i = 0; i < n; i++) {
      const t = process.hrtime.bigint();
      await a.client.request('hello');
      ms.push(Number(process.hrtime.bigint() - t) / 1e6);
      await new Promise((r) => setTimeout(r, 3));
    }
    return ms;
  };
  const quiet = await hellos();
  const flooder = spawn('setpriv', ['--reuid', String(FLOOD_UID), '--regid', String(FLOOD_UID), '--clear-groups', process.execPath, '-e', FLOOD_SCRIPT, a.socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  a.procs.add(flooder);
  try {
    await new Promise((resolve, reject) => {
      flooder.stdout.once('data', resolve);
      flooder.once('exit', (c) => reject(new Error(`the flooding client exited (${c})`)));
    });
    const flooded = await hellos();
    results.agent_hello_p99_ms = round(percentile(quiet, 99), 2);
    results.agent_hello_p99_under_flood_ms = round(percentile(flooded, 99), 2);
    log(`agent: hello round trip p99 ${results.agent_hello_p99_ms} ms alone, ${results.agent_hello_p99_under_flood_ms} ms while uid ${FLOOD_UID} floods refused 120 KiB prepares (p50 ${round(percentile(flooded, 50), 2)} ms)`);
  } finally {
    if (running(flooder)) flooder.kill('SIGKILL');
    a.procs.delete(flooder);
  }
}

const AGENT_BENCHES = [benchAgentConcurrent, benchAgentVsBridgeHelper, benchAgentFairness];

/** Figures computed from other figures. */
function derive(results) {
  // Only for sections that ran (one of the inputs is there).
  const ratio = (key, a, b) => {
    if (a in results || b in results) results[key] = results[a] != null && results[b] ? round(results[a] / results[b]) : null;
  };
  ratio('create_vs_ip_batch', 'netfd_create_ms_per_link', 'ip_batch_ms_per_link');
  ratio('ip_spawn_vs_create', 'ip_spawn_ms_per_link', 'netfd_create_ms_per_link');
  ratio('prepare_teardown_vs_kernel', 'prepare_teardown_ms_p50', 'ip_domain_cycle_ms_p50');
  ratio('tap_throughput_parity', 'tap_netfd_mbps', 'tap_bare_mbps');
  ratio('virtio_vs_e1000_ratio', 'tap_netfd_mbps', 'e1000_netfd_mbps');
  const diff = (key, a, b) => {
    if (a in results || b in results) results[key] = results[a] != null && results[b] != null ? round(results[a] - results[b], 1) : null;
  };
  ratio('pf_expand_vs_ls', 'pf_expand_256_ms', 'ls_virtfn_256_ms');
  ratio('agent_ops_vs_ip_batch', 'agent_ops_per_s', 'ip_batch_tap_cycles_per_s');
  ratio('agent_vs_bridge_helper_ratio', 'agent_tap_ms', 'bridge_helper_tap_ms');
  ratio('agent_vs_bridge_helper_net_ratio', 'agent_tap_ms', 'bridge_helper_tap_net_ms');
  diff('launch_overhead_ms', 'launch_netfd_cli_ms', 'launch_bare_qemu_ms');
  diff('launch_overhead_preboot_ms', 'launch_preboot_netfd_cli_ms', 'launch_preboot_bare_qemu_ms');
}

// ---- scratch namespace -----------------------------------------------------

/** The scratch namespace: `ns` (default netfd-bench-<pid>) with bridge br0 and, unless veth is false, veth v0/v1. */
function makeScratch(ns = `netfd-bench-${process.pid}`, { veth = true } = {}) {
  let created = false;
  let tmp = null;
  const remove = () => {
    if (tmp) {
      fs.rmSync(tmp, { recursive: true, force: true });
      tmp = null;
    }
    if (!created) return;
    created = false;
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: ['ignore', 'ignore', 'pipe'] });
      log(`removed namespace ${ns}`);
    } catch (err) {
      console.error(`[bench] could not remove namespace ${ns}: ${String(err.stderr || err.message).trim()}`);
    }
  };
  const setup = () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-bench-'));
    execFileSync('ip', ['netns', 'add', ns]);
    created = true;
    const ip = (...a) => execFileSync('ip', ['-n', ns, ...a]);
    if (veth) {
      ip('link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
      ip('link', 'set', 'v0', 'up');
      ip('link', 'set', 'v1', 'up');
    }
    ip('link', 'add', 'br0', 'type', 'bridge');
    ip('link', 'set', 'br0', 'up');
    log(`created namespace ${ns} with ${veth ? 'veth v0/v1 and ' : ''}bridge br0`);
    return { ns, tmp };
  };
  return { ns, setup, remove };
}

/** The link benchmarks in their own scratch namespace. */
async function runLinks(netfd, count, results, cleanups) {
  const scratch = makeScratch();
  cleanups.push(scratch.remove);
  try {
    const { ns, tmp } = scratch.setup();
    const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
    const ctx = { ns, tmp, count, netfd, poolSize };
    // Warm-up, untimed: loads the addon and opens the namespace once.
    const w = await netfd.createMacvtap({ netns: ns, link: 'v0', mode: 'bridge', name: 'warm0' });
    await netfd.deleteLink(w.index, { netns: ns });
    const t0 = now();
    for (const bench of BENCHES) await bench(ctx, results);
    log(`links: done in ${(msSince(t0) / 1000).toFixed(1)} s`);
  } finally {
    scratch.remove();
  }
}

/** The guest benchmarks in theirs; everything they start is stopped in the finally. */
async function runGuest(netfd, results, cleanups) {
  const t0 = now();
  const g = makeGuestScratch(netfd);
  cleanups.push(g.remove);
  try {
    g.setup();
    for (const bench of GUEST_BENCHES) await bench(g, results);
    results.guest_section_s = round(msSince(t0) / 1000, 1);
    log(`guest: done in ${results.guest_section_s} s`);
  } finally {
    await g.stop();
    g.remove();
  }
}

/** The network benchmarks: files and sysfs fixtures in a temporary directory. */
async function runNetworks(netfd, results, cleanups) {
  const fixture = require('./sriov-fixture.js');
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const tmp = fs.mkdtempSync(path.join(base, 'netfd-bench-net-'));
  const remove = () => fs.rmSync(tmp, { recursive: true, force: true });
  cleanups.push(remove);
  try {
    const sysfsRoot = path.join(tmp, 'sys');
    fs.mkdirSync(sysfsRoot);
    fixture.pfN(sysfsRoot, 64, 'eth0');
    const pf256 = fixture.pfN(sysfsRoot, 256, 'eth1');
    const nets = new netfd.Networks({ configDir: path.join(tmp, 'etc'), stateDir: path.join(tmp, 'run'), sysfsRoot });
    await nets.define("<network><name>pool</name><forward mode='bridge'><pf dev='eth0'/></forward></network>");
    await nets.define("<network><name>big</name><forward mode='passthrough'><pf dev='eth1'/></forward></network>");

    await nets.start('pool');
    const cycles = envCount('NETFD_BENCH_POOL_CYCLES', 10_000);
    for (let i = 0; i < 50; i++) {
      await nets.allocate('pool', { domain: 'warm', mac: '52:54:00:00:00:01' });
      await nets.release('pool', { domain: 'warm', mac: '52:54:00:00:00:01' });
    }
    const t0 = now();
    for (let i = 0; i < cycles; i++) {
      const mac = `52:54:00:01:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      await nets.allocate('pool', { domain: `g${i}`, mac });
      await nets.release('pool', { domain: `g${i}`, mac });
    }
    results.pool_alloc_release_us = round((msSince(t0) * 1000) / cycles, 1);
    results.pool_cycles = cycles;
    const left = (await nets.status('pool')).connections.length;
    if (left) throw new Error(`${left} connections left after the cycles`);
    await nets.destroy('pool');
    log(`networks: allocate + release ${results.pool_alloc_release_us} us per cycle (${cycles} cycles, 64-VF pool)`);

    const starts = [];
    for (let i = 0; i < 20; i++) {
      const t1 = now();
      const st = await nets.start('big');
      starts.push(msSince(t1));
      if (st.pool.length !== pf256.devices.length) throw new Error(`expanded ${st.pool.length} VFs, expected 256`);
      await nets.destroy('big');
    }
    results.pf_expand_256_ms = round(median(starts), 2);
    const ls = [];
    const glob = `${path.join(sysfsRoot, 'class/net/eth1/device')}/virtfn*/net/*`;
    for (let i = 0; i < 20; i++) {
      const t1 = now();
      const r = spawnSync('sh', ['-c', `ls -d ${glob}`], { encoding: 'utf8' });
      ls.push(msSince(t1));
      if (r.stdout.trim().split('\n').length !== 256) throw new Error(`ls found ${r.stdout.trim().split('\n').length} VFs`);
    }
    results.ls_virtfn_256_ms = round(median(ls), 2);
    log(`networks: net-start of a 256-VF PF ${results.pf_expand_256_ms} ms; ls ${results.ls_virtfn_256_ms} ms`);
  } finally {
    remove();
  }
}

/**
 * The agent benchmarks: `netfd agent` as a child process serving a scratch
 * namespace (bridge br0 only), its socket, ACL and state directory in a
 * temporary directory on tmpfs (/dev/shm, like /run). Afterwards the
 * namespace must hold only lo and br0 again (and the agent no records or
 * live XML); otherwise a warning line. The agent, any helper still running,
 * the namespace, the directory and a bridge.conf the bench created are
 * removed in the finally, on SIGINT/SIGTERM and on exit.
 */
async function runAgent(netfd, results, cleanups) {
  const t0 = now();
  const { AgentClient } = require('../dist/agent/client.js');
  const { native } = require('../dist/sys/native.js');
  const scratch = makeScratch(`netfd-bench-${process.pid}-agent`, { veth: false });
  const a = { ns: scratch.ns, AgentClient, native: native(), dir: null, child: null, closed: null, client: null, procs: new Set(), confCreated: null, confDirCreated: null };
  const remove = () => {
    for (const c of [a.child, ...a.procs]) if (c && running(c)) c.kill('SIGKILL');
    a.procs.clear();
    if (a.confCreated) {
      fs.rmSync(a.confCreated, { force: true });
      if (a.confDirCreated) fs.rmSync(a.confDirCreated, { recursive: true, force: true });
      log(`removed ${a.confCreated}${a.confDirCreated ? ` and ${a.confDirCreated}` : ''}`);
      a.confCreated = a.confDirCreated = null;
    }
    if (a.dir) {
      fs.rmSync(a.dir, { recursive: true, force: true });
      a.dir = null;
    }
    scratch.remove();
  };
  cleanups.push(remove);
  try {
    scratch.setup();
    a.dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'netfd-bench-agent-'));
    fs.chmodSync(a.dir, 0o711); // the flooding user of the fairness bench reaches the socket
    a.socket = path.join(a.dir, 'agent.sock');
    a.acl = path.join(a.dir, 'acl.conf');
    a.stateDir = path.join(a.dir, 'state');
    // Root's clients are all one user here: room for the 100 concurrent ones.
    // The flooding user of the fairness bench may use br0 but asks for br9.
    fs.writeFileSync(a.acl, `allow user * bridge br0\nlimit user root connections 1000\nlimit user root requests 1000\n`);
    a.client = await startAgent(a);
    log(`agent: netfd agent pid ${a.child.pid} serving ${a.ns} on ${a.socket}`);
    for (const bench of AGENT_BENCHES) await bench(a, results);
    a.client.close();

    // Leaks, while the agent still runs (a tap fd it kept open would keep its tap).
    const links = (await netfd.listLinks({ netns: a.ns })).map((l) => l.name);
    const odd = [...links.filter((l) => !AGENT_BASE_LINKS.includes(l)).map((l) => `link ${l}`), ...AGENT_BASE_LINKS.filter((l) => !links.includes(l)).map((l) => `link ${l} gone`)];
    const files = (dir) => {
      try {
        return fs.readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.json') || f.endsWith('.xml'));
      } catch {
        return [];
      }
    };
    const left = [...odd, ...files(a.stateDir).map((f) => `file ${f}`)];
    results.agent_leaks = left.length;
    if (left.length) log(`WARNING: agent: the namespace should hold only ${AGENT_BASE_LINKS.join(' and ')} and the agent nothing, but: ${left.join(', ')}`);
    else log(`agent: no leaks (namespace links: ${links.join(', ')}; no records or live XML left)`);

    await killAndWait(a.child, a.closed, 5000);
    const e = await a.closed;
    if (e.code !== 0) throw new Error(`netfd agent exited with ${e.signal ?? `code ${e.code}`} on SIGTERM: ${a.stderr()}`);
    results.agent_section_s = round(msSince(t0) / 1000, 1);
    log(`agent: done in ${results.agent_section_s} s`);
  } finally {
    a.client?.close();
    if (a.child) await killAndWait(a.child, a.closed, 3000);
    remove();
  }
}

async function main() {
  const { count, sections } = parseArgs(process.argv.slice(2));
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    log('skipped: needs root (creates network namespaces, links and guests)');
    console.log(JSON.stringify({ skipped: 'needs root' }));
    return 0;
  }
  let netfd;
  try {
    netfd = require('../dist/index.js');
  } catch (err) {
    throw new Error(`cannot load ../dist/index.js (run \`npx tsc -p .\` and build the addon first): ${err.message}`);
  }

  const results = sections.includes('links') ? { count, kernel: os.release() } : { kernel: os.release() };
  /** Synchronous removers of what the sections set up, run on signals and exit too. */
  const cleanups = [];
  const cleanupAll = () => {
    while (cleanups.length) {
      try {
        cleanups.pop()();
      } catch (err) {
        console.error(`[bench] cleanup: ${err.message}`);
      }
    }
  };
  const onSignal = (sig) => {
    log(`${sig}: cleaning up`);
    cleanupAll();
    console.log(JSON.stringify({ ...results, error: `interrupted by ${sig}` }));
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', cleanupAll);

  const errors = [];
  const t0 = now();
  for (const section of sections) {
    try {
      if (section === 'links') await runLinks(netfd, count, results, cleanups);
      else if (section === 'networks') await runNetworks(netfd, results, cleanups);
      else if (section === 'agent') await runAgent(netfd, results, cleanups);
      else await runGuest(netfd, results, cleanups);
    } catch (err) {
      console.error(`[bench] ${section} failed: ${err.stack || err}`);
      errors.push(sections.length > 1 ? `${section}: ${err.message || err}` : String(err.message || err));
    }
  }
  derive(results);
  results.goals = Object.fromEntries(Object.entries(GOALS).filter(([k]) => k in results));
  log(`done in ${(msSince(t0) / 1000).toFixed(1)} s`);
  if (errors.length) results.error = errors.join('; ');
  console.log(JSON.stringify(results));
  return results.error ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`[bench] ${err.message || err}`);
    console.log(JSON.stringify({ error: String(err.message || err) }));
    process.exitCode = 1;
  },
);
