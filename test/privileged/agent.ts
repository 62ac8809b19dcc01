// The host agent on real devices, each test in a namespace of its own:
// users made by the test get (or are refused) devices through the ACL;
// clients that die lose their devices after the grace period; the agent
// SIGKILLed at random points of 200 prepare/release cycles leaks nothing and
// loses nothing; hostile frames never disturb a well-behaved client.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { AgentClient } from '../../lib/agent/client';
import { encodeRequest, MAX_REQUEST } from '../../lib/agent/protocol';
import { native } from '../../lib/sys/native';
import { recvFds } from '../../lib/sys/fdpass';
import {
  agentLiveFiles,
  agentLivePath,
  agentQueue,
  agentRecords,
  bridgeIface,
  directIface,
  domainXml,
  holdAs,
  killClient,
  runAs,
  sleep,
  startAgent,
  warmSockets,
  testUser,
  until,
} from '../helpers/agent';
import { CLI } from '../helpers/e2e';
import { ip, ipLinks, needsRoot, withNetns } from '../helpers/host';

// The socket class's once-per-process state exists from here on: the fd
// baseline of every test below.
warmSockets();

const names = (ns: string): string[] =>
  ipLinks(ns)
    .map((l) => l.ifname)
    .sort();

const records = agentRecords;
const liveFiles = agentLiveFiles;

function bridges(ns: string, ...brs: string[]): void {
  for (const br of brs) {
    ip(['-n', ns, 'link', 'add', br, 'type', 'bridge']);
    ip(['-n', ns, 'link', 'set', br, 'up']);
  }
}

const master = (ns: string, dev: string): string | undefined => {
  const l = ipLinks(ns).find((x) => x.ifname === dev);
  return l?.master;
};

t.test('users made by the test: a tap on the allowed bridge, refusals naming the rule, only their own domains', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    bridges(ns, 'br0', 'br1');
    const alice = testUser(t, 'a');
    const bob = testUser(t, 'b');
    const a = await startAgent(t, {
      ns,
      graceSecs: 1,
      acl: [`allow user ${alice.name} bridge br0`, `deny user ${alice.name} bridge br1`, `allow user ${bob.name} bridge br*`, 'allow user root bridge br0', `limit user ${bob.name} interfaces 1`].join(
        '\n',
      ),
    });
    const bobs = await holdAs(t, bob, a.socket, [{ op: 'prepare', args: { xml: domainXml('bob1', [bridgeIface('br1')]) } }]);
    t.equal(bobs.replies[0].ok, true, 'bob gets a tap on br1 (allow user bob bridge br*)');
    const bobLimit = runAs(bob, a.socket, [{ op: 'prepare', args: { xml: domainXml('bob2', [bridgeIface('br0')]) } }])[0];
    t.match(
      bobLimit.error,
      { code: 'LIMIT_EXCEEDED', rule: new RegExp(`^limit user ${bob.name} interfaces 1 \\(.*acl.conf:5\\)$`) },
      'bob holds one interface already: his limit refuses a second, naming the rule',
    );

    // A record of alice's that the agent does not hold (as a failed recovery leaves one): its name is taken.
    const stale = path.join(path.dirname(agentLivePath(a, alice.uid, 'alice3')), 'alice3.json');
    fs.mkdirSync(path.dirname(stale), { recursive: true, mode: 0o700 });
    fs.writeFileSync(stale, 'left by a recovery that failed\n');
    const alices = await holdAs(t, alice, a.socket, [
      { op: 'hello' },
      { op: 'prepare', args: { xml: domainXml('alice1', [bridgeIface('br0')]) } },
      { op: 'prepare', args: { xml: domainXml('alice2', [bridgeIface('br1')]) } },
      { op: 'release', args: { name: 'bob1' } },
      { op: 'dumpxml', args: { name: 'bob1' } },
      { op: 'list' },
      { op: 'prepare', args: { xml: domainXml('alice1', [bridgeIface('br0')]) } },
      { op: 'prepare', args: { xml: domainXml('alice3', [bridgeIface('br0')]) } },
    ]);
    const [hello, ok, br1, releaseBob, dumpBob, list, again, taken] = alices.replies;
    t.match(hello.result, { uid: alice.uid, gid: alice.gid, user: alice.name }, 'SO_PEERCRED names alice');
    t.equal(ok.ok, true, 'alice gets a tap on br0');
    t.equal(ok.fds, 1, 'one tap fd came with the reply');
    const tap = ok.result.interfaces[0].dev as string;
    t.equal(master(ns, tap), 'br0', `${tap} exists in the namespace, on br0`);
    t.match(ok.result.argv.join(' '), /-netdev tap,id=hostnet0,fd=3,vhost=off/, 'the qemu argv numbers the fd as the client will place it');
    t.match(
      br1.error,
      { code: 'ACCESS_DENIED', rule: new RegExp(`^deny user ${alice.name} bridge br1 \\(.*acl.conf:2\\)$`), field: '/domain/devices/interface', value: 'br1' },
      'br1 is refused by the deny rule, named',
    );
    t.match(releaseBob.error, { code: 'ENOENT', field: 'args.name', value: 'bob1' }, "alice cannot release bob's domain");
    t.match(dumpBob.error, { code: 'ENOENT' }, 'nor read it');
    t.same(
      list.result.map((d: { name: string }) => d.name),
      ['alice1'],
      'alice lists only her own domain',
    );
    t.ok(fs.existsSync(agentLivePath(a, bob.uid, 'bob1')), "bob's domain is untouched");
    t.match(again.error, { code: 'EEXIST', field: 'name', value: 'alice1' }, 'alice1 again: already prepared, named');
    t.match(taken.error, { code: 'EEXIST', field: 'name', value: 'alice3' }, 'alice3 over a record the agent does not hold: refused as already prepared');
    t.equal(fs.readFileSync(stale, 'utf8'), 'left by a recovery that failed\n', 'that record is left as it was');
    t.notOk(fs.existsSync(agentLivePath(a, alice.uid, 'alice3')), 'and no live XML was made for alice3');
    fs.rmSync(stale);

    const root = runAs(null, a.socket, [
      { op: 'prepare', args: { xml: domainXml('root1', [bridgeIface('br1')]) } },
      { op: 'net-list' },
      { op: 'net-define', args: { xml: "<network><name>n</name><forward mode='bridge'><interface dev='v0'/></forward></network>" } },
    ]);
    t.match(root[0].error, { code: 'ACCESS_DENIED', rule: 'default deny' }, 'root is refused what the ACL does not grant');
    t.match(root[0].error?.message, /no rule allows user root \(uid 0\) bridge br1/);
    t.match(root[2].error, { code: 'ACCESS_DENIED', field: 'op', value: 'net-define' }, 'network administration needs `all`');
    t.match(a.log(), new RegExp(`"uid":${alice.uid}.*"code":"ACCESS_DENIED".*"rule":"deny user ${alice.name} bridge br1`), "the refusal is logged with alice's uid and the rule");

    // Alice's client dies: after the grace period her domain is released; bob's stays.
    await killClient(alices.proc);
    await until('alice1 released and its devices deleted', () => !fs.existsSync(agentLivePath(a, alice.uid, 'alice1')) && agentQueue(a).length === 0);
    t.notOk(names(ns).includes(tap), `${tap} is gone`);
    t.same(records(a), [`${bob.uid}/bob1`], "only bob's record is left");
    await killClient(bobs.proc);
    await until('bob1 released and its devices deleted', () => records(a).length === 0 && agentQueue(a).length === 0);
    t.same(names(ns), ['br0', 'br1', 'lo', 'v0', 'v1'], 'nothing left in the namespace');
  });
});

t.test('a client killed mid-session loses its macvtap after the grace period; one that reconnects and claims keeps it', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const u = testUser(t, 'm');
    const a = await startAgent(t, { ns, graceSecs: 1.5, acl: `allow user ${u.name} dev v0\nallow user ${u.name} mode bridge\n` });
    const before = names(ns);
    const c1 = await holdAs(t, u, a.socket, [{ op: 'prepare', args: { xml: domainXml('m1', [directIface('v0', 'bridge')]) } }]);
    t.equal(c1.replies[0].ok, true, 'a macvtap on v0 in bridge mode');
    const mvt = c1.replies[0].result.interfaces[0].dev as string;
    t.ok(names(ns).includes(mvt), `${mvt} exists`);
    const killedAt = Date.now();
    await killClient(c1.proc);
    await sleep(500);
    t.ok(names(ns).includes(mvt), 'still there within the grace period');
    // The link goes first, then the live XML, then the record.
    await until(`${mvt} released`, () => !names(ns).includes(mvt) && records(a).length === 0);
    t.ok(Date.now() - killedAt >= 1400, 'removed only after the grace period');
    t.same(names(ns), before, 'the namespace is as before');
    t.same(records(a), [], 'no record left');
    t.same(liveFiles(a), [], 'no live XML left');

    const c2 = await holdAs(t, u, a.socket, [{ op: 'prepare', args: { xml: domainXml('m2', [directIface('v0', 'bridge')]) } }]);
    const mvt2 = c2.replies[0].result.interfaces[0].dev as string;
    await killClient(c2.proc);
    const claim = runAs(u, a.socket, [{ op: 'claim', args: { name: 'm2' } }]);
    t.equal(claim[0].ok, true, 'a new connection of the same user claims m2');
    // The claiming client exited right away: m2 is unclaimed again, so the grace period starts over.
    const c3 = await holdAs(t, u, a.socket, [{ op: 'claim', args: { name: 'm2' } }]);
    t.equal(c3.replies[0].ok, true);
    await sleep(2500);
    t.ok(names(ns).includes(mvt2), `${mvt2} kept: its owner claimed it`);
    const rel = runAs(u, a.socket, [{ op: 'release', args: { name: 'm2' } }]);
    t.equal(rel[0].ok, true, 'released by its owner');
    t.same(names(ns), before, 'gone');
    await killClient(c3.proc);
  });
});

t.test('SIGKILL at random points of 200 prepare/release cycles, restarted each time: no leaked links, no lost records', { skip: needsRoot, timeout: 240_000 }, async (t) => {
  await withNetns(t, async (ns) => {
    bridges(ns, 'br0');
    const baseline = names(ns);
    let a = await startAgent(t, { ns, graceSecs: 600, acl: 'allow user root all\n' });
    let client = await AgentClient.connect(a.socket);
    let seed = 0x9e3779b9;
    const rand = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x100000000;
    };
    /** Domains whose prepare was answered and whose release was never sent: the agent must still have them. */
    const mine = new Map<string, number[]>();
    const closeFds = (fds: number[]) => fds.forEach((fd) => native().close(fd));
    let kills = 0;
    let lost = 0;
    let leaked = 0;
    /** Restarts that found deletions queued by the agent killed (and finished them before serving). */
    let finished = 0;
    for (let i = 0; i < 200; i++) {
      const name = `k${i}`;
      const kill = rand() < 0.3;
      const timer = kill ? setTimeout(() => a.proc.kill('SIGKILL'), rand() * 25) : undefined;
      let releaseSent = false;
      try {
        const r = await client.request('prepare', { xml: domainXml(name, [bridgeIface('br0'), directIface('v0', 'bridge')]) });
        mine.set(name, r.fds);
        releaseSent = true;
        await client.request('release', { name });
        closeFds(mine.get(name) ?? []);
        mine.delete(name);
      } catch {
        // the agent died under the request
      }
      clearTimeout(timer);
      if (releaseSent && mine.has(name)) {
        // Released or not, both are fine: forget it once the agent is back.
        closeFds(mine.get(name) ?? []);
        mine.delete(name);
      }
      if (!kill) continue;
      if (a.proc.exitCode === null && a.proc.signalCode === null) a.proc.kill('SIGKILL');
      await new Promise((r) => (a.proc.exitCode !== null || a.proc.signalCode !== null ? r(null) : a.proc.once('exit', r)));
      kills++;
      client.close();
      a = await a.restart();
      if (a.log().includes('finishing the deletions queued before the restart')) finished++;
      client = await AgentClient.connect(a.socket);
      const listed = new Set((await client.request<{ name: string }[]>('list')).result.map((d) => d.name));
      for (const n of mine.keys()) if (!listed.has(n)) lost++;
      // Every link beyond the baseline must belong to a recorded domain.
      const recorded = new Set<string>();
      for (const n of listed) for (const m of fs.readFileSync(agentLivePath(a, 0, n), 'utf8').matchAll(/<target dev="([^"]+)"/g)) recorded.add(m[1]);
      leaked += names(ns).filter((l) => !baseline.includes(l) && !recorded.has(l)).length;
      for (const n of listed) {
        await client.request('claim', { name: n });
        await client.request('release', { name: n });
        closeFds(mine.get(n) ?? []);
        mine.delete(n);
      }
      // Releases return at once; the deletion queue deletes the devices after.
      await until('the deletion queue is empty', () => agentQueue(a).length === 0);
      t.same(names(ns), baseline, `after kill ${kills} (cycle ${i}) and the owner's release, the namespace is back to its baseline`);
    }
    client.close();
    await until('the deletion queue is empty', () => agentQueue(a).length === 0);
    t.ok(kills >= 30, `the agent was killed ${kills} times`);
    t.comment(`${finished} of the ${kills} restarts finished deletions the killed agent had queued`);
    t.equal(lost, 0, 'no domain whose prepare was answered was ever lost');
    t.equal(leaked, 0, 'no link was ever left without a record');
    t.same(names(ns), baseline, 'nothing leaked at the end');
    t.same(records(a), [], 'no record left');
    t.same(liveFiles(a), [], 'no live XML left');
    t.same(agentQueue(a), [], 'no queued deletion left');
  });
});

/** Raw frames on a connection of their own; replies read with a timeout. */
async function rawConnection(socket: string) {
  const fd = await native().unixConnect(socket);
  const send = async (data: Buffer, fds: number[] = []) => {
    for (let i = 0; native().sendNow(fd, data, fds) < 0; i++) {
      if (i > 200) throw new Error('the agent does not read');
      await sleep(5);
    }
  };
  const recv = async () => JSON.parse((await recvFds(fd, 1 << 20, 16, 5000)).data.toString()) as { id: number | null; ok: boolean; error?: { code: string; field?: string } };
  return { fd, send, recv, close: () => native().close(fd) };
}

const agentFds = (pid: number): number => fs.readdirSync(`/proc/${pid}/fd`).length;

t.test('hostile frames get error replies and never disturb a well-behaved client', { skip: needsRoot, timeout: 120_000 }, async (t) => {
  await withNetns(t, async (ns) => {
    bridges(ns, 'br0');
    const baseline = names(ns);
    const a = await startAgent(t, { ns, acl: 'allow user root bridge br0\n' });
    const pid = a.proc.pid as number;
    const good = await AgentClient.connect(a.socket);
    await good.request('hello');
    const fdsBefore = agentFds(pid);

    // The well-behaved client works throughout.
    let goodDone = 0;
    const goodWork = (async () => {
      for (let i = 0; i < 40; i++) {
        const r = await good.request('prepare', { xml: domainXml(`g${i}`, [bridgeIface('br0')]) });
        await good.request('release', { name: `g${i}` });
        r.fds.forEach((fd) => native().close(fd));
        goodDone++;
      }
    })();

    const raw = await rawConnection(a.socket);
    const expect = async (data: Buffer, code: string, what: string, fds: number[] = []) => {
      await raw.send(data, fds);
      const r = await raw.recv();
      t.equal(r.ok, false, what);
      t.equal(r.error?.code, code, `${what}: ${code}`);
    };
    await expect(Buffer.from('not json'), 'BAD_REQUEST', 'garbage');
    await expect(Buffer.from(JSON.stringify({ v: 2, id: 1, op: 'hello' })), 'UNSUPPORTED_VERSION', 'protocol version 2');
    await expect(Buffer.from(JSON.stringify({ v: 1, id: 1, op: 'rm -rf' })), 'UNKNOWN_OP', 'an unknown operation');
    await expect(Buffer.from(JSON.stringify({ v: 1, id: 1, op: 'prepare', args: { xml: 42 } })), 'BAD_REQUEST', 'a wrong type');
    await expect(Buffer.from(JSON.stringify({ v: 1, id: 1, op: 'prepare', args: { xml: '<domain' } })), 'INVALID_XML', 'broken XML');
    await expect(Buffer.alloc(MAX_REQUEST + 1000, 0x20), 'REQUEST_TOO_LARGE', 'a frame over the size limit');
    const devnull = fs.openSync('/dev/null', 'r');
    await expect(encodeRequest(1, 'hello'), 'BAD_REQUEST', 'fds attached where none belong', [devnull, devnull]);
    fs.closeSync(devnull);
    await expect(encodeRequest(1, 'hello').subarray(0, 10), 'BAD_REQUEST', 'a truncated frame');

    // Random and truncated frames from many connections, some closed mid-way.
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let c = 0; c < 20; c++) {
      const f = await rawConnection(a.socket);
      for (let k = 0; k < 20; k++) {
        const valid = encodeRequest(k, 'prepare', { xml: domainXml(`f${c}`, [bridgeIface('br0')]) });
        const frame = rand() < 0.5 ? Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 300) }, () => Math.floor(rand() * 256))) : valid.subarray(0, Math.floor(rand() * (valid.length - 1)) + 1);
        await f.send(frame);
      }
      f.close(); // without reading a single reply
    }
    // A flood without reading replies: bounded, then the agent drops that connection.
    const flood = await rawConnection(a.socket);
    for (let k = 0; k < 150; k++) await flood.send(encodeRequest(k, 'hello')).catch(() => undefined);
    flood.close();

    await goodWork;
    t.equal(goodDone, 40, 'the well-behaved client finished all its cycles');
    t.equal(a.proc.exitCode, null, 'the agent is alive');
    t.same((await good.request('hello')).result, { version: 1, uid: 0, gid: 0, user: 'root', graceMs: 30000 }, 'and answers');
    raw.close();
    await until('the deletion queue is empty', () => agentQueue(a).length === 0);
    await until('the agent closed the hostile connections', () => agentFds(pid) <= fdsBefore, 5000).catch(() => undefined);
    t.ok(agentFds(pid) <= fdsBefore, `the agent's fds are back to ${fdsBefore} (now ${agentFds(pid)})`);
    good.close();
    t.same(names(ns), baseline, 'no device left');
    t.same(records(a), [], 'no record left');
  });
});

t.test('SIGTERM keeps prepared domains recorded; the next agent holds them for their owner; socket activation; autostart networks', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    bridges(ns, 'br0');
    const baseline = names(ns);
    const a = await startAgent(t, { ns, acl: 'allow user root all\n' });
    const c = await AgentClient.connect(a.socket);
    const r = await c.request<{ interfaces: { dev: string }[] }>('prepare', { xml: domainXml('kept', [directIface('v0', 'vepa')]) });
    const dev = r.result.interfaces[0].dev;
    r.fds.forEach((fd) => native().close(fd));
    // A network marked autostart is started by the next agent.
    await c.request('net-define', { xml: "<network><name>auto</name><forward mode='bridge'><interface dev='v1'/></forward></network>" });
    await c.request('net-autostart', { name: 'auto', enable: true });
    const exit = new Promise<number | null>((res) => a.proc.once('exit', (code) => res(code)));
    a.proc.kill('SIGTERM');
    t.equal(await exit, 0, 'the agent exits 0 on SIGTERM');
    c.close();
    t.notOk(fs.existsSync(a.socket), 'its socket is removed');
    t.same(records(a), ['0/kept'], 'the record stays');
    t.ok(names(ns).includes(dev), `${dev} stays`);

    // Socket activation: a listening seqpacket socket as fd 3 with LISTEN_PID/LISTEN_FDS, as
    // systemd passes it (systemd-socket-activate where installed, else the same by hand).
    fs.rmSync(path.join(a.dir, 'agent.log'), { force: true });
    const agentArgs = [CLI, 'agent', '--acl', a.acl, '--state-dir', a.stateDir, '--config-dir', a.configDir, '--netns', ns, '--grace', '30'];
    const haveTool = spawnSync('systemd-socket-activate', ['--help'], { stdio: 'ignore' }).status === 0;
    let activated;
    if (haveTool) activated = spawn('systemd-socket-activate', ['--seqpacket', '-l', a.socket, process.execPath, ...agentArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
    else {
      const lfd = native().unixListen(a.socket);
      activated = spawn('sh', ['-c', 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', 'sh', process.execPath, ...agentArgs], { stdio: ['ignore', 'ignore', 'pipe', lfd] });
      native().close(lfd);
    }
    t.comment(`socket activation by ${haveTool ? 'systemd-socket-activate' : 'hand (systemd-socket-activate is not installed)'}`);
    let log = '';
    activated.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    t.teardown(() => {
      if (activated.exitCode === null) activated.kill('SIGKILL');
    });
    await until('the activation socket', () => fs.existsSync(a.socket));
    const c2 = await AgentClient.connect(a.socket);
    t.match((await c2.request('hello')).result, { version: 1, uid: 0 }, 'the socket-activated agent answers');
    t.match(log, /"socket":"fd 3"/, 'it took the socket systemd passed (fd 3)');
    t.match(log, /holding a prepared domain for its owner to claim/, 'it holds the recorded domain');
    const listed = (await c2.request<{ name: string; state: string }[]>('list')).result;
    t.same(
      listed.map((d) => [d.name, d.state]),
      [['kept', 'unclaimed']],
      'listed as unclaimed',
    );
    t.match((await c2.request<{ rows: { name: string; active: boolean }[] }>('net-list')).result.rows, [{ name: 'auto', active: true }], 'the autostart network was started');
    await c2.request('claim', { name: 'kept' });
    await c2.request('release', { name: 'kept' });
    await c2.request('net-destroy', { name: 'auto' });
    await until('the deletion queue is empty', () => agentQueue(a).length === 0);
    t.same(names(ns), baseline, `${dev} released`);
    c2.close();
    const exit2 = new Promise((res) => activated.once('exit', res));
    activated.kill('SIGTERM');
    await exit2;
  });
});

t.test('a limit holds under concurrent requests: 6 prepares at once with room for 2', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    bridges(ns, 'br0');
    const baseline = names(ns);
    const a = await startAgent(t, { ns, acl: 'allow user root bridge br0\nlimit user root interfaces 2\n' });
    const c = await AgentClient.connect(a.socket);
    const results = await Promise.allSettled([0, 1, 2, 3, 4, 5].map((i) => c.request('prepare', { xml: domainXml(`l${i}`, [bridgeIface('br0')]) })));
    const ok = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ fds: number[] }>[];
    const refused = results.filter((r) => r.status === 'rejected').map((r) => ((r as PromiseRejectedResult).reason as { code: string }).code);
    t.equal(ok.length, 2, 'two prepared');
    t.same(refused, ['LIMIT_EXCEEDED', 'LIMIT_EXCEEDED', 'LIMIT_EXCEEDED', 'LIMIT_EXCEEDED'], 'four refused by the limit');
    for (const r of ok) r.value.fds.forEach((fd) => native().close(fd));
    for (const d of (await c.request<{ name: string }[]>('list')).result) await c.request('release', { name: d.name });
    c.close();
    await until('the deletion queue is empty', () => agentQueue(a).length === 0);
    t.same(names(ns), baseline, 'all released');
  });
});
