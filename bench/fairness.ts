// Fairness: another user's `hello` round trip while one user floods the
// agent with large prepare requests the ACL refuses (120 KiB of XML each,
// from 3 connections, as fast as the agent takes them: flood.ts), against
// the same hello with nobody else there. The refused XML is parsed off the
// agent's event loop, users taking turns.
//   agent_hello_p99_ms              root's hello, p99 of 300 (NETFD_BENCH_HELLO_COUNT), alone
//   agent_hello_p99_under_flood_ms  the same during the flood
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { AgentContext } from './agent';
import type { Results, Suite } from './harness';
import { envCount, log, msSince, now, percentile, round, sleep } from './harness';
import { running } from './proc';

/** The uid of the flooding user (no account needed: the ACL names it by number). */
const FLOOD_UID = 4242420;
/** flood.ts as built next to this file. */
const FLOOD_JS = path.join(__dirname, 'flood.js');

async function agentFairness(a: AgentContext, results: Results): Promise<void> {
  const n = envCount('NETFD_BENCH_HELLO_COUNT', 300);
  fs.appendFileSync(a.acl, `allow user ${FLOOD_UID} bridge br0\n`);
  a.child.kill('SIGHUP');
  await sleep(200);
  const hellos = async () => {
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = now();
      await a.client.request('hello');
      ms.push(msSince(t));
      await sleep(3);
    }
    return ms;
  };
  const quiet = await hellos();
  const flooder = spawn('setpriv', ['--reuid', String(FLOOD_UID), '--regid', String(FLOOD_UID), '--clear-groups', process.execPath, FLOOD_JS, a.socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  a.procs.add(flooder);
  try {
    await new Promise((resolve, reject) => {
      flooder.stdout.once('data', resolve);
      flooder.once('exit', (c) => reject(new Error(`the flooding client exited (${c})`)));
    });
    const flooded = await hellos();
    results.agent_hello_p99_ms = round(percentile(quiet, 99), 2);
    results.agent_hello_p99_under_flood_ms = round(percentile(flooded, 99), 2);
    log(
      `agent: hello round trip p99 ${results.agent_hello_p99_ms} ms alone, ${results.agent_hello_p99_under_flood_ms} ms while uid ${FLOOD_UID} floods refused 120 KiB prepares (p50 ${round(percentile(flooded, 50), 2)} ms)`,
    );
  } finally {
    if (running(flooder)) flooder.kill('SIGKILL');
    a.procs.delete(flooder);
  }
}

export const fairness: Suite<AgentContext> = {
  name: 'fairness',
  goals: { agent_hello_p99_under_flood_ms: '< 50' },
  run: agentFairness,
};
