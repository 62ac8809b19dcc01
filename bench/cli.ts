// The cli section: the command line's cold start, files only (a temporary
// state directory; no link, namespace or agent). One suite, `coldstart`,
// each figure the median of NETFD_BENCH_CLI_RUNS runs (default 11, at least
// 7), the kinds interleaved after one untimed round, spawn to exit:
//   node_start_ms                 `node -e 0`: Node's own start, the anchor
//   cli_cold_start_ms             `node bin/netfd.js list --state-dir EMPTY`:
//                                 the CLI with nothing running
//   cli_cold_start_over_node_ms   their difference: what netfd adds (goal < 30)
//   cli_list_domain_ms            the same `list` over a state directory with
//                                 one prepared domain, whose live XML is parsed
//   cli_list_domain_over_node_ms  its difference to node_start_ms (no goal:
//                                 it loads the XML layer and its parser)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Suite } from './harness';
import { envCount, interleaved, log, median, msSince, now, round, type Section } from './harness';
import { NETFD_BIN } from './netfd';
import { closedOf } from './proc';

export interface CliContext {
  /** An empty state directory: `list` with nothing running. */
  empty: string;
  /** A state directory with the live XML of one prepared domain. */
  oneDomain: string;
}

/** Runs `node ...argv` to its exit; resolves with the ms from spawn to exit. Fails unless it exits 0 printing `expect`. */
async function timedRun(argv: readonly string[], expect: RegExp): Promise<number> {
  const t0 = now();
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  const closed = await closedOf(child);
  const ms = msSince(t0);
  if (closed.error || closed.code !== 0 || !expect.test(out)) throw new Error(`node ${argv.join(' ')}: ${closed.error?.message ?? `exit ${closed.code}`}: ${out.trim()}`);
  return ms;
}

const LISTED_NONE = /^ Pid +Name +State +Devices\n-+\n$/;
const LISTED_ONE = /^ Pid +Name +State +Devices\n-+\n - +bench +prepared +vnet9\n$/;

export const coldstart: Suite<CliContext> = {
  name: 'coldstart',
  goals: { cli_cold_start_over_node_ms: '< 30' },
  diffs: [
    ['cli_cold_start_over_node_ms', 'cli_cold_start_ms', 'node_start_ms'],
    ['cli_list_domain_over_node_ms', 'cli_list_domain_ms', 'node_start_ms'],
  ],
  async run(ctx, results) {
    const runs = Math.max(7, envCount('NETFD_BENCH_CLI_RUNS', 11));
    const ms = await interleaved(
      runs,
      {
        node: () => timedRun(['-e', '0'], /^$/),
        list: () => timedRun([NETFD_BIN, 'list', '--state-dir', ctx.empty], LISTED_NONE),
        domain: () => timedRun([NETFD_BIN, 'list', '--state-dir', ctx.oneDomain], LISTED_ONE),
      },
      ['node', 'list', 'domain'],
      1,
    );
    results.node_start_ms = round(median(ms.node), 1);
    results.cli_cold_start_ms = round(median(ms.list), 1);
    results.cli_list_domain_ms = round(median(ms.domain), 1);
    results.cli_runs = runs;
    log(`cli: node -e 0 ${results.node_start_ms} ms; netfd list ${results.cli_cold_start_ms} ms (nothing running), ${results.cli_list_domain_ms} ms (one domain); medians of ${runs}`);
  },
};

export const cli: Section<CliContext> = {
  name: 'cli',
  async run(env, runSuites) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-bench-cli-'));
    const remove = () => fs.rmSync(tmp, { recursive: true, force: true });
    env.onCleanup(remove);
    try {
      const empty = path.join(tmp, 'empty');
      const oneDomain = path.join(tmp, 'one');
      fs.mkdirSync(empty);
      fs.mkdirSync(oneDomain);
      fs.writeFileSync(
        path.join(oneDomain, 'bench.xml'),
        "<domain type='kvm'>\n  <name>bench</name>\n  <memory unit='MiB'>64</memory>\n  <devices>\n    <interface type='ethernet'>\n      <mac address='52:54:00:00:00:09'/>\n      <target dev='vnet9' managed='yes'/>\n      <model type='virtio'/>\n    </interface>\n  </devices>\n</domain>\n",
      );
      await runSuites({ empty, oneDomain });
    } finally {
      remove();
    }
  },
};
