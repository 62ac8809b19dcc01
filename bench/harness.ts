// The one harness every suite runs on: timing, statistics, repetitions,
// the figures derived against the reference tools (ip, ip -batch,
// qemu-bridge-helper, ls, bare qemu), the cleanup of what sections set up
// (at the end, on failure, on SIGINT/SIGTERM and on exit), progress lines
// and the final JSON line.
//
// A suite (one file in bench/) is a named async function that puts figures
// into `results`, with the goals of its figures and the ratios and
// differences derived from them. A section owns a context (a scratch
// namespace, the test guest, a running agent, a temporary directory) that
// its suites share; main.ts lists the sections in the order they run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { addNetns, removeNetns } from '../test/helpers/host';

// ---- figures --------------------------------------------------------------

export type Figure = number | string | boolean | null | number[];
/** The figures so far, in the order they were measured (the JSON line's order). */
export type Results = Record<string, Figure>;

/** [derived key, numerator or minuend, denominator or subtrahend]. */
export type Derivation = readonly [key: string, a: string, b: string];

/** A suite as the harness sees it: its name and how its figures are judged. */
export interface SuiteInfo {
  /** What `npm run bench -- NAME` runs alone (with its section's context). */
  name: string;
  /** Goals of its figures (or of figures derived from them), e.g. `'<= 1.2'`. */
  goals?: Readonly<Record<string, string>>;
  /** key = a / b, rounded to 3 digits. */
  ratios?: readonly Derivation[];
  /** key = a - b, rounded to 1 digit. */
  diffs?: readonly Derivation[];
}

export interface Suite<C> extends SuiteInfo {
  run(ctx: C, results: Results): Promise<void>;
}

/** What a section gets from the harness. */
export interface SectionEnv {
  /** N of the link benchmarks (`--count N`, default 1000). */
  count: number;
  results: Results;
  /** Registers a synchronous remover of something set up: run at the end, on failure, on signals and exit. */
  onCleanup(remove: () => void): void;
}

export interface Section<C> {
  name: string;
  /** Goals of figures the section itself measures (before its suites'). */
  goals?: Readonly<Record<string, string>>;
  /**
   * Sets up the context, calls runSuites (the selected suites, in order),
   * and takes it all down again in a `finally`.
   */
  run(env: SectionEnv, runSuites: (ctx: C) => Promise<void>): Promise<void>;
}

/** A section with its suites, its context's type sealed in, as main.ts lists them. */
export interface BenchSection {
  name: string;
  goals?: Readonly<Record<string, string>>;
  suites: readonly SuiteInfo[];
  /** Runs the section with those of its suites that are in `only`. */
  run(env: SectionEnv, only: readonly SuiteInfo[]): Promise<void>;
}

export function section<C>(s: Section<C>, suites: readonly Suite<C>[]): BenchSection {
  return {
    name: s.name,
    goals: s.goals,
    suites,
    run: (env, only) =>
      s.run(env, async (ctx) => {
        for (const suite of suites) if (only.includes(suite)) await suite.run(ctx, env.results);
      }),
  };
}

// ---- timing and statistics ------------------------------------------------

export const log = (msg: string): void => console.log(`[bench] ${msg}`);
export const now = (): bigint => process.hrtime.bigint();
export const msSince = (t0: bigint): number => Number(now() - t0) / 1e6;
/** x rounded to `digits` decimals; null for NaN and infinities (JSON has neither). */
export const round = (x: number, digits = 3): number | null => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs fn once; resolves with its result and the ms it took. */
export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = now();
  const r = await fn();
  return [r, msSince(t0)];
}

/** Nearest-rank percentile (p in (0, 100]) of a non-empty array of numbers. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
}

/** The median (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// ---- repetitions ----------------------------------------------------------

/** `kinds` rotated left by i: run i of interleaved kinds, so none always follows another. */
export function rotation<K>(i: number, kinds: readonly K[]): K[] {
  const k = i % kinds.length;
  return [...kinds.slice(k), ...kinds.slice(0, k)];
}

/**
 * `rounds` rounds of every kind, each round in {@link rotation} order, after
 * `warmup` untimed rounds; each kind's function resolves with one run's ms.
 */
export async function interleaved<K extends string>(rounds: number, fns: Readonly<Record<K, () => Promise<number>>>, order: readonly K[], warmup = 0): Promise<Record<K, number[]>> {
  for (let i = 0; i < warmup; i++) for (const k of order) await fns[k]();
  const ms = Object.fromEntries(order.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let i = 0; i < rounds; i++) for (const k of rotation(i, order)) ms[k].push(await fns[k]());
  return ms;
}

/** Calls fn(i) for i in [0, n) with at most `limit` calls in flight; stops issuing after a failure. */
export async function pool(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
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

/** Runs fn with the event-loop delay monitor on; resolves with fn's result and the worst delay in ms. */
export async function withLoopMonitor<T>(fn: () => Promise<T>): Promise<[T, number]> {
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

/** A positive integer from the environment (NETFD_BENCH_*), or dflt when unset. */
export function envCount(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  if (!/^[1-9][0-9]{0,5}$/.test(v)) throw new Error(`${name} wants a positive integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

// ---- scratch namespace ---------------------------------------------------

/**
 * Makes scratch namespace `ns` (with veth v0/v1 unless `veth` is false, and
 * bridge br0) and a temporary directory; `remove` (synchronous, idempotent,
 * registered with env.onCleanup) takes both away again.
 */
export function scratch(env: SectionEnv, ns: string, { veth = true } = {}): { ns: string; tmp: string; remove: () => void } {
  let created = false;
  let tmp: string | null = null;
  const remove = () => {
    if (tmp) {
      fs.rmSync(tmp, { recursive: true, force: true });
      tmp = null;
    }
    if (!created) return;
    created = false;
    try {
      removeNetns(ns);
      log(`removed namespace ${ns}`);
    } catch (err) {
      console.error(`[bench] could not remove namespace ${ns}: ${(err as Error).message}`);
    }
  };
  env.onCleanup(remove);
  // State on tmpfs, as netfd's default state directory (/run/netfd) is on a host (here /run is on the root disk): /dev/shm.
  tmp = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'netfd-bench-'));
  addNetns(ns, { veth, bridge: true }); // removes what it made when it fails half-way
  created = true;
  log(`created namespace ${ns} with ${veth ? 'veth v0/v1 and ' : ''}bridge br0`);
  return { ns, tmp, remove };
}

// ---- derived figures ------------------------------------------------------

/** Adds the suites' ratios and differences, each only when one of its inputs was measured. */
export function derive(results: Results, suites: readonly SuiteInfo[]): void {
  const num = (k: string): number | null => (typeof results[k] === 'number' ? (results[k] as number) : null);
  for (const s of suites) {
    for (const [key, a, b] of s.ratios ?? []) {
      if (!(a in results || b in results)) continue;
      const x = num(a);
      const y = num(b);
      results[key] = x !== null && y ? round(x / y) : null;
    }
    for (const [key, a, b] of s.diffs ?? []) {
      if (!(a in results || b in results)) continue;
      const x = num(a);
      const y = num(b);
      results[key] = x !== null && y !== null ? round(x - y, 1) : null;
    }
  }
}

/** The goals of the figures that are there: of each section, then of its suites. */
export function goalsOf(results: Results, judged: readonly { goals?: Readonly<Record<string, string>> }[]): Record<string, string> {
  const goals: Record<string, string> = {};
  for (const s of judged) for (const [k, g] of Object.entries(s.goals ?? {})) if (k in results) goals[k] = g;
  return goals;
}

// ---- the run --------------------------------------------------------------

const usage = (sections: readonly BenchSection[]) =>
  `usage: npm run bench -- [${sections.map((s) => s.name).join('|')}|${sections.flatMap((s) => s.suites.map((x) => x.name)).join('|')} ...] [--count N]`;

/** `[SECTION|SUITE ...] [--count N]`: the suites to run (default all), by section, and N. */
export function parseArgs(argv: readonly string[], sections: readonly BenchSection[]): { count: number; plan: { section: BenchSection; suites: SuiteInfo[] }[] } {
  let count = 1000;
  const wanted = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    let value: string | undefined;
    if (sections.some((s) => s.name === a || s.suites.some((x) => x.name === a))) {
      wanted.add(a);
      continue;
    }
    if (a === '--count') value = argv[++i];
    else if (a.startsWith('--count=')) value = a.slice('--count='.length);
    else throw new Error(`unknown argument ${JSON.stringify(a)} (${usage(sections)})`);
    if (!/^[1-9][0-9]{0,5}$/.test(value ?? '')) throw new Error(`--count wants a positive integer, got ${JSON.stringify(value)}`);
    count = Number(value);
  }
  const plan = sections.map((section) => ({ section, suites: section.suites.filter((x) => wanted.size === 0 || wanted.has(section.name) || wanted.has(x.name)) })).filter((p) => p.suites.length);
  return { count, plan };
}

/**
 * Runs the selected suites section by section and prints the JSON line of
 * the figures last (with `goals`, and `error` when a section failed: the
 * others still run). Resolves with the exit code.
 */
export async function runBench(argv: readonly string[], sections: readonly BenchSection[]): Promise<number> {
  const { count, plan } = parseArgs(argv, sections);
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    log('skipped: needs root (creates network namespaces, links and guests)');
    console.log(JSON.stringify({ skipped: 'needs root' }));
    return 0;
  }
  const results: Results = plan.some((p) => p.section.name === 'links') ? { count, kernel: os.release() } : { kernel: os.release() };
  const cleanups: (() => void)[] = [];
  const cleanupAll = () => {
    while (cleanups.length) {
      try {
        cleanups.pop()!();
      } catch (err) {
        console.error(`[bench] cleanup: ${(err as Error).message}`);
      }
    }
  };
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: cleaning up`);
    cleanupAll();
    console.log(JSON.stringify({ ...results, error: `interrupted by ${sig}` }));
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  // Before test/helpers/host.ts's own handlers (which exit at once): the
  // JSON line comes first; the helper's exit handler still removes any
  // namespace of its own left.
  process.prependOnceListener('SIGINT', onSignal);
  process.prependOnceListener('SIGTERM', onSignal);
  process.once('exit', cleanupAll);

  const env: SectionEnv = { count, results, onCleanup: (remove) => cleanups.push(remove) };
  const errors: string[] = [];
  const t0 = now();
  for (const { section, suites } of plan) {
    try {
      await section.run(env, suites);
    } catch (err) {
      const e = err as Error;
      console.error(`[bench] ${section.name} failed: ${e.stack || e}`);
      errors.push(plan.length > 1 ? `${section.name}: ${e.message || e}` : String(e.message || e));
    }
  }
  const ran = plan.flatMap((p) => p.suites);
  derive(results, ran);
  const out: Record<string, unknown> = {
    ...results,
    goals: goalsOf(
      results,
      plan.flatMap((p) => [p.section, ...p.suites]),
    ),
  };
  log(`done in ${(msSince(t0) / 1000).toFixed(1)} s`);
  if (errors.length) out.error = errors.join('; ');
  console.log(JSON.stringify(out));
  return out.error ? 1 : 0;
}

/** The entry point: runBench, its exit code, and a JSON line with `error` if it throws. */
export function main(sections: readonly BenchSection[]): void {
  runBench(process.argv.slice(2), sections).then(
    (code) => {
      process.exitCode = code;
    },
    (err: Error) => {
      console.error(`[bench] ${err.message || err}`);
      console.log(JSON.stringify({ error: String(err.message || err) }));
      process.exitCode = 1;
    },
  );
}
