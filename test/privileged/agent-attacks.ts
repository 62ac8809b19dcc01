// The host agent against local users who do not trust each other (issue 14):
// each test is an attack by a user the test makes, talking to a real
// `netfd agent` in a scratch namespace, and asserts what must hold instead.
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { AgentClient } from '../../lib/agent/client';
import { agentLivePath, agentQueue, agentRecords, bridgeIface, directIface, domainXml, holdAs, killClient, runAs, startAgent, testUser, until, warmSockets } from '../helpers/agent';
import { ip, ipLink, ipLinks, needsRoot, withNetns } from '../helpers/host';
import { asUser, readablePath } from '../helpers/readable';

// The socket class's once-per-process state exists from here on: the fd
// baseline of every test below.
warmSockets();

const names = (ns: string): string[] =>
  ipLinks(ns)
    .map((l) => l.ifname)
    .sort();
const bridge = (ns: string, br: string, mac?: string) => {
  ip(['-n', ns, 'link', 'add', br, ...(mac ? ['address', mac] : []), 'type', 'bridge']);
  ip(['-n', ns, 'link', 'set', br, 'up']);
};
const withMac = (xml: string, mac: string) => xml.replace('<model', `<mac address='${mac}'/><model`);

t.test("1. names: X.inactive cannot reach X, users cannot squat or see each other's names", { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    bridge(ns, 'br0', '02:00:00:00:b0:00');
    const bob = testUser(t, 'b');
    const eve = testUser(t, 'e');
    const a = await startAgent(t, { ns, acl: `allow user ${bob.name} bridge br0\nallow user ${eve.name} bridge br0\n` });
    // Eve names her domains first: the victim's name, and its .inactive twin.
    const eves = await holdAs(t, eve, a.socket, [
      { op: 'prepare', args: { xml: domainXml('vm1.inactive', [bridgeIface('br0')]) } },
      { op: 'prepare', args: { xml: domainXml('vm1', [bridgeIface('br0')]) } },
    ]);
    t.same(
      eves.replies.map((r) => r.ok),
      [true, true],
      'eve may name hers vm1 and vm1.inactive: in her own scope',
    );
    const bobs = await holdAs(t, bob, a.socket, [
      { op: 'prepare', args: { xml: domainXml('vm1', [withMac(bridgeIface('br0'), '52:54:00:00:0b:01')]).replace('</devices>', "</devices><description>bob's secret</description>") } },
    ]);
    t.equal(bobs.replies[0].ok, true, 'bob still gets vm1: eve did not squat the name');
    const bobTap = bobs.replies[0].result.interfaces[0].dev as string;

    const seen = runAs(eve, a.socket, [
      { op: 'dumpxml', args: { name: 'vm1.inactive' } },
      { op: 'dumpxml', args: { name: 'vm1', inactive: true } },
      { op: 'list' },
      { op: 'release', args: { name: 'vm1' } },
      { op: 'release', args: { name: 'vm1.inactive' } },
    ]);
    t.notMatch(JSON.stringify(seen), /bob's secret/, "no reply to eve holds bob's XML");
    t.match(seen[0].result.xml, /<name>vm1\.inactive<\/name>/, 'vm1.inactive is her own domain');
    t.match(seen[1].result.xml, /<name>vm1<\/name>/, 'and so is vm1');
    t.equal(seen[1].result.xml, domainXml('vm1', [bridgeIface('br0')]), '--inactive: exactly the XML she wrote (her record holds it)');
    t.notOk(fs.existsSync(path.join(path.dirname(agentLivePath(a, eve.uid, 'vm1')), 'vm1.inactive')), 'no inactive copy beside the record');
    t.same(
      seen[2].result.map((d: { name: string }) => d.name),
      ['vm1', 'vm1.inactive'],
      'she lists only hers',
    );
    t.same([seen[3].ok, seen[4].ok], [true, true], 'she releases hers');
    t.ok(names(ns).includes(bobTap), `bob's ${bobTap} is still there`);
    t.match(fs.readFileSync(agentLivePath(a, bob.uid, 'vm1'), 'utf8'), /bob's secret|<name>vm1/, "bob's live XML is untouched");
    const bobSees = runAs(bob, a.socket, [{ op: 'list' }, { op: 'dumpxml', args: { name: 'vm1.inactive' } }]);
    t.same(
      bobSees[0].result.map((d: { name: string }) => d.name),
      ['vm1'],
      "bob does not learn eve's names",
    );
    t.match(bobSees[1].error, { code: 'ENOENT' });
    t.same(agentRecords(a), [`${bob.uid}/vm1`], "one record left, in bob's scope");
    await killClient(eves.proc);
    await killClient(bobs.proc);
  });
});

t.test('2. fds cannot make a device escape release: MAC, persist, owner changed through the fd; limits count what exists; unfixed bridges warned about', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    bridge(ns, 'br0');
    bridge(ns, 'br1', '02:00:00:00:b1:00');
    const baseline = names(ns);
    const eve = testUser(t, 'e');
    const a = await startAgent(t, {
      ns,
      graceSecs: 1,
      acl: `allow user ${eve.name} bridge br*\nallow user ${eve.name} dev v0\nallow user ${eve.name} mode bridge\nlimit user ${eve.name} interfaces 2\n`,
    });
    await until('the bridge check is logged', () => /bridge br0 has no fixed MAC/.test(a.log()));
    t.notMatch(a.log(), /bridge br1 has no fixed MAC/, 'br1 has a fixed MAC: no warning');

    const xml = domainXml('esc', [bridgeIface('br0'), directIface('v0', 'bridge')]);
    const abuse = asUser(eve, [process.execPath, readablePath('test', 'helpers', 'agent-fd-abuse.js'), a.socket, xml, '02:00:00:00:00:01', '02:00:00:00:00:02']);
    const proc = spawn(abuse.file, abuse.args, { ...abuse.options, stdio: ['ignore', 'pipe', 'inherit'] });
    t.teardown(() => proc.kill('SIGKILL'));
    let out = '';
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('HOLDING\n')) resolve();
      });
      proc.once('exit', (c) => reject(new Error(`abuse client exited ${c}: ${out}`)));
    });
    const lines = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    const [tap, mvt] = [lines[1], lines[2]];
    t.equal(tap.ioctls, 'SIOCSIFHWADDR TUNSETPERSIST TUNSETOWNER TUNSETGROUP', `through the tap fd alone: ${tap.ioctls}`);
    t.match(mvt.ioctls, /^SIOCSIFHWADDR$/, `through the macvtap fd alone: ${mvt.ioctls}`);
    const tapNow = ipLink(ns, tap.dev);
    t.equal(tapNow.address, '02:00:00:00:00:01', `${tap.dev} now has the attacker's MAC`);
    t.equal((tapNow.linkinfo?.info_data as { pi?: boolean; persist?: boolean; user?: string })?.user, eve.name, `${tap.dev} now belongs to ${eve.name}`);
    t.equal(ipLink(ns, mvt.dev).address, '02:00:00:00:00:02', `${mvt.dev} has a new MAC`);

    const over = runAs(eve, a.socket, [{ op: 'prepare', args: { xml: domainXml('more', [bridgeIface('br1')]) } }]);
    t.match(over[0].error, { code: 'LIMIT_EXCEEDED', field: 'interfaces', rule: new RegExp(`^limit user ${eve.name} interfaces 2`) }, 'the limit counts the two altered devices, which still exist');

    proc.kill('SIGKILL');
    await until('the grace period releases them and their devices are deleted', () => agentRecords(a).length === 0 && agentQueue(a).length === 0);
    t.same(names(ns), baseline, 'both devices are gone whatever their MAC, owner or persist flag');
    t.same(runAs(eve, a.socket, [{ op: 'prepare', args: { xml: domainXml('more', [bridgeIface('br1')]) } }])[0].ok, true, 'and the limit has room again');
    await until('released again', () => agentRecords(a).length === 0 && agentQueue(a).length === 0);
  });
});

t.test("3. a stale record never touches another user's device: same name and host MAC, another ifindex; recovery never goes by MAC", { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    bridge(ns, 'br0', '02:00:00:00:b0:00');
    const alice = testUser(t, 'a');
    const bob = testUser(t, 'b');
    const a = await startAgent(t, {
      ns,
      acl: `allow user ${alice.name} bridge br0\nallow user ${bob.name} bridge br0\nallow user ${alice.name} dev v0\nallow user ${alice.name} mode bridge\nallow user ${bob.name} dev v0\nallow user ${bob.name} mode bridge\n`,
    });
    // Alice's tap vanishes (the agent keeps a copy of its fd until release, so
    // it is deleted here by hand), her record stays.
    const al = await holdAs(t, alice, a.socket, [{ op: 'prepare', args: { xml: domainXml('a1', [withMac(bridgeIface('br0'), '52:54:00:aa:bb:cc')]) } }]);
    const dev = al.replies[0].result.interfaces[0].dev as string;
    await killClient(al.proc); // the record waits for the grace period (30 s)
    ip(['-n', ns, 'link', 'del', 'dev', dev]);
    await until(`${dev} gone`, () => !names(ns).includes(dev));
    // Bob gets the same name and the same host MAC (02:54:… and 52:54:… both give fe:54:…).
    const bo = await holdAs(t, bob, a.socket, [{ op: 'prepare', args: { xml: domainXml('b1', [withMac(bridgeIface('br0'), '02:54:00:aa:bb:cc')]) } }]);
    t.equal(bo.replies[0].result.interfaces[0].dev, dev, `bob's tap has the reused name ${dev}`);
    t.equal(ipLink(ns, dev).address, 'fe:54:00:aa:bb:cc', 'and the same host MAC');
    const rel = runAs(alice, a.socket, [
      { op: 'claim', args: { name: 'a1' } },
      { op: 'release', args: { name: 'a1' } },
    ]);
    t.same(
      rel.map((r) => r.ok),
      [true, true],
      'alice releases her stale domain',
    );
    await until('the deletion queue is empty', () => agentQueue(a).length === 0);
    t.ok(names(ns).includes(dev), `bob's ${dev} is untouched`);

    // A forged half-made record naming bob's macvtap MAC: recovery goes by the record's link group, never by MAC.
    const bm = await holdAs(t, bob, a.socket, [{ op: 'prepare', args: { xml: domainXml('b2', [withMac(directIface('v0', 'bridge'), '52:54:00:00:00:77')]) } }]);
    const bobMvt = bm.replies[0].result.interfaces[0].dev as string;
    a.proc.kill('SIGKILL');
    await new Promise((r) => a.proc.once('exit', r));
    const scope = path.join(a.stateDir, 'agent', String(alice.uid));
    fs.mkdirSync(scope, { recursive: true });
    const forged = {
      name: 'half',
      uid: alice.uid,
      gid: alice.gid,
      pid: 1,
      state: 'preparing',
      xml: domainXml('half', [withMac(directIface('v0', 'bridge'), '52:54:00:00:00:77')]),
      macs: [{ mac: '52:54:00:00:00:77', generated: false }],
      group: 0x2345678,
      devices: [],
      interfaces: 1,
      since: new Date().toISOString(),
    };
    fs.writeFileSync(path.join(scope, 'half.json'), JSON.stringify(forged));
    const b = await a.restart();
    t.match(b.log(), /removed a half-prepared domain/, 'the half-made record was recovered');
    t.ok(names(ns).includes(bobMvt), `bob's ${bobMvt}, with the recorded MAC on the recorded parent, survives the recovery`);
    t.notOk(agentRecords(b).includes(`${alice.uid}/half`), 'the forged record is gone');
    await killClient(bo.proc);
    await killClient(bm.proc);
  });
});

t.test('4. every state-creating request is authorised and counted: no interfaces, domains, bytes of state', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    bridge(ns, 'br0', '02:00:00:00:b0:00');
    const eve = testUser(t, 'e');
    const mal = testUser(t, 'm');
    const a = await startAgent(t, { ns, acl: `deny user ${mal.name} all\nallow user ${eve.name} bridge br0\nlimit user ${eve.name} domains 2\nlimit user ${eve.name} state 24K\n` });
    const empty = "<domain type='qemu'><name>e0</name><memory unit='MiB'>64</memory><devices></devices></domain>";
    const m = runAs(mal, a.socket, [
      { op: 'prepare', args: { xml: empty } },
      { op: 'prepare', args: { xml: domainXml('m1', [bridgeIface('br0')]) } },
    ]);
    t.match(m[0].error, { code: 'ACCESS_DENIED', field: 'args.xml', rule: new RegExp(`^deny user ${mal.name} all`) }, 'deny ... all refuses a domain with no interface too, before its XML is read');
    t.match(m[1].error, { code: 'ACCESS_DENIED', rule: new RegExp(`^deny user ${mal.name} all`) }, 'and one with an interface');
    const pad = (n: number) => `<description>${'x'.repeat(n)}</description>`;
    const e = runAs(eve, a.socket, [
      { op: 'prepare', args: { xml: empty } },
      { op: 'prepare', args: { xml: domainXml('big', [bridgeIface('br0')]).replace('</devices>', `</devices>${pad(12000)}`) } },
      { op: 'prepare', args: { xml: domainXml('d1', [bridgeIface('br0')]) } },
      { op: 'prepare', args: { xml: domainXml('d2', [bridgeIface('br0')]) } },
      { op: 'prepare', args: { xml: domainXml('d3', [bridgeIface('br0')]) } },
    ]);
    t.match(e[0].error, { code: 'INVALID_ARGUMENT', field: '/domain/devices/interface' }, 'a domain with no interface is refused: nothing to ask the agent for');
    t.match(e[1].error, { code: 'LIMIT_EXCEEDED', field: 'state', rule: new RegExp(`^limit user ${eve.name} state 24K`) }, 'bytes of state are bounded');
    t.same([e[2].ok, e[3].ok], [true, true], 'two domains');
    t.match(e[4].error, { code: 'LIMIT_EXCEEDED', field: 'domains', rule: new RegExp(`^limit user ${eve.name} domains 2`) }, 'a third is over the limit');
    t.same(agentRecords(a), [`${eve.uid}/d1`, `${eve.uid}/d2`], 'only the counted domains have state');
    const r = runAs(eve, a.socket, [
      { op: 'release', args: { name: 'd1' } },
      { op: 'release', args: { name: 'd2' } },
    ]);
    t.same(
      r.map((x) => x.ok),
      [true, true],
    );
  });
});

t.test('5. one user cannot take every connection or every request slot; root keeps a share', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const eve = testUser(t, 'e');
    const bob = testUser(t, 'b');
    const a = await startAgent(t, { ns, extraArgs: ['--max-clients', '12', '--reserved-for-root', '2'], acl: `limit user ${eve.name} connections 4\nlimit user ${bob.name} connections 6\n` });
    // Eve opens connections until refused; each refusal names the limit.
    const script = `
      const { native } = require(${JSON.stringify(readablePath('dist', 'sys', 'native'))});
      (async () => {
        const n = Number(process.argv[2]); let ok = 0; const errs = [];
        for (let i = 0; i < n; i++) {
          const fd = await native().unixConnect(process.argv[1]);
          // A refused connection is answered at once: read that before asking anything.
          let first = null;
          for (let k = 0; k < 20 && !first; k++) {
            try { first = native().recvNow(fd, 65536, 0); } catch { break; }
            if (!first) await new Promise((r) => setTimeout(r, 10));
          }
          if (first) { errs.push(first.data.length ? JSON.parse(first.data.toString()).error : null); continue; }
          try { native().sendNow(fd, Buffer.from(JSON.stringify({ v: 1, id: 1, op: 'hello', args: {} }))); } catch {}
          let m = null;
          for (let k = 0; k < 200; k++) {
            try { m = native().recvNow(fd, 65536, 0); } catch { break; }
            if (m) break;
            await new Promise((r) => setTimeout(r, 10));
          }
          const rep = m && m.data.length ? JSON.parse(m.data.toString()) : null;
          if (rep && rep.ok) ok++; else errs.push(rep && rep.error);
        }
        console.log(JSON.stringify({ ok, errs })); setInterval(() => {}, 1 << 30);
      })();`;
    const procs: ChildProcess[] = [];
    const hold = (u: typeof eve | null, n: number) => {
      const argv = [process.execPath, '-e', script, a.socket, String(n)];
      const as = u && asUser(u, argv);
      const p = as ? spawn(as.file, as.args, { ...as.options, stdio: ['ignore', 'pipe', 'inherit'] }) : spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
      t.teardown(() => p.kill('SIGKILL'));
      procs.push(p);
      return new Promise<{ ok: number; errs: { code: string; message: string; rule?: string }[] }>((resolve) => p.stdout.once('data', (d) => resolve(JSON.parse(String(d)))));
    };
    const e = await hold(eve, 10);
    t.equal(e.ok, 4, 'eve gets her 4 connections');
    t.equal(e.errs.length, 6, 'the other 6 are refused');
    t.match(e.errs[0], { code: 'LIMIT_EXCEEDED', rule: new RegExp(`^limit user ${eve.name} connections 4`) }, 'naming her limit');
    const b = await hold(bob, 8);
    t.equal(b.ok, 6, 'bob gets 6: 4 + 6 = 10 = 12 less the 2 kept for root');
    t.match(b.errs[0], { code: 'EAGAIN', message: /keeps the last 2 for root/ }, 'beyond that only root gets in');
    const r = await hold(null, 3);
    t.equal(r.ok, 2, 'root still gets the 2 kept for it');
    t.match(r.errs[0], { code: 'EAGAIN', message: /serves at most 12 connections/ });
    for (const p of procs) await killClient(p);
  });
});

t.test('7. a domain named with a leading dot is recovered after a crash like any other', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const baseline = names(ns);
    const eve = testUser(t, 'e');
    const a = await startAgent(t, { ns, graceSecs: 1, acl: `allow user ${eve.name} dev v0\nallow user ${eve.name} mode bridge\n` });
    const held = await holdAs(t, eve, a.socket, [{ op: 'prepare', args: { xml: domainXml('.hidden', [directIface('v0', 'bridge')]) } }]);
    const mvt = held.replies[0].result.interfaces[0].dev as string;
    a.proc.kill('SIGKILL');
    await new Promise((r) => a.proc.once('exit', r));
    await killClient(held.proc);
    t.ok(names(ns).includes(mvt), `${mvt} outlived the agent`);
    const b = await a.restart();
    t.match(b.log(), /holding a prepared domain for its owner to claim.*|"domain":".hidden"/, 'the restarted agent holds .hidden');
    await until(`${mvt} released after the grace period`, () => !names(ns).includes(mvt) && agentRecords(b).length === 0);
    t.same(names(ns), baseline, 'nothing left');
    t.same(
      runAs(eve, b.socket, [
        { op: 'prepare', args: { xml: domainXml('.hidden', [directIface('v0', 'bridge')]) } },
        { op: 'release', args: { name: '.hidden' } },
      ]).map((r) => r.ok),
      [true, true],
      'and the name is free again',
    );
  });
});

t.test('9. agent users get template names unless a devname rule allows theirs', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    bridge(ns, 'br0', '02:00:00:00:b0:00');
    const eve = testUser(t, 'e');
    const a = await startAgent(t, { ns, acl: `allow user ${eve.name} bridge br0\nallow user ${eve.name} devname vm-eve-*\n` });
    const named = (dev: string) => bridgeIface('br0').replace('<model', `<target dev='${dev}'/><model`);
    const r = runAs(eve, a.socket, [
      { op: 'prepare', args: { xml: domainXml('n1', [named('br1')]) } },
      { op: 'prepare', args: { xml: domainXml('n2', [named('vm-eve-0')]) } },
      { op: 'prepare', args: { xml: domainXml('n3', [bridgeIface('br0')]) } },
    ]);
    t.match(r[0].error, { code: 'ACCESS_DENIED', message: /devname br1/ }, 'a host name such as br1 is refused');
    t.notOk(names(ns).includes('br1'), 'and not made');
    t.equal(r[1].result.interfaces[0].dev, 'vm-eve-0', 'a name the devname rule allows');
    t.match(r[2].result.interfaces[0].dev, /^vnet\d+$/, 'no <target dev>: the vnet%d template');
    t.same(
      runAs(eve, a.socket, [
        { op: 'release', args: { name: 'n2' } },
        { op: 'release', args: { name: 'n3' } },
      ]).map((x) => x.ok),
      [true, true],
    );
  });
});

// Frames that never parse must not cost other users their replies.
t.test('protocol: a refused flood leaves other users served', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const eve = testUser(t, 'e');
    const a = await startAgent(t, { ns, acl: 'allow user root all\n' });
    const script = `
      const { native } = require(${JSON.stringify(readablePath('dist', 'sys', 'native'))});
      const { encodeRequest } = require(${JSON.stringify(readablePath('dist', 'agent', 'protocol'))});
      const frame = encodeRequest(1, 'prepare', { xml: process.argv[2].replace('</devices>', '</devices><description>' + 'y'.repeat(100000) + '</description>') });
      (async () => { for (let c = 0; c < 3; c++) { const fd = await native().unixConnect(process.argv[1]); for (let i = 0; i < 8; i++) try { native().sendNow(fd, frame); } catch {} } console.log('SENT'); setInterval(() => {}, 1 << 30); })();`;
    const flood = asUser(eve, [process.execPath, '-e', script, a.socket, domainXml('x', [bridgeIface('br9')])]);
    const p = spawn(flood.file, flood.args, { ...flood.options, stdio: ['ignore', 'pipe', 'inherit'] });
    t.teardown(() => p.kill('SIGKILL'));
    await new Promise((r) => p.stdout.once('data', r));
    const c = await AgentClient.connect(a.socket);
    for (let i = 0; i < 20; i++) t.equal((await c.request<{ uid: number }>('hello')).result.uid, 0);
    c.close();
    t.equal(a.proc.exitCode, null, 'the agent lives');
    await killClient(p);
  });
});
