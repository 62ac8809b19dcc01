// An agent in this process on a socket in a temporary directory, logging
// into memory (test/native/agent/): removed when the test ends.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { AgentClient } from '../../lib/agent/client';
import { Agent } from '../../lib/agent/server';
import { Asserts } from './refused';

/** A pino logger whose lines are kept, parsed. */
export function logSink(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      out.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** An agent started with `acl` (null: no ACL file) and files under STATE/agent/ (path → text), and a client of it. */
export async function agentIn(t: Asserts, acl: string | null, records: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-unit-agent-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const aclFile = path.join(dir, 'acl.conf');
  if (acl !== null) fs.writeFileSync(aclFile, acl);
  fs.mkdirSync(path.join(dir, 'state', 'agent'), { recursive: true });
  for (const [f, text] of Object.entries(records)) {
    fs.mkdirSync(path.dirname(path.join(dir, 'state', 'agent', f)), { recursive: true });
    fs.writeFileSync(path.join(dir, 'state', 'agent', f), text);
  }
  const log = logSink();
  const agent = new Agent({ socket: path.join(dir, 'a.sock'), acl: aclFile, stateDir: path.join(dir, 'state'), configDir: path.join(dir, 'networks'), logger: log.logger });
  await agent.start();
  t.teardown(() => agent.stop());
  const client = await AgentClient.connect(path.join(dir, 'a.sock'));
  t.teardown(() => client.close());
  return { dir, agent, client, log };
}
