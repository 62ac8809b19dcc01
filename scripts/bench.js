#!/usr/bin/env node
// Benchmarks netfd's link operations against iproute2 (`npm run bench`).
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
// Adding a benchmark: write an async function (ctx, results) that puts its
// figures into `results`, and append it to BENCHES; derived figures go in
// derive().
'use strict';
const { execFile, execFileSync, spawn } = require('node:child_process');
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

function parseCount(argv) {
  let count = 1000;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    let value;
    if (a === '--count') value = argv[++i];
    else if (a.startsWith('--count=')) value = a.slice('--count='.length);
    else throw new Error(`unknown argument ${JSON.stringify(a)} (usage: bench.js [--count N])`);
    if (!/^[1-9][0-9]{0,5}$/.test(value ?? '')) throw new Error(`--count wants a positive integer, got ${JSON.stringify(value)}`);
    count = Number(value);
  }
  return count;
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
  const { prepareDomain } = require('../dist/netdev/domain');
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

/** Figures computed from other figures. */
function derive(results) {
  const ratio = (a, b) => (results[a] != null && results[b] ? round(results[a] / results[b]) : null);
  results.create_vs_ip_batch = ratio('netfd_create_ms_per_link', 'ip_batch_ms_per_link');
  results.ip_spawn_vs_create = ratio('ip_spawn_ms_per_link', 'netfd_create_ms_per_link');
  results.prepare_teardown_vs_kernel = ratio('prepare_teardown_ms_p50', 'ip_domain_cycle_ms_p50');
}

// ---- scratch namespace -----------------------------------------------------

function makeScratch() {
  const ns = `netfd-bench-${process.pid}`;
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
    ip('link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
    ip('link', 'set', 'v0', 'up');
    ip('link', 'set', 'v1', 'up');
    ip('link', 'add', 'br0', 'type', 'bridge');
    ip('link', 'set', 'br0', 'up');
    log(`created namespace ${ns} with veth v0/v1 and bridge br0`);
    return { ns, tmp };
  };
  return { ns, setup, remove };
}

async function main() {
  const count = parseCount(process.argv.slice(2));
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    log('skipped: needs root (creates a network namespace and macvtap links)');
    console.log(JSON.stringify({ skipped: 'needs root' }));
    return 0;
  }
  let netfd;
  try {
    netfd = require('../dist/index.js');
  } catch (err) {
    throw new Error(`cannot load ../dist/index.js (run \`npx tsc -p .\` and build the addon first): ${err.message}`);
  }

  const results = { count, kernel: os.release() };
  const scratch = makeScratch();
  const onSignal = (sig) => {
    log(`${sig}: cleaning up`);
    scratch.remove();
    console.log(JSON.stringify({ ...results, error: `interrupted by ${sig}` }));
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', scratch.remove);

  try {
    const { ns, tmp } = scratch.setup();
    const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
    const ctx = { ns, tmp, count, netfd, poolSize };
    // Warm-up, untimed: loads the addon and opens the namespace once.
    const w = await netfd.createMacvtap({ netns: ns, link: 'v0', mode: 'bridge', name: 'warm0' });
    await netfd.deleteLink(w.index, { netns: ns });
    const t0 = now();
    for (const bench of BENCHES) await bench(ctx, results);
    derive(results);
    results.goals = GOALS;
    log(`done in ${(msSince(t0) / 1000).toFixed(1)} s`);
  } catch (err) {
    console.error(`[bench] failed: ${err.stack || err}`);
    results.error = String(err.message || err);
  } finally {
    scratch.remove();
  }
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
