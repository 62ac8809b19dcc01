// A real `netfd agent` process for privileged tests, test users made (and
// removed) by the test, and clients run as those users.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Test } from 'tap';
import { Conn } from '../../lib/agent/conn';
import { native } from '../../lib/sys/native';
import { CLI } from './e2e';
import { asUser, readablePath } from './readable';

/**
 * Opens and closes one agent connection now, so that whatever the socket
 * class sets up once per process counts as the fd baseline, not as a leak of
 * the first test that connects.
 */
export function warmSockets(): void {
  const [x, y] = native().socketPair();
  new Conn(x, { maxBytes: 16, maxFds: 0, onMessage: () => undefined, onClose: () => undefined }).close();
  native().close(y);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `ok` every 25 ms until it holds; throws naming `what` after `ms`. */
export async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await sleep(25)) if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
}

export interface RunningAgent {
  proc: ChildProcess;
  socket: string;
  dir: string;
  stateDir: string;
  acl: string;
  configDir: string;
  log: () => string;
  /** The log's complete JSON lines, parsed; a line the agent is still writing (no newline yet) is left out. */
  logLines: () => Record<string, unknown>[];
  /** Starts it again after it died (same options). */
  restart: () => Promise<RunningAgent>;
}

export interface AgentTestOptions {
  ns: string;
  acl: string;
  graceSecs?: number;
  /** Reuse this directory (socket, state, ACL, log). */
  dir?: string;
  extraArgs?: string[];
  /** A command that runs the agent's argv, appended to it, in its place (e.g. unshare ... sh -c '...; exec "$@"'). */
  wrap?: string[];
}

/** Starts `netfd agent` in `ns` with the ACL text; resolves once it listens. Killed at teardown. */
export async function startAgent(t: Test, o: AgentTestOptions): Promise<RunningAgent> {
  const dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-agent-'));
  if (!o.dir) {
    fs.chmodSync(dir, 0o755);
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  }
  const socket = path.join(dir, 'agent.sock');
  const stateDir = path.join(dir, 'state');
  const acl = path.join(dir, 'acl.conf');
  fs.writeFileSync(acl, o.acl);
  const logFile = path.join(dir, 'agent.log');
  const log = fs.openSync(logFile, 'a');
  const argv = [
    process.execPath,
    CLI,
    'agent',
    '--socket',
    socket,
    '--socket-mode',
    '0666',
    '--acl',
    acl,
    '--state-dir',
    stateDir,
    '--config-dir',
    path.join(dir, 'networks'),
    '--netns',
    o.ns,
    '--grace',
    String(o.graceSecs ?? 30),
    '--log-level',
    'debug',
    ...(o.extraArgs ?? []),
  ];
  const cmd = [...(o.wrap ?? []), ...argv];
  const proc = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const started = Date.now();
  const readLog = () => {
    try {
      return fs.readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const exited = new Promise<never>((_, reject) => proc.once('exit', (c, s) => reject(new Error(`the agent exited (${s ?? c}) before listening:\n${readLog()}`))));
  exited.catch(() => undefined);
  for (;;) {
    if (readLog().includes('"msg":"listening"') && fs.existsSync(socket)) break;
    if (Date.now() - started > 20_000) throw new Error(`the agent did not listen within 20 s:\n${readLog()}`);
    await Promise.race([new Promise((r) => setTimeout(r, 20)), exited]);
  }
  // Only this start's lines count as "listening" next time.
  const agent: RunningAgent = {
    proc,
    socket,
    dir,
    stateDir,
    acl,
    configDir: path.join(dir, 'networks'),
    log: readLog,
    logLines: () =>
      readLog()
        .split('\n')
        .slice(0, -1)
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    restart: async () => {
      fs.appendFileSync(logFile, '--- restart ---\n');
      fs.renameSync(logFile, `${logFile}.${Date.now()}.${Math.random().toString(36).slice(2)}`);
      return startAgent(t, { ...o, dir });
    },
  };
  return agent;
}

/** The agent's files with extension `ext` of every user, as "UID/NAME" (each user's domains live in STATE/agent/UID/). */
function agentFiles(a: { stateDir: string }, ext: string): string[] {
  const out: string[] = [];
  const top = path.join(a.stateDir, 'agent');
  for (const uid of fs.existsSync(top) ? fs.readdirSync(top) : []) {
    const dir = path.join(top, uid);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const f of fs.readdirSync(dir)) if (f.endsWith(ext)) out.push(`${uid}/${f.slice(0, -ext.length)}`);
  }
  return out.sort();
}

/** The agent's records, as "UID/NAME". */
export const agentRecords = (a: { stateDir: string }): string[] => agentFiles(a, '.json');
/** The agent's live XML files, as "UID/NAME". */
export const agentLiveFiles = (a: { stateDir: string }): string[] => agentFiles(a, '.xml');

/** The entries of the agent's deletion queue (STATE/agent/queue/UID.GROUP): released domains whose devices are not deleted yet. */
export function agentQueue(a: { stateDir: string }): string[] {
  const dir = path.join(a.stateDir, 'agent', 'queue');
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

/** Where the agent keeps the live XML of `uid`'s domain `name`. */
export const agentLivePath = (a: { stateDir: string }, uid: number, name: string): string => path.join(a.stateDir, 'agent', String(uid), `${name}.xml`);

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
}

let users = 0;

/** A system user (and group of the same name) that exists for this test only. */
export function testUser(t: Test, tag: string): TestUser {
  const name = `nft${tag}${process.pid % 100000}${++users}`.slice(0, 31);
  const r = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`useradd ${name} failed: ${r.stderr}`);
  t.teardown(() => {
    spawnSync('userdel', [name]);
  });
  const id = (flag: string) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  return { name, uid: id('-u'), gid: id('-g') };
}

export interface ClientReply {
  ok: boolean;
  result?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  error?: { code: string; message: string; field?: string; value?: unknown; rule?: string };
  fds?: number;
}

const CLIENT = path.join(__dirname, 'agent-client.js');

/** The client's argv: as root, the checkout's; as a user, from a copy it can read when it cannot read the checkout (readable.ts). */
function clientArgv(user: TestUser | null, args: string[]): string[] {
  return [process.execPath, user ? readablePath('test', 'helpers', 'agent-client.js') : CLIENT, ...args];
}

/** Runs requests as `user` (setpriv: its uid, gid and groups only; readable.ts's root and environment); one reply per request. */
export function runAs(user: TestUser | null, socket: string, requests: { op: string; args?: object }[]): ClientReply[] {
  const argv = clientArgv(user, [socket, JSON.stringify(requests)]);
  const u = user && asUser(user, argv);
  const r = u ? spawnSync(u.file, u.args, { ...u.options, encoding: 'utf8' }) : spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`client as ${user?.name ?? 'root'} failed (${r.status}): ${r.stderr}`);
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ClientReply);
}

/** A client as `user` that stays connected holding its fds after the requests; resolves with it and its replies. */
export async function holdAs(t: Test, user: TestUser | null, socket: string, requests: { op: string; args?: object }[]): Promise<{ proc: ChildProcess; replies: ClientReply[] }> {
  const argv = clientArgv(user, [socket, JSON.stringify(requests), '--hold']);
  const u = user && asUser(user, argv);
  const proc = u ? spawn(u.file, u.args, { ...u.options, stdio: ['ignore', 'pipe', 'inherit'] }) : spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    proc.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('HOLDING\n')) resolve();
    });
    proc.once('exit', (c) => reject(new Error(`holding client exited ${c}: ${out}`)));
  });
  return {
    proc,
    replies: out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as ClientReply),
  };
}

/** SIGKILLs a client and waits until its pipes are closed too (no fd of ours left open). */
export async function killClient(proc: ChildProcess): Promise<void> {
  const closed = new Promise((r) => proc.once('close', r));
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  else if (proc.stdout?.destroyed !== false) return;
  await closed;
}

/** A domain with the given interface XML fragments (no guest: the agent only prepares). */
export const domainXml = (name: string, ifaces: string[]): string => `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><devices>${ifaces.join('')}</devices></domain>`;
export const bridgeIface = (br: string): string => `<interface type='bridge'><source bridge='${br}'/><model type='virtio'/></interface>`;
export const directIface = (dev: string, mode: string): string => `<interface type='direct'><source dev='${dev}' mode='${mode}'/><model type='virtio'/></interface>`;
