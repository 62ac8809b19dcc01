// The agent's deletion queue on real devices in a scratch namespace: release
// returns before the devices are gone and they do go; the name is free at
// once; limits count queued devices until they are gone; SIGKILL with
// deletions queued (and one move into the journal cut short), then a
// restart, leaves nothing; SIGTERM drains the queue; a release takes no
// domain lock. The worker is held by the test hook NETFD_TEST_REAPER_HOLD (a
// file: while it exists a batch waits before deleting); the kernel path runs
// for real once it is removed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { Test } from 'tap';
import { AgentClient } from '../../lib/agent/client';
import { FileLock } from '../../lib/sys/flock';
import { native } from '../../lib/sys/native';
import { agentLiveFiles, agentQueue, agentRecords, bridgeIface, directIface, domainXml, RunningAgent, startAgent, until, warmSockets } from '../helpers/agent';
import { ip, ipLinks, needsRoot, withNetns } from '../helpers/host';

warmSockets();

const names = (ns: string): string[] =>
  ipLinks(ns)
    .map((l) => l.ifname)
    .sort();

/** A test hook's file for the agents of this test: its path in their environment as `variable` (set before they start); on() makes it, off() removes it. */
function hookFile(t: Test, variable: string): { on: () => void; off: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-hook-'));
  const file = path.join(dir, 'hook');
  const before = process.env[variable];
  process.env[variable] = file;
  t.teardown(() => {
    if (before === undefined) delete process.env[variable];
    else process.env[variable] = before;
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { on: () => fs.writeFileSync(file, ''), off: () => fs.rmSync(file, { force: true }) };
}

/** NETFD_TEST_REAPER_HOLD: while the file exists, a batch of the deletion queue waits before deleting anything. */
const holdWorker = (t: Test) => hookFile(t, 'NETFD_TEST_REAPER_HOLD');

/** A bridge br0 in `ns`; the namespace's links then (what the test must end with). */
function bridgedBaseline(ns: string): string[] {
  bridge(ns);
  return names(ns);
}

/** A client of `a`, with the worker held from now on (releases queue, nothing is deleted). */
async function heldClient(a: RunningAgent, hold: { on: () => void }): Promise<AgentClient> {
  const c = await AgentClient.connect(a.socket);
  hold.on();
  return c;
}

/** Prepares `name` with two macvtaps (on v0 and v1) and a tap on br0; closes the fds; the devices made. */
async function prepareThree(c: AgentClient, name: string): Promise<string[]> {
  const r = await c.request<{ interfaces: { dev: string }[] }>('prepare', { xml: domainXml(name, [directIface('v0', 'bridge'), bridgeIface('br0'), directIface('v1', 'bridge')]) });
  closeFds(r.fds);
  return r.result.interfaces.map((i) => i.dev);
}

/** A request waits for the flock on `file` (/proc/locks: a blocked request on its inode). */
function waitsFor(file: string): boolean {
  const ino = fs.statSync(file).ino;
  return fs
    .readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .some((l) => l.includes('->') && l.includes(`:${ino} `));
}

function bridge(ns: string): void {
  ip(['-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
  ip(['-n', ns, 'link', 'set', 'br0', 'up']);
}

const closeFds = (fds: number[]) => fds.forEach((fd) => native().close(fd));

async function exitOf(a: RunningAgent): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (a.proc.exitCode !== null || a.proc.signalCode !== null) return { code: a.proc.exitCode, signal: a.proc.signalCode };
  return new Promise((res) => a.proc.once('exit', (code, signal) => res({ code, signal })));
}

t.test('release returns before the devices are gone, and they go; the name is free at once; list and claim do not see the queued domain', { skip: needsRoot }, async (t) => {
  const hold = holdWorker(t);
  await withNetns(t, async (ns) => {
    bridge(ns);
    const baseline = names(ns);
    const a = await startAgent(t, { ns, acl: 'allow user root all\n' });
    const c = await AgentClient.connect(a.socket);
    hold.on();
    const xml = domainXml('q', [bridgeIface('br0'), directIface('v0', 'bridge')]);
    const r1 = await c.request<{ interfaces: { dev: string }[] }>('prepare', { xml });
    closeFds(r1.fds);
    const first = r1.result.interfaces.map((i) => i.dev);
    t.same((await c.request('release', { name: 'q' })).result, { name: 'q' }, 'release answers');
    t.ok(
      first.every((d) => names(ns).includes(d)),
      `${first.join(' ')} still exist: queued (the tap kept by the agent's copy of its fd)`,
    );
    t.equal(agentQueue(a).length, 1, 'one entry in the deletion queue');
    t.same(agentRecords(a), [], 'no record in the scope: the name is free');
    t.same((await c.request('list')).result, [], 'list does not show the queued domain');
    await t.rejects(c.request('claim', { name: 'q' }), { code: 'ENOENT' }, 'nor can it be claimed');

    const r2 = await c.request<{ interfaces: { dev: string }[] }>('prepare', { xml });
    closeFds(r2.fds);
    const second = r2.result.interfaces.map((i) => i.dev);
    t.same(
      second.filter((d) => first.includes(d)),
      [],
      `prepared again at once, with new devices ${second.join(' ')}`,
    );
    t.same(
      (await c.request<{ name: string }[]>('list')).result.map((d) => d.name),
      ['q'],
      'the new q is listed',
    );

    hold.off();
    await until('the queue is empty', () => agentQueue(a).length === 0);
    t.same(
      first.filter((d) => names(ns).includes(d)),
      [],
      "the first q's devices are gone",
    );
    t.ok(
      second.every((d) => names(ns).includes(d)),
      "the second q's are not",
    );
    t.match(a.log(), /deleted the devices of q \(its owner released it\)/, 'the worker logs the deletion');
    await c.request('release', { name: 'q' });
    await until('the queue is empty again', () => agentQueue(a).length === 0);
    c.close();
    t.same(names(ns), baseline, 'nothing left in the namespace');
    t.same(agentLiveFiles(a), [], 'no live XML left');
  });
});

t.test('limits count queued devices until they are gone: a prepare over the limit is refused, naming them', { skip: needsRoot }, async (t) => {
  const hold = holdWorker(t);
  await withNetns(t, async (ns) => {
    bridge(ns);
    const baseline = names(ns);
    const a = await startAgent(t, { ns, acl: 'allow user root bridge br0\nlimit user root interfaces 1\n' });
    const c = await AgentClient.connect(a.socket);
    hold.on();
    closeFds((await c.request('prepare', { xml: domainXml('a', [bridgeIface('br0')]) })).fds);
    await c.request('release', { name: 'a' });
    await t.rejects(
      c.request('prepare', { xml: domainXml('b', [bridgeIface('br0')]) }),
      { code: 'LIMIT_EXCEEDED', field: 'interfaces', message: /holds 1 interfaces \(1 interfaces of released domains whose devices are still being deleted: try again in a moment\)/ },
      'refused while the released domain is queued',
    );
    await t.rejects(c.request('prepare', { xml: domainXml('a', [bridgeIface('br0')]) }), { code: 'LIMIT_EXCEEDED' }, 'the same name too');
    hold.off();
    await until('the queue is empty', () => agentQueue(a).length === 0);
    const b = await c.request('prepare', { xml: domainXml('b', [bridgeIface('br0')]) });
    closeFds(b.fds);
    t.pass('prepared once the devices are gone');
    await c.request('release', { name: 'b' });
    await until('the queue is empty again', () => agentQueue(a).length === 0);
    c.close();
    t.same(names(ns), baseline, 'nothing left in the namespace');
  });
});

t.test('SIGKILL with deletions queued and a move into the journal cut short: the restarted agent finishes them before serving', { skip: needsRoot }, async (t) => {
  const hold = holdWorker(t);
  await withNetns(t, async (ns) => {
    const baseline = bridgedBaseline(ns);
    let a = await startAgent(t, { ns, graceSecs: 600, acl: 'allow user root all\n' });
    const c = await heldClient(a, hold);
    const devs: string[] = [];
    for (const name of ['k1', 'k2', 'k3']) devs.push(...(await prepareThree(c, name)));
    await c.request('release', { name: 'k1' });
    await c.request('release', { name: 'k2' });
    t.equal(agentQueue(a).length, 2, 'two deletions queued');
    c.close();
    a.proc.kill('SIGKILL');
    t.equal((await exitOf(a)).signal, 'SIGKILL', 'the agent is killed with the deletions pending');
    t.ok(
      devs.filter((d) => d.startsWith('macvtap')).every((d) => names(ns).includes(d)),
      'the macvtaps outlive it',
    );
    // k3's release cut short after its XML moved into the journal, before its record did.
    const scope = path.join(a.stateDir, 'agent', '0');
    const k3 = JSON.parse(fs.readFileSync(path.join(scope, 'k3.json'), 'utf8')) as { group: number; state: string };
    fs.writeFileSync(path.join(scope, 'k3.json'), JSON.stringify({ ...k3, state: 'releasing' }));
    const entry = path.join(a.stateDir, 'agent', 'queue', `0.${k3.group}`);
    fs.mkdirSync(entry, { mode: 0o700 });
    fs.renameSync(path.join(scope, 'k3.xml'), path.join(entry, 'k3.xml'));
    fs.writeFileSync(path.join(entry, '.k3.json.123.abc.tmp'), '{');
    hold.off();

    a = await a.restart();
    t.match(a.log(), /finishing the deletions queued before the restart/, 'the restarted agent finishes the queue');
    t.same(names(ns), baseline, 'before it serves, every device is gone');
    t.same(agentQueue(a), [], 'no entry left in the queue');
    t.same(agentRecords(a), [], 'no record left');
    t.same(agentLiveFiles(a), [], 'no live XML left');
    t.same(fs.readdirSync(scope), [], "nothing left in root's scope");
    const c2 = await AgentClient.connect(a.socket);
    t.same((await c2.request('list')).result, [], 'nothing listed');
    c2.close();
  });
});

t.test("SIGKILL inside a batch's group delete (its links moved into one group, not deleted yet): the restarted agent deletes them all", { skip: needsRoot }, async (t) => {
  const hold = holdWorker(t);
  // NETFD_TEST_DELETE_LINKS_PAUSE: while the file exists, the native group
  // delete waits after moving the links into one group, before deleting it.
  const pause = hookFile(t, 'NETFD_TEST_DELETE_LINKS_PAUSE');
  await withNetns(t, async (ns) => {
    const baseline = bridgedBaseline(ns);
    let a = await startAgent(t, { ns, graceSecs: 600, acl: 'allow user root all\n' });
    const c = await heldClient(a, hold);
    const macvtaps: string[] = [];
    for (const name of ['g1', 'g2', 'g3']) {
      macvtaps.push(...(await prepareThree(c, name)).filter((d) => d.startsWith('macvtap')));
      await c.request('release', { name });
    }
    // The worker took g1 alone (its batch waits on the hold file), then g2 and g3 together.
    t.equal(agentQueue(a).length, 3, 'three deletions queued');
    const groups = () =>
      new Set(
        ipLinks(ns)
          .filter((l) => macvtaps.includes(l.ifname))
          .map((l) => l.group),
      );
    t.equal(groups().size, 3, 'each domain made its macvtaps in a group of its own');
    pause.on();
    hold.off();
    await until("g2's and g3's links are moved into one group", () => groups().size === 1);
    c.close();
    a.proc.kill('SIGKILL');
    t.equal((await exitOf(a)).signal, 'SIGKILL', 'the agent is killed between the move and the group delete');
    t.same(
      names(ns).filter((d) => macvtaps.includes(d)),
      macvtaps.slice(2).sort(),
      "g2's and g3's macvtaps outlive it (g1's went alone)",
    );
    t.equal(groups().size, 1, 'in one group');
    pause.off();
    a = await a.restart();
    t.same(names(ns), baseline, "before it serves, every device is gone: the group they were moved into is a queued domain's");
    t.same(agentQueue(a), [], 'no entry left in the queue');
    t.same(agentRecords(a), [], 'no record left');
  });
});

t.test('SIGTERM drains the deletion queue before the agent exits', { skip: needsRoot }, async (t) => {
  const hold = holdWorker(t);
  await withNetns(t, async (ns) => {
    const baseline = names(ns);
    const a = await startAgent(t, { ns, acl: 'allow user root all\n' });
    const c = await AgentClient.connect(a.socket);
    hold.on();
    const r = await c.request<{ interfaces: { dev: string }[] }>('prepare', { xml: domainXml('s', [directIface('v0', 'bridge')]) });
    closeFds(r.fds);
    await c.request('release', { name: 's' });
    c.close();
    const exit = exitOf(a);
    a.proc.kill('SIGTERM');
    // The agent waits for the held worker rather than exiting with the deletion pending.
    await new Promise((res) => setTimeout(res, 300));
    t.equal(a.proc.exitCode, null, 'still running while its queue is not empty');
    hold.off();
    t.same(await exit, { code: 0, signal: null }, 'then exits 0');
    t.same(names(ns), baseline, 'with the devices deleted');
    t.same(agentQueue(a), [], 'and the queue empty');
  });
});

t.test('a queued deletion that fails stays queued and counted; the next start tries again', { skip: needsRoot }, async (t) => {
  const hold = holdWorker(t);
  await withNetns(t, async (ns) => {
    const baseline = names(ns);
    let a = await startAgent(t, { ns, acl: 'allow user root all\nlimit user root domains 1\n' });
    const c = await AgentClient.connect(a.socket);
    hold.on();
    const r = await c.request<{ interfaces: { dev: string }[] }>('prepare', { xml: domainXml('f', [directIface('v0', 'bridge')]) });
    closeFds(r.fds);
    const dev = r.result.interfaces[0].dev;
    // An attach changes the live XML, so the release's teardown reads it
    // from the journal (it keeps a prepare's own interfaces otherwise).
    const at = await c.request<{ targetDev: string }>('attach', { name: 'f', xml: directIface('v0', 'bridge') });
    closeFds(at.fds);
    await c.request('release', { name: 'f' });
    const [entry] = agentQueue(a);
    const live = path.join(a.stateDir, 'agent', 'queue', entry, 'f.xml');
    const text = fs.readFileSync(live, 'utf8');
    fs.writeFileSync(live, '<domain'); // unreadable: its teardown fails
    hold.off();
    await until('the deletion fails', () => /deleting the devices of released f failed; it stays queued for the next start/.test(a.log()));
    t.same(agentQueue(a), [entry], 'the entry stays');
    t.ok(names(ns).includes(dev) && names(ns).includes(at.result.targetDev), `${dev} and ${at.result.targetDev} are not deleted`);
    await t.rejects(c.request('prepare', { xml: domainXml('g', [directIface('v0', 'bridge')]) }), { code: 'LIMIT_EXCEEDED', field: 'domains' }, 'and still counts against the limit');
    c.close();
    fs.writeFileSync(live, text);
    a.proc.kill('SIGTERM');
    t.same(await exitOf(a), { code: 0, signal: null }, 'SIGTERM does not wait for a failed deletion');
    a = await a.restart();
    t.same(agentQueue(a), [], 'the next start finished it');
    t.same(names(ns), baseline, 'its devices are gone');
  });
});

t.test('a release takes no domain lock: it answers while another holds it, and a record-pci waiting for it then writes nothing back', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    bridge(ns);
    const baseline = names(ns);
    const a = await startAgent(t, { ns, acl: 'allow user root all\n' });
    const c = await AgentClient.connect(a.socket);
    const r = await c.request('prepare', { xml: domainXml('l', [directIface('v0', 'bridge')]) });
    closeFds(r.fds);
    const scope = path.join(a.stateDir, 'agent', '0');
    const held = await FileLock.lock(path.join(scope, 'l.lock'), { timeoutMs: 5000 });
    if (!held) throw new Error('cannot take l.lock');
    // record-pci reads the live XML, then waits here for the lock to write it back.
    const pci = c.request<{ liveXml: string | null }>('record-pci', { name: 'l', addresses: ['net0=00:05.0'] });
    await until('record-pci waits for the lock', () => waitsFor(path.join(scope, 'l.lock')));
    t.same((await c.request('release', { name: 'l' })).result, { name: 'l' }, 'the release answers while the lock is held');
    t.same(agentRecords(a), [], 'the record is in the deletion queue');
    held.unlock();
    t.same((await pci).result, { name: 'l', liveXml: null }, 'record-pci, let in, finds the domain gone');
    t.notOk(fs.existsSync(path.join(scope, 'l.xml')), 'and wrote no live XML back into the scope');
    await until('its devices are deleted', () => agentQueue(a).length === 0 && names(ns).join() === baseline.join());
    const again = await c.request('prepare', { xml: domainXml('l', [directIface('v0', 'bridge')]) });
    closeFds(again.fds);
    t.match(again.result, { name: 'l' }, 'the name is prepared again');
    await c.request('release', { name: 'l' });
    await until('nothing left', () => agentQueue(a).length === 0 && names(ns).join() === baseline.join());
    c.close();
  });
});
