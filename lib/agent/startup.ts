// What the agent does once as it starts: its socket path made free (a dead
// agent's socket removed, a live one refused), and the networks marked
// autostart started.
import fs from 'node:fs';
import { NetfdError } from '../errors';
import { Networks } from '../netdev/network';
import type { NetworkOptions } from '../network/store';
import { native } from '../sys/native';
import type { AgentLogger } from './options';

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
