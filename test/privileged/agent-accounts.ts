// The agent's ACL names accounts the C library's name service switch knows,
// not only /etc/passwd's: played as an attacker would. The agent runs in a
// private mount namespace whose /etc/nsswitch.conf (bind-mounted over the
// host's, which is never changed) reads `files extrausers`, and whose
// /var/lib/extrausers is a directory of this test (libnss-extrausers; its
// package is installed by scripts/setup.sh). Users and groups written there
// exist for the agent only; the host's getent does not know them.
//   1. a deny rule naming an NSS-only user refuses that user, and only them;
//   2. a deny rule naming an account no source knows refuses everyone it
//      covers, and so does one whose lookup fails (the source is broken);
//   3. group membership known only through NSS (getgrouplist) counts for
//      allow and deny group rules.
// Everything is made in a scratch network namespace and removed at teardown.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { Test } from 'tap';
import { bridgeIface, ClientReply, domainXml, runAs, startAgent, testUser, RunningAgent, TestUser } from '../helpers/agent';
import { ip, ipLinks, needsRoot, withNetns } from '../helpers/host';
import { asUser, readablePath } from '../helpers/readable';

const EXTRAUSERS_DIR = '/var/lib/extrausers';
const moduleInstalled = ['/usr/lib/libnss_extrausers.so.2', '/lib/x86_64-linux-gnu/libnss_extrausers.so.2', '/usr/lib/x86_64-linux-gnu/libnss_extrausers.so.2'].some((f) => fs.existsSync(f));
const skip: string | false = needsRoot || (moduleInstalled && fs.existsSync(EXTRAUSERS_DIR) ? false : 'needs libnss-extrausers (apt-get install libnss-extrausers; scripts/setup.sh installs it)');

const tag = process.pid % 100000;

/** Whether the host's own name service knows this passwd/group key (a name or an id). */
const hostKnows = (db: 'passwd' | 'group', key: string | number): boolean => spawnSync('getent', [db, String(key)]).status === 0;

/** An id unused on the host, as uid and as gid, from `from` up. */
function freeId(from: number, taken: Set<number>): number {
  for (let id = from; id < from + 5000; id++) if (!taken.has(id) && !hostKnows('passwd', id) && !hostKnows('group', id)) return (taken.add(id), id);
  throw new Error(`no free id from ${from}`);
}

interface NssWorld {
  dir: string;
  /** Runs the agent with nsswitch.conf `passwd: files extrausers` over this world's files. */
  wrap: string[];
  /** Writes the extrausers files: passwd lines and group lines (name:x:id:members). */
  write(passwd: string[], group: string[]): void;
}

/** A private name-service world for one agent: removed at teardown. */
function nssWorld(t: Test, opts: { broken?: boolean } = {}): NssWorld {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-nss-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.chmodSync(dir, 0o755);
  const extra = path.join(dir, 'extrausers');
  fs.mkdirSync(extra, { mode: 0o755 });
  const nsswitch = path.join(dir, 'nsswitch.conf');
  fs.writeFileSync(nsswitch, 'passwd: files extrausers\ngroup: files extrausers\nshadow: files\n');
  // A private mount namespace (mounts propagate nowhere) dies with the agent.
  const script = 'mount --bind "$1" /etc/nsswitch.conf && mount --bind "$2" /var/lib/extrausers && shift 2 && exec "$@"';
  return {
    dir,
    wrap: ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', nsswitch, extra],
    write: (passwd, group) => {
      if (opts.broken) return; // no files: every lookup extrausers answers fails with ENOENT
      fs.writeFileSync(path.join(extra, 'passwd'), passwd.map((l) => `${l}\n`).join(''), { mode: 0o644 });
      fs.writeFileSync(path.join(extra, 'group'), group.map((l) => `${l}\n`).join(''), { mode: 0o644 });
    },
  };
}

/** getent as the agent sees it (inside a mount namespace like the agent's). */
function getentInside(world: NssWorld, db: 'passwd' | 'group', key: string): string | null {
  const r = spawnSync(world.wrap[0], [...world.wrap.slice(1), 'getent', db, key], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Requests as uid:gid with no supplementary groups (setpriv; no name lookup on the host; readable.ts's root and environment). */
function runAsIds(uid: number, gid: number, socket: string, requests: { op: string; args?: object }[]): ClientReply[] {
  const u = asUser({ uid, gid }, [process.execPath, readablePath('test', 'helpers', 'agent-client.js'), socket, JSON.stringify(requests)], 'clear');
  const r = spawnSync(u.file, u.args, { ...u.options, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`client as ${uid}:${gid} failed (${r.status}): ${r.stderr}`);
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ClientReply);
}

/** A files user (useradd), as a client without supplementary groups: its groups come from the agent's NSS only. */
const asFilesUser = (u: TestUser, socket: string, requests: { op: string; args?: object }[]): ClientReply[] => runAsIds(u.uid, u.gid, socket, requests);

/** Prepare a domain with one tap on `br` and release it in the same session: [prepare reply, release reply?]. */
const prepareOn = (br: string, name: string) => [
  { op: 'prepare', args: { xml: domainXml(name, [bridgeIface(br)]) } },
  { op: 'release', args: { name } },
];

function bridges(ns: string, ...brs: string[]): void {
  for (const br of brs) {
    ip(['-n', ns, 'link', 'add', br, 'type', 'bridge']);
    ip(['-n', ns, 'link', 'set', br, 'up']);
  }
}

/** Stops the agent (and with it its mount namespace) before the network namespace goes. */
async function stop(a: RunningAgent): Promise<void> {
  if (a.proc.exitCode !== null || a.proc.signalCode !== null) return;
  const gone = new Promise((r) => a.proc.once('exit', r));
  a.proc.kill('SIGTERM');
  const timer = setTimeout(() => a.proc.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(timer);
}

const ids = new Set<number>();

t.test('a deny rule naming an account only NSS knows refuses that account', { skip }, async (t) => {
  await withNetns(t, async (ns) => {
    bridges(ns, 'br1', 'br2');
    const world = nssWorld(t);
    const other = testUser(t, 'o');
    const id = freeId(61000 + (tag % 2000), ids);
    const ldap = { name: `nfl${tag}`, uid: id, gid: id };
    t.notOk(hostKnows('passwd', ldap.name), `${ldap.name} is not in the host's passwd (nor any host source)`);
    world.write([`${ldap.name}:x:${ldap.uid}:${ldap.gid}:NSS only:/nonexistent:/usr/sbin/nologin`], [`${ldap.name}:x:${ldap.gid}:`]);
    t.match(getentInside(world, 'passwd', ldap.name), new RegExp(`^${ldap.name}:x:${ldap.uid}:`), "the agent's name service knows it");

    const a = await startAgent(t, { ns, graceSecs: 1, wrap: world.wrap, acl: ['allow user * bridge br*', `deny user ${ldap.name} bridge br1`].join('\n') });
    try {
      const [refused] = runAsIds(ldap.uid, ldap.gid, a.socket, prepareOn('br1', 'l1'));
      t.match(
        refused.error,
        { code: 'ACCESS_DENIED', rule: new RegExp(`^deny user ${ldap.name} bridge br1 \\(.*acl.conf:2\\)$`), value: 'br1' },
        `${ldap.name} (uid ${ldap.uid}) is refused br1 by the rule naming them`,
      );
      t.match(refused.error?.message, new RegExp(`refuses user ${ldap.name} \\(uid ${ldap.uid}\\) bridge br1`), 'the reason names the user as NSS resolved it');
      const [other2, rel2] = runAsIds(ldap.uid, ldap.gid, a.socket, prepareOn('br2', 'l2'));
      t.equal(other2.ok, true, `${ldap.name} still gets br2 (allow user *)`);
      t.equal(rel2?.ok, true, 'and releases it');
      const [ok, rel] = asFilesUser(other, a.socket, prepareOn('br1', 'o1'));
      t.equal(ok.ok, true, `${other.name} gets a tap on br1`);
      t.equal(
        ipLinks(ns).some((l) => l.ifname === ok.result?.interfaces?.[0]?.dev),
        false,
        'released again',
      );
      t.equal(rel?.ok, true, 'and releases it');
    } finally {
      await stop(a);
    }
  });
});

t.test('deny rules naming accounts that cannot be resolved refuse everyone they cover', { skip }, async (t) => {
  await withNetns(t, async (ns) => {
    bridges(ns, 'br1', 'br2', 'br3');
    const world = nssWorld(t);
    world.write([], []);
    const u = testUser(t, 'u');
    const ghost = `nfghost${tag}`;
    const ghostGroup = `nfghostg${tag}`;
    t.notOk(getentInside(world, 'passwd', ghost), `no source knows ${ghost}`);
    const a = await startAgent(t, { ns, graceSecs: 1, wrap: world.wrap, acl: ['allow user * bridge br*', `deny user ${ghost} bridge br1`, `deny group ${ghostGroup} bridge br2`].join('\n') });
    try {
      t.match(a.log(), new RegExp(`cannot be resolved: user ${ghost}, group ${ghostGroup}.*refuse`), 'the agent warns at load that those rules refuse');
      for (const [who, run] of [
        [u.name, (reqs: { op: string; args?: object }[]) => asFilesUser(u, a.socket, reqs)],
        ['root', (reqs: { op: string; args?: object }[]) => runAs(null, a.socket, reqs)],
      ] as const) {
        const [br1] = run(prepareOn('br1', 'g1'));
        t.match(br1.error, { code: 'ACCESS_DENIED', rule: new RegExp(`^deny user ${ghost} bridge br1 \\(.*acl.conf:2\\)$`) }, `${who} is refused br1 by the rule naming ${ghost}`);
        t.match(br1.error?.message, new RegExp(`user ${ghost} could not be resolved \\(no such user\\)`), 'the reason says the account could not be resolved');
        const [br2] = run(prepareOn('br2', 'g2'));
        t.match(br2.error, { code: 'ACCESS_DENIED', rule: new RegExp(`^deny group ${ghostGroup} bridge br2 `) }, `${who} is refused br2 by the rule naming ${ghostGroup}`);
        t.match(br2.error?.message, new RegExp(`group ${ghostGroup} could not be resolved \\(no such group\\)`));
        const [br3, rel] = run(prepareOn('br3', 'g3'));
        t.equal(br3.ok, true, `${who} still gets br3: the unresolvable rules cover br1 and br2 only`);
        t.equal(rel?.ok, true, 'and releases it');
      }
    } finally {
      await stop(a);
    }
  });
});

t.test('a deny rule whose lookup fails (a broken name service) refuses everyone it covers', { skip }, async (t) => {
  await withNetns(t, async (ns) => {
    bridges(ns, 'br1', 'br2');
    const world = nssWorld(t, { broken: true }); // extrausers without its files: lookups fail with ENOENT
    const u = testUser(t, 'u');
    const name = `nfbroken${tag}`;
    const a = await startAgent(t, { ns, graceSecs: 1, wrap: world.wrap, acl: ['allow user * bridge br*', `deny user ${name} bridge br1`].join('\n') });
    try {
      t.match(a.log(), new RegExp(`cannot be resolved: user ${name} \\(lookup failed: ENOENT\\)`), 'the warning says the lookup failed');
      const [br1] = asFilesUser(u, a.socket, prepareOn('br1', 'b1'));
      t.match(br1.error, { code: 'ACCESS_DENIED', rule: new RegExp(`^deny user ${name} bridge br1 `) }, `${u.name} is refused br1`);
      t.match(br1.error?.message, new RegExp(`user ${name} could not be resolved \\(.*getpwnam_r.*ENOENT`), 'the reason names the failed lookup');
      const [br2, rel] = asFilesUser(u, a.socket, prepareOn('br2', 'b2'));
      t.equal(br2.ok, true, 'br2 is not covered by the rule');
      t.equal(rel?.ok, true, 'and releases it');
    } finally {
      await stop(a);
    }
  });
});

t.test('group membership known only through NSS counts for allow and deny group rules', { skip }, async (t) => {
  await withNetns(t, async (ns) => {
    bridges(ns, 'br1');
    const world = nssWorld(t);
    const member = testUser(t, 'm'); // in the allowed group, through extrausers only
    const both = testUser(t, 'b'); // in the allowed and the denied group
    const outsider = testUser(t, 'x');
    const gAllow = { name: `nfga${tag}`, gid: freeId(62000 + (tag % 2000), ids) };
    const gDeny = { name: `nfgd${tag}`, gid: freeId(gAllow.gid + 1, ids) };
    const nssOnly = { name: `nfln${tag}`, uid: freeId(gDeny.gid + 1, ids), gid: 0 };
    nssOnly.gid = nssOnly.uid;
    world.write(
      [`${nssOnly.name}:x:${nssOnly.uid}:${nssOnly.gid}::/nonexistent:/usr/sbin/nologin`],
      [`${nssOnly.name}:x:${nssOnly.gid}:`, `${gAllow.name}:x:${gAllow.gid}:${member.name},${both.name},${nssOnly.name}`, `${gDeny.name}:x:${gDeny.gid}:${both.name}`],
    );
    t.notOk(hostKnows('group', gAllow.name), `${gAllow.name} is unknown to the host`);
    t.notOk(spawnSync('id', ['-G', member.name], { encoding: 'utf8' }).stdout.split(/\s+/).includes(String(gAllow.gid)), `the host does not put ${member.name} in ${gAllow.name}`);
    const a = await startAgent(t, { ns, graceSecs: 1, wrap: world.wrap, acl: [`allow group ${gAllow.name} bridge br1`, `deny group ${gDeny.name} bridge br1`].join('\n') });
    try {
      const [ok, rel] = asFilesUser(member, a.socket, prepareOn('br1', 'm1'));
      t.equal(ok.ok, true, `${member.name} gets br1 through ${gAllow.name} (getgrouplist)`);
      t.equal(rel?.ok, true, 'and releases it');
      const [nss, rel2] = runAsIds(nssOnly.uid, nssOnly.gid, a.socket, prepareOn('br1', 'n1'));
      t.equal(nss.ok, true, `${nssOnly.name}, an NSS-only user, gets br1 through ${gAllow.name} too`);
      t.equal(rel2?.ok, true, 'and releases it');
      const [denied] = asFilesUser(both, a.socket, prepareOn('br1', 'b1'));
      t.match(
        denied.error,
        { code: 'ACCESS_DENIED', rule: new RegExp(`^deny group ${gDeny.name} bridge br1 \\(.*acl.conf:2\\)$`) },
        `${both.name} is refused by the deny rule of ${gDeny.name}, a group only NSS puts them in`,
      );
      const [none] = asFilesUser(outsider, a.socket, prepareOn('br1', 'x1'));
      t.match(none.error, { code: 'ACCESS_DENIED', rule: 'default deny' }, `${outsider.name}, in neither group, is refused`);
    } finally {
      await stop(a);
    }
  });
});
