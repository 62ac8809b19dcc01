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
// and the ratios create_vs_ip_batch and ip_spawn_vs_create, against `goals`.
// Progress goes to stdout; the LAST line is one JSON object of the figures.
//
// SAFETY: the host's own interfaces are never touched. Everything happens in a
// scratch network namespace (netfd-bench-<pid>) holding a veth pair v0/v1; the
// namespace is removed in a `finally`, on SIGINT/SIGTERM and on exit, also
// when a benchmark fails.
//
// Adding a benchmark: write an async function (ctx, results) that puts its
// figures into `results`, and append it to BENCHES; derived figures go in
// derive().
'use strict';
const { execFile, execFileSync } = require('node:child_process');
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
};

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

const BENCHES = [benchIpBatch, benchNetfdCreate, benchNetfdCreateSeq, benchIpSpawn];

/** Figures computed from other figures. */
function derive(results) {
  const ratio = (a, b) => (results[a] != null && results[b] ? round(results[a] / results[b]) : null);
  results.create_vs_ip_batch = ratio('netfd_create_ms_per_link', 'ip_batch_ms_per_link');
  results.ip_spawn_vs_create = ratio('ip_spawn_ms_per_link', 'netfd_create_ms_per_link');
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
    log(`created namespace ${ns} with veth v0/v1`);
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
