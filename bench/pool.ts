// The networks section: files only, in a temporary state directory on tmpfs
// (/dev/shm, like /run) and sysfs fixture trees (scripts/sriov-fixture.js);
// no link is touched. One suite, `pool`:
//   pool_alloc_release_us         Networks.allocate() + release() on a bridge
//                                 network over a 64-VF <pf> pool, 10,000 times
//                                 (NETFD_BENCH_POOL_CYCLES), per cycle: each
//                                 takes the network's lock, checks its index
//                                 (ledger and definition unchanged: a stat
//                                 each; the PF's sriov_numvfs, the domains'
//                                 directory) and writes ledger and live XML
//                                 atomically (rename; no fsync: runtime
//                                 state); goal < 100
//   pool_alloc_release_us_1_held  the same with 1 and with 60 connections held
//   pool_alloc_release_us_60_held by domains whose live XML records them
//                                 (median of 5 rounds of a 25th of the
//                                 cycles each, alternating)
//   pool_flatness                 60 held / 1 held: an allocation costs the
//                                 same whatever the number of domains holding
//                                 connections (goal <= 1.5)
//   pool_floor_us                 the floor under pool_alloc_release_us: the
//                                 system calls an allocate and a release make
//                                 (strace -c), on files of the same sizes,
//                                 back to back with no logic between, per
//                                 cycle (NETFD_BENCH_POOL_CYCLES of them)
//   pool_vs_floor                 pool_alloc_release_us / pool_floor_us
//   pf_expand_256_ms              net-start (Networks.start) of a network whose
//                                 <pf> has 256 VFs, median of 20 (+ destroy)
//   ls_virtfn_256_ms              what a user would run instead: one
//                                 `sh -c 'ls -d .../device/virtfn*/net/*'`
//                                 over the same tree, median of 20
//   pf_expand_vs_ls               their ratio
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Networks } from '../lib/index';
import type { Results, Suite } from './harness';
import { envCount, log, median, msSince, now, round, type Section } from './harness';
import { nativeBinding, netfd, sriovFixture } from './netfd';

export interface NetworksContext {
  nets: Networks;
  sysfsRoot: string;
  /** The domains' state directory (their live XML). */
  stateDir: string;
  /** The 256 VFs' netdevs of eth1. */
  pf256: string[];
}

const REPEATS = 20;

const macOf = (i: number, prefix = '52:54:00:01') => `${prefix}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

/** Microseconds per allocate + release, `cycles` times after 50 to warm up. */
async function cycle(nets: Networks, cycles: number): Promise<number> {
  for (let i = 0; i < 50; i++) {
    await nets.allocate('pool', { domain: 'warm', mac: '52:54:00:00:00:01' });
    await nets.release('pool', { domain: 'warm', mac: '52:54:00:00:00:01' });
  }
  const t0 = now();
  for (let i = 0; i < cycles; i++) {
    const mac = macOf(i);
    await nets.allocate('pool', { domain: `g${i}`, mac });
    await nets.release('pool', { domain: `g${i}`, mac });
  }
  return round((msSince(t0) * 1000) / cycles, 1) ?? 0;
}

/** `n` domains holding a connection each, their live XML written as netfd writes it; returns their removal. */
async function holders(ctx: NetworksContext, n: number): Promise<() => Promise<void>> {
  const made: { domain: string; mac: string; file: string }[] = [];
  for (let i = 0; i < n; i++) {
    const domain = `held${i}`;
    const mac = macOf(i, '52:54:00:02');
    const a = await ctx.nets.allocate('pool', { domain, mac });
    const file = path.join(ctx.stateDir, `${domain}.xml`);
    fs.writeFileSync(
      file,
      `<domain type='qemu'><name>${domain}</name><memory>65536</memory><devices><interface type='network'><mac address='${mac}'/><source network='pool'/><actual type='direct'><source dev='${a.dev}' mode='bridge'/></actual><target dev='macvtap${i}'/><alias name='net0'/></interface></devices></domain>`,
    );
    made.push({ domain, mac, file });
  }
  // Past the time a directory's change is too recent to be trusted (lib/network/store.ts).
  await new Promise((r) => setTimeout(r, 200));
  return async () => {
    for (const m of made) {
      fs.rmSync(m.file);
      await ctx.nets.release('pool', { domain: m.domain, mac: m.mac });
    }
  };
}

/**
 * Microseconds per cycle of the system calls alone that one allocate and one
 * release make, in the order they make them (the network's live XML looked
 * for; its lock taken, the holder written; ledger and definition stat'ed
 * (unchanged since the index saw them); sriov_numvfs read; ledger and live
 * XML written to temporary files, closed, renamed (no fsync: runtime state);
 * the ledger stat'ed; the lock file removed, released), on copies of the
 * network's files, with the texts it writes.
 */
function floorUs(ctx: NetworksContext, cycles: number): number {
  const b = nativeBinding();
  const dir = fs.mkdtempSync(path.join(path.dirname(ctx.sysfsRoot), 'floor-'));
  try {
    const from = path.join(ctx.stateDir, 'networks');
    const [ledger, live, inactive, lock] = ['pool.connections', 'pool.xml', 'pool.inactive', 'pool.lock'].map((f) => path.join(dir, f));
    for (const f of [ledger, live, inactive]) fs.copyFileSync(path.join(from, path.basename(f)), f);
    const texts = [fs.readFileSync(ledger, 'utf8'), fs.readFileSync(live, 'utf8')];
    const numVfs = path.join(ctx.sysfsRoot, 'class/net/eth0/device/sriov_numvfs');
    const { O_WRONLY, O_CREAT, O_EXCL } = fs.constants;
    const note = `${process.pid}\n`;
    let seq = 0;
    const temp = (file: string, text: string) => {
      const tmp = `${file}.${seq++}.tmp`;
      const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o644);
      fs.writeSync(fd, text);
      fs.closeSync(fd);
      return tmp;
    };
    const call = () => {
      if (!fs.existsSync(live)) throw new Error(`${live} is gone`);
      const fd = b.tryLockFile({ path: lock, note });
      if (fd === null) throw new Error(`${lock} is held`);
      for (const f of [ledger, inactive]) fs.statSync(f, { bigint: true });
      fs.readFileSync(numVfs, 'utf8');
      const tmps = [temp(ledger, texts[0]!), temp(live, texts[1]!)];
      fs.renameSync(tmps[0]!, ledger);
      fs.renameSync(tmps[1]!, live);
      fs.statSync(ledger, { bigint: true });
      b.unlockFile(fd, lock, true);
    };
    for (let i = 0; i < 100; i++) call();
    const t0 = now();
    for (let i = 0; i < cycles; i++) {
      call();
      call();
    }
    return round((msSince(t0) * 1000) / cycles, 1) ?? 0;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function allocRelease(ctx: NetworksContext, results: Results): Promise<void> {
  const { nets } = ctx;
  await nets.start('pool');
  const cycles = envCount('NETFD_BENCH_POOL_CYCLES', 10_000);
  results.pool_alloc_release_us = await cycle(nets, cycles);
  results.pool_cycles = cycles;
  results.pool_floor_us = floorUs(ctx, cycles);
  // Five rounds of each, alternating, the median of each: the machine's noise is not a difference.
  const few = Math.max(100, Math.round(cycles / 25));
  const held = new Map<number, number[]>([
    [1, []],
    [60, []],
  ]);
  for (let r = 0; r < 5; r++)
    for (const [n, times] of held) {
      const drop = await holders(ctx, n);
      times.push(await cycle(nets, few));
      await drop();
    }
  for (const [n, times] of held) results[`pool_alloc_release_us_${n}_held`] = round(median(times), 1);
  const left = (await nets.status('pool')).connections.length;
  if (left) throw new Error(`${left} connections left after the cycles`);
  await nets.destroy('pool');
  log(
    `networks: allocate + release ${results.pool_alloc_release_us} us per cycle (${cycles} cycles, 64-VF pool); ` +
      `with 1 / 60 domains holding connections ${results.pool_alloc_release_us_1_held} / ${results.pool_alloc_release_us_60_held} us (median of 5 x ${few} cycles); ` +
      `its system calls alone ${results.pool_floor_us} us`,
  );
}

async function pfExpand(ctx: NetworksContext, results: Results): Promise<void> {
  const { nets } = ctx;
  const starts: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const t1 = now();
    const st = await nets.start('big');
    starts.push(msSince(t1));
    if (st.pool.length !== ctx.pf256.length) throw new Error(`expanded ${st.pool.length} VFs, expected 256`);
    await nets.destroy('big');
  }
  results.pf_expand_256_ms = round(median(starts), 2);
  const ls: number[] = [];
  const glob = `${path.join(ctx.sysfsRoot, 'class/net/eth1/device')}/virtfn*/net/*`;
  for (let i = 0; i < REPEATS; i++) {
    const t1 = now();
    const r = spawnSync('sh', ['-c', `ls -d ${glob}`], { encoding: 'utf8' });
    ls.push(msSince(t1));
    if (r.stdout.trim().split('\n').length !== 256) throw new Error(`ls found ${r.stdout.trim().split('\n').length} VFs`);
  }
  results.ls_virtfn_256_ms = round(median(ls), 2);
  log(`networks: net-start of a 256-VF PF ${results.pf_expand_256_ms} ms; ls ${results.ls_virtfn_256_ms} ms`);
}

export const pool: Suite<NetworksContext> = {
  name: 'pool',
  goals: { pool_alloc_release_us: '< 100', pool_flatness: '<= 1.5' },
  ratios: [
    ['pf_expand_vs_ls', 'pf_expand_256_ms', 'ls_virtfn_256_ms'],
    ['pool_flatness', 'pool_alloc_release_us_60_held', 'pool_alloc_release_us_1_held'],
    ['pool_vs_floor', 'pool_alloc_release_us', 'pool_floor_us'],
  ],
  async run(ctx, results) {
    await allocRelease(ctx, results);
    await pfExpand(ctx, results);
  },
};

export const networks: Section<NetworksContext> = {
  name: 'networks',
  async run(env, runSuites) {
    const lib = netfd();
    const fixture = sriovFixture();
    const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
    const tmp = fs.mkdtempSync(path.join(base, 'netfd-bench-net-'));
    const remove = () => fs.rmSync(tmp, { recursive: true, force: true });
    env.onCleanup(remove);
    try {
      const sysfsRoot = path.join(tmp, 'sys');
      fs.mkdirSync(sysfsRoot);
      fixture.pfN(sysfsRoot, 64, 'eth0');
      const pf256 = fixture.pfN(sysfsRoot, 256, 'eth1');
      const nets = new lib.Networks({ configDir: path.join(tmp, 'etc'), stateDir: path.join(tmp, 'run'), sysfsRoot });
      await nets.define("<network><name>pool</name><forward mode='bridge'><pf dev='eth0'/></forward></network>");
      await nets.define("<network><name>big</name><forward mode='passthrough'><pf dev='eth1'/></forward></network>");
      await runSuites({ nets, sysfsRoot, stateDir: path.join(tmp, 'run'), pf256: pf256.devices });
    } finally {
      remove();
    }
  },
};
