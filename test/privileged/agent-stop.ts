// Stopping the host agent with hostile and busy clients, each test in a
// namespace of its own with a user made by the test: a client that never
// reads cannot keep a SIGTERMed agent alive past --stop-timeout; requests
// arriving while it stops never crash it (no SIGABRT from a native callback
// into a stopping Node); netfd's own client, refused or cut off mid-request,
// exits 1 with one line; records stay consistent for the next start.
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { Test } from 'tap';
import { bridgeIface, domainXml, holdAs, killClient, runAs, RunningAgent, startAgent, testUser, TestUser } from '../helpers/agent';
import { ip, ipLinks, needsRoot, withNetns } from '../helpers/host';
import { FileLock } from '../../lib/sys/flock';
import { asUser, readablePath } from '../helpers/readable';

/** Paths a user the test makes can read (readable.ts). */
const FLOOD = () => readablePath('test', 'helpers', 'agent-flood.js');
const CLI = () => readablePath('bin', 'netfd.js');
const STOP_TIMEOUT_S = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const names = (ns: string): string[] =>
  ipLinks(ns)
    .map((l) => l.ifname)
    .sort();

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await sleep(20)) if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
}

/** Every user's records by domain name (each user's are in STATE/agent/UID/). */
const records = (a: RunningAgent): Record<string, { state: string }> => {
  const top = path.join(a.stateDir, 'agent');
  if (!fs.existsSync(top)) return {};
  return Object.fromEntries(
    fs
      .readdirSync(top)
      .map((uid) => path.join(top, uid))
      .filter((dir) => fs.statSync(dir).isDirectory())
      .flatMap((dir) =>
        fs
          .readdirSync(dir)
          .filter((f) => f.endsWith('.json'))
          .map((f) => [f.slice(0, -5), JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { state: string }]),
      ),
  );
};

interface Child {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  /** Resolves with the exit once its pipes are closed too. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs argv as `user` (setpriv, as runAs does), without the test runner's
 * NODE_OPTIONS hooks (they would write the runner's files as the user, fail,
 * and print that: readable.ts's asUser); killed at teardown, also on failure.
 */
function spawnAs(t: Test, user: TestUser, argv: string[]): Child {
  const u = asUser(user, argv);
  const proc = spawn(u.file, u.args, { ...u.options, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => proc.once('close', (code, signal) => res({ code, signal })));
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await done;
  });
  return { proc, out: () => out, err: () => err, done };
}

/** `netfd --connect SOCKET ARGS...` as `user`. */
const cliAs = (t: Test, user: TestUser, a: RunningAgent, args: string[]): Child =>
  spawnAs(t, user, [process.execPath, CLI(), '--connect', a.socket, '--state-dir', path.join(a.dir, 'client-state'), ...args]);

/** Sends `sig` and resolves with how the agent ended and how long it took. */
async function signalAgent(a: RunningAgent, sig: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const started = Date.now();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    if (a.proc.exitCode !== null || a.proc.signalCode !== null) res({ code: a.proc.exitCode, signal: a.proc.signalCode });
    else a.proc.once('exit', (code, signal) => res({ code, signal }));
  });
  a.proc.kill(sig);
  // Well past the stop timeout: a hung agent fails here instead of hanging the suite.
  const late = sleep(STOP_TIMEOUT_S * 1000 + 8000).then(() => ({ code: null, signal: null, late: true }));
  const r = await Promise.race([exited, late]);
  if ('late' in r) throw new Error(`the agent did not exit within ${STOP_TIMEOUT_S + 8} s of ${sig}:\n${a.log().slice(-3000)}`);
  return { ...r, ms: Date.now() - started };
}

function noCrash(t: Test, a: RunningAgent, end: { code: number | null; signal: NodeJS.Signals | null }, what: string): void {
  t.equal(end.signal, null, `${what}: the agent exited, not killed by a signal (${end.signal})`);
  t.notMatch(a.log(), /terminate called|Aborted|FATAL ERROR|uncaught|Uncaught/, `${what}: no std::terminate, no uncaught exception in its output`);
  t.same(
    fs.readdirSync(a.dir).filter((f) => /^core/.test(f)),
    [],
    `${what}: no core file`,
  );
}

/** One line on stderr, `netfd VERB: CODE: message`. */
function oneLine(t: Test, c: Child, end: { code: number | null; signal: NodeJS.Signals | null }, verb: string, re: RegExp, what: string): void {
  t.same(end, { code: 1, signal: null }, `${what}: the client exits 1 (not SIGABRT)`);
  const lines = c.err().split('\n').filter(Boolean);
  t.equal(lines.length, 1, `${what}: one line on stderr`, { stderr: c.err() });
  t.match(lines[0] ?? '', new RegExp(`^netfd ${verb}: ${re.source}`), `${what}: ${lines[0]}`);
}

t.test('a client that never reads its replies cannot keep a SIGTERMed agent alive past --stop-timeout', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const user = testUser(t, 's');
    const a = await startAgent(t, { ns, acl: `allow user ${user.name} bridge br0\n`, extraArgs: ['--stop-timeout', String(STOP_TIMEOUT_S)] });
    const flood = spawnAs(t, user, [process.execPath, FLOOD(), 'noread', a.socket, '8']);
    await until('the flood is sent', () => flood.out().includes('SENT\n'));
    // 8 requests in flight, their ~100 KB replies stuck behind a full socket: more are EBUSY.
    await until('the agent is stuck with replies nobody reads', () => a.logLines().some((l) => l.clientPid === flood.proc.pid && l.code === 'EBUSY'));
    const end = await signalAgent(a, 'SIGTERM');
    noCrash(t, a, end, 'SIGTERM');
    t.equal(end.code, 1, 'exit 1: the stop timeout cut work short');
    t.ok(end.ms >= STOP_TIMEOUT_S * 1000 - 100, `it waited for the stop timeout (${end.ms} ms)`);
    t.ok(end.ms < STOP_TIMEOUT_S * 1000 + 1500, `and exited soon after it (${end.ms} ms, timeout ${STOP_TIMEOUT_S} s)`);
    const cut = a.logLines().find((l) => typeof l.msg === 'string' && l.msg.startsWith('stop timeout'));
    t.ok(cut, 'the log says what was cut short');
    t.match(cut, { level: 40, stopTimeoutMs: STOP_TIMEOUT_S * 1000, connections: [{ uid: user.uid, clientPid: flood.proc.pid }] }, 'it names the connection');
    const [c] = (cut?.connections ?? []) as { requests: number; unreadReplies: number }[];
    t.ok(c?.requests > 0 && c?.unreadReplies > 0 && cut?.unfinished === c?.requests, `its requests in flight (${c?.requests}) and replies not read (${c?.unreadReplies})`);
    t.equal(flood.proc.exitCode, null, 'the flooding client is still there, unread');
    t.notOk(fs.existsSync(a.socket), 'the socket is removed');
    flood.proc.kill('SIGKILL');
    await flood.done;
  });
});

t.test('SIGTERM while requests keep arriving on several connections, 20 rounds: never SIGABRT', { skip: needsRoot, timeout: 90_000 }, async (t) => {
  await withNetns(t, async (ns) => {
    const user = testUser(t, 'r');
    let a = await startAgent(t, { ns, acl: `allow user ${user.name} bridge br0\n`, extraArgs: ['--stop-timeout', String(STOP_TIMEOUT_S)] });
    // Two processes of four connections each, reconnecting whenever the agent is back.
    const busy = [spawnAs(t, user, [process.execPath, FLOOD(), 'busy', a.socket, '4']), spawnAs(t, user, [process.execPath, FLOOD(), 'busy', a.socket, '4'])];
    const ends: string[] = [];
    for (let round = 1; round <= 20; round++) {
      if (round > 1) a = await a.restart();
      const served = () => a.logLines().filter((l) => l.msg === 'ok').length;
      await until(`round ${round}: requests are being served`, () => served() >= 20);
      await sleep(Math.floor(Math.random() * 150));
      const end = await signalAgent(a, 'SIGTERM');
      noCrash(t, a, end, `round ${round}`);
      t.ok(end.code === 0 || end.code === 1, `round ${round}: exit ${end.code} after ${end.ms} ms`);
      t.ok(end.ms < STOP_TIMEOUT_S * 1000 + 1500, `round ${round}: within the stop timeout`);
      ends.push(`${end.code}`);
    }
    t.comment(`exit codes: ${ends.join(' ')}`);
    for (const [i, b] of busy.entries()) {
      t.equal(b.proc.exitCode, null, `busy client ${i + 1} is alive: every disconnect was an error, none a crash`);
      t.notMatch(b.out(), /ERROR/, `busy client ${i + 1}: nothing uncaught`);
      t.match(b.out(), /BUSY/, `busy client ${i + 1} was answered`);
      b.proc.kill('SIGKILL');
      await b.done;
    }
  });
});

t.test("netfd's client refused by the agent, or cut off mid-request by SIGKILL or SIGTERM: exit 1, one line", { skip: needsRoot, timeout: 90_000 }, async (t) => {
  await withNetns(t, async (ns) => {
    ip(['-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', ns, 'link', 'set', 'br0', 'up']);
    const baseline = names(ns);
    const user = testUser(t, 'c');
    let a = await startAgent(t, { ns, acl: `allow user ${user.name} bridge br0\n`, extraArgs: ['--stop-timeout', String(STOP_TIMEOUT_S), '--max-clients', '2', '--reserved-for-root', '0'] });

    // Refused: the connection limit is full.
    const holders = [await holdAs(t, user, a.socket, [{ op: 'hello' }]), await holdAs(t, user, a.socket, [{ op: 'prepare', args: { xml: domainXml('held', [bridgeIface('br0')]) } }])];
    t.equal(holders[1].replies[0].ok, true, 'a domain is prepared (held by the second connection)');
    for (let i = 0; i < 5; i++) {
      const c = cliAs(t, user, a, ['list']);
      oneLine(t, c, await c.done, 'list', /EAGAIN: the agent refused the connection: the agent serves at most 2 connections$/, `refused ${i + 1}`);
    }
    t.match(
      runAs(user, a.socket, [{ op: 'hello' }]),
      [{ ok: false, error: { code: 'EAGAIN', message: 'the agent refused the connection: the agent serves at most 2 connections' } }],
      'the library client gets EAGAIN with the agent message',
    );
    await killClient(holders[0].proc);
    await until('the first holder is gone', () => a.logLines().some((l) => l.msg === 'client disconnected'));

    // Mid-request: an attach that waits for the domain's lock (an flock held
    // here) when the agent is killed. The CLI's hotplug asks the agent first
    // and qemu after, so a launch record naming a QMP socket is all it needs.
    const lock = path.join(a.stateDir, 'agent', String(user.uid), 'held.lock');
    const clientState = path.join(a.dir, 'client-state');
    fs.mkdirSync(clientState, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(clientState, 'held.pid'), JSON.stringify({ pid: 1, qmp: path.join(clientState, 'held.qmp') }));
    fs.writeFileSync(path.join(clientState, 'iface.xml'), bridgeIface('br0'));
    fs.chownSync(clientState, user.uid, user.gid);
    /** A request waits for the flock on `lock` (/proc/locks: a blocked request on its inode). */
    const waitsFor = (file: string) => {
      const ino = fs.statSync(file).ino;
      return fs
        .readFileSync('/proc/locks', 'utf8')
        .split('\n')
        .some((l) => l.includes('->') && l.includes(`:${ino} `));
    };
    const midRequest = async (sig: NodeJS.Signals, re: RegExp) => {
      const held = await FileLock.lock(lock, { timeoutMs: 5000 });
      if (!held) throw new Error(`cannot take ${lock}`);
      const c = cliAs(t, user, a, ['attach-interface', 'held', path.join(clientState, 'iface.xml')]);
      await until(`${sig}: the attach is in flight`, () => waitsFor(lock));
      const end = await signalAgent(a, sig);
      if (sig === 'SIGTERM') {
        noCrash(t, a, end, 'SIGTERM mid-request');
        t.equal(end.code, 1, 'SIGTERM: the agent exits 1, the attach cut short');
        t.ok(end.ms < STOP_TIMEOUT_S * 1000 + 1500, `SIGTERM: within the stop timeout (${end.ms} ms)`);
        t.match(
          a.logLines().find((l) => typeof l.msg === 'string' && l.msg.startsWith('stop timeout')),
          { connections: [{ uid: user.uid, requests: 1 }] },
          'SIGTERM: the log names the connection cut short',
        );
      } else t.equal(end.signal, 'SIGKILL', 'SIGKILL: the agent is gone');
      oneLine(t, c, await c.done, 'attach-interface', re, `${sig} mid-request`);
      t.match(records(a).held, { state: 'ready', interfaces: 1 }, `${sig}: the record is the prepared domain's, the attach never began`);
      held.unlock();
    };
    /** After a restart: the domain is held again for its owner, who releases it; its tap goes. */
    const releaseAfterRestart = async (what: string) => {
      t.match(runAs(user, a.socket, [{ op: 'release', args: { name: 'held' } }]), [{ ok: true }], `${what}: the domain was held again for its owner, who releases it`);
      await until(`${what}: its devices are deleted`, () => !('held' in records(a)) && names(ns).join() === baseline.join());
    };
    await midRequest('SIGKILL', /ECONNRESET: the agent connection closed \(the peer closed the connection\)$/);
    a = await a.restart();
    await killClient(holders[1].proc);
    await releaseAfterRestart('SIGKILL');
    t.same(names(ns), baseline, 'its tap is gone');
    const again = await holdAs(t, user, a.socket, [{ op: 'prepare', args: { xml: domainXml('held', [bridgeIface('br0')]) } }]);
    t.equal(again.replies[0].ok, true, 'prepared again');
    await midRequest('SIGTERM', /ECONNRESET: the agent connection closed \(the peer closed the connection\)$/);
    a = await a.restart();
    await killClient(again.proc);
    await releaseAfterRestart('SIGTERM');
    t.same(names(ns), baseline, 'nothing left in the namespace');
    const end = await signalAgent(a, 'SIGTERM');
    t.same({ code: end.code, signal: end.signal }, { code: 0, signal: null }, 'an idle agent stops with 0');
  });
});
