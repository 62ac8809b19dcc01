// The networks section: files only, in a temporary state directory on tmpfs
// (/dev/shm, like /run) and sysfs fixture trees (scripts/sriov-fixture.js);
// no link is touched. One suite, `pool`:
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
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Networks } from '../lib/index';
import type { Results, Suite } from './harness';
import { envCount, log, median, msSince, now, round, type Section } from './harness';
import { netfd, sriovFixture } from './netfd';

export interface NetworksContext {
  nets: Networks;
  sysfsRoot: string;
  /** The 256 VFs' netdevs of eth1. */
  pf256: string[];
}

const REPEATS = 20;

async function allocRelease(ctx: NetworksContext, results: Results): Promise<void> {
  const { nets } = ctx;
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
  ratios: [['pf_expand_vs_ls', 'pf_expand_256_ms', 'ls_virtfn_256_ms']],
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
      await runSuites({ nets, sysfsRoot, pf256: pf256.devices });
    } finally {
      remove();
    }
  },
};
