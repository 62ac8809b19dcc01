// What the agent does once as it starts: its state directory taken (one
// agent per state directory), its socket path made free (a dead agent's
// socket removed, a live one refused), and the networks marked autostart
// started.
import fs from 'node:fs';
import path from 'node:path';
import { NetfdError } from '../errors';
import { Networks } from '../netdev/networks';
import type { NetworkOptions } from '../network/store';
import { FileLock } from '../sys/flock';
import { native } from '../sys/native';
import type { AgentLogger } from './options';

/** The lock file of an agent's records directory (STATE/agent/), held while the agent runs. */
export const AGENT_LOCK = 'agent.lock';

/**
 * Takes the agent's records directory `dir` for this process: an exclusive
 * flock on dir/agent.lock, held until the agent stops (the kernel drops it
 * when the agent dies). EBUSY naming the other agent's pid when one holds
 * it: two agents on one state directory would each recover, queue and
 * delete the other's domains.
 */
export function lockAgentDir(dir: string): FileLock {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, AGENT_LOCK);
  const lock = FileLock.tryLock(file, { note: `${process.pid}\n` });
  if (lock) return lock;
  let pid = 0;
  try {
    pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10) || 0;
  } catch {
    // gone meanwhile: the message names no pid
  }
  throw new NetfdError(`another agent${pid ? ` (pid ${pid})` : ''} serves the state directory ${path.dirname(dir)} (${file} is locked); stop it or give --state-dir another directory`, {
    code: 'EBUSY',
    field: 'stateDir',
    value: path.dirname(dir),
  });
}

/** A socket file left by a dead agent is removed; one a live agent answers on is EADDRINUSE. */
export async function removeStaleSocket(file: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new NetfdError(`${file} exists and is not a socket; remove it or choose another --socket`, { code: 'EEXIST', field: 'socket', value: file });
  const fd = await native()
    .unixConnect(file)
    .catch(() => -1);
  if (fd >= 0) {
    native().close(fd);
    throw new NetfdError(`another agent is listening on ${file}`, { code: 'EADDRINUSE', field: 'socket', value: file });
  }
  fs.rmSync(file, { force: true });
}

/** Starts the networks marked autostart that are not active; failures are logged. */
export async function autostart(o: NetworkOptions, log: AgentLogger): Promise<void> {
  const nets = new Networks(o);
  let rows;
  try {
    rows = nets.list().rows;
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'cannot list networks for autostart');
    return;
  }
  for (const row of rows.filter((x) => x.autostart && !x.active)) {
    try {
      await nets.start(row.name);
      log.info({ network: row.name }, 'autostarted network');
    } catch (e) {
      log.error({ network: row.name, err: (e as Error).message }, `autostart of network ${row.name} failed`);
    }
  }
}
