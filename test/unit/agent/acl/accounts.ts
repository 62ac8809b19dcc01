// The ACL's accounts (lib/agent/acl/accounts.ts). nssAccounts over stand-in
// lookups: entries, "no such account" (null) told apart from failures
// (ACCOUNT_LOOKUP_FAILED), the caller's groups, and the cache (answers and
// failures kept for the TTL); the real NSS calls are tested in
// test/native/agent/acl/accounts.ts. fileAccounts over the fake passwd and
// group files in test/fixtures/acl/.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { fileAccounts, NSS_CACHE_MAX, NssLookups, nssAccounts } from '../../../../lib/agent/acl/accounts';
import { decide } from '../../../../lib/agent/acl/decide';
import { type AclObject, parseAcl } from '../../../../lib/agent/acl/syntax';
import { accounts, fx, tmpDir } from '../../../helpers/acl';
import { refused } from '../../../helpers/refused';

const sysErr = (syscall: string, code: string, errno: number, message: string): Error => Object.assign(new Error(message), { code, errno, syscall });

/** A stand-in name service: alice 1001 (primary 1001, also in 2000 and 2001), root 0; `down` names fail. */
function fakeNss(down: Set<string> = new Set()) {
  const calls: string[] = [];
  const lookups: NssLookups = {
    getpwnam: (name) => {
      calls.push(`getpwnam ${name}`);
      if (down.has(name)) throw sysErr('getpwnam_r', 'ECONNREFUSED', -111, `getpwnam_r for user ${name}: Connection refused`);
      return name === 'alice' ? { name, uid: 1001, gid: 1001 } : name === 'root' ? { name, uid: 0, gid: 0 } : null;
    },
    getpwuid: (uid) => {
      calls.push(`getpwuid ${uid}`);
      if (down.has(String(uid))) throw sysErr('getpwuid_r', 'ETIMEDOUT', -110, `getpwuid_r for uid ${uid}: Connection timed out`);
      return uid === 1001 ? { name: 'alice', uid, gid: 1001 } : uid === 0 ? { name: 'root', uid, gid: 0 } : null;
    },
    getgrnam: (name) => {
      calls.push(`getgrnam ${name}`);
      if (down.has(name)) throw sysErr('getgrnam_r', 'ENOENT', -2, `getgrnam_r for group ${name}: No such file or directory`);
      return name === 'vmops' ? { name, gid: 2000 } : null;
    },
    getgrouplist: (user, gid) => {
      calls.push(`getgrouplist ${user} ${gid}`);
      return user === 'alice' ? [gid, 2000, 2001] : [gid];
    },
  };
  return { lookups, calls };
}

t.test('entries, and no such account as undefined', async (t) => {
  const { lookups } = fakeNss();
  const acc = nssAccounts({ lookups });
  t.equal(acc.uidOf('alice'), 1001);
  t.equal(acc.uidOf('nobody-here'), undefined);
  t.equal(acc.gidOf('vmops'), 2000);
  t.equal(acc.gidOf('nosuchgroup'), undefined);
  t.equal(acc.userName(1001), 'alice');
  t.equal(acc.userName(4242), undefined);
  t.strictSame(acc.groupsOf(1001, 1001), [1001, 2000, 2001], 'the peer gid, then getgrouplist(name, primary gid)');
  t.strictSame(acc.groupsOf(1001, 77), [77, 1001, 2000, 2001], "the caller's gid and the passwd primary gid");
  t.strictSame(acc.groupsOf(4242, 7), [7], 'a uid without an entry has its own gid only');
});

t.test('a failed lookup is ACCOUNT_LOOKUP_FAILED, not "no such account"', async (t) => {
  const { lookups } = fakeNss(new Set(['carol', 'ldapgroup', '1005']));
  const acc = nssAccounts({ lookups });
  const e = refused(
    t,
    () => acc.uidOf('carol'),
    { code: 'ACCOUNT_LOOKUP_FAILED', field: 'user', value: 'carol' },
    /getpwnam_r for user carol: Connection refused \(ECONNREFUSED\): the name service failed; check \/etc\/nsswitch\.conf/,
  );
  t.match(e, { errno: -111, syscall: 'getpwnam_r' }, 'errno and syscall come along');
  refused(t, () => acc.gidOf('ldapgroup'), { code: 'ACCOUNT_LOOKUP_FAILED', field: 'group', value: 'ldapgroup' }, /ENOENT/);
  refused(t, () => acc.groupsOf(1005, 1005), { code: 'ACCOUNT_LOOKUP_FAILED', field: 'uid', value: 1005 }, /getpwuid_r for uid 1005: Connection timed out \(ETIMEDOUT\)/);
  t.equal(acc.userName(1005), undefined, 'userName names callers in messages only: a failure gives undefined, never a throw');
  const odd = nssAccounts({
    lookups: {
      ...lookups,
      getpwnam: () => {
        throw 'not an Error';
      },
    },
  });
  refused(t, () => odd.uidOf('x'), { code: 'ACCOUNT_LOOKUP_FAILED', field: 'user', value: 'x' }, /not an Error \(EIO\)/);
});

t.test('answers and failures are kept for the TTL, then asked again', async (t) => {
  const down = new Set(['carol']);
  const { lookups, calls } = fakeNss(down);
  let now = 1000;
  const acc = nssAccounts({ lookups, ttlMs: 5000, now: () => now });
  acc.uidOf('alice');
  acc.uidOf('alice');
  acc.uidOf('nobody-here');
  acc.uidOf('nobody-here');
  t.throws(() => acc.uidOf('carol'), { code: 'ACCOUNT_LOOKUP_FAILED' });
  t.throws(() => acc.uidOf('carol'), { code: 'ACCOUNT_LOOKUP_FAILED' }, 'a failure is kept too: a slow name service is asked once per TTL');
  acc.groupsOf(1001, 1001);
  acc.groupsOf(1001, 1001);
  acc.userName(1001);
  t.strictSame(calls, ['getpwnam alice', 'getpwnam nobody-here', 'getpwnam carol', 'getpwuid 1001', 'getgrouplist alice 1001'], 'one lookup each within the TTL');
  calls.length = 0;
  now += 4999;
  acc.uidOf('alice');
  t.strictSame(calls, [], 'still fresh');
  now += 1;
  down.delete('carol');
  t.equal(acc.uidOf('carol'), undefined, 'after the TTL the name service is asked again');
  acc.uidOf('alice');
  t.strictSame(calls, ['getpwnam carol', 'getpwnam alice']);

  const every = fakeNss();
  const uncached = nssAccounts({ lookups: every.lookups, ttlMs: 0 });
  uncached.uidOf('alice');
  uncached.uidOf('alice');
  t.strictSame(every.calls, ['getpwnam alice', 'getpwnam alice'], 'ttlMs 0 asks every time');
});

t.test('the cache holds at most NSS_CACHE_MAX answers, dropping the oldest', async (t) => {
  const { lookups, calls } = fakeNss();
  const acc = nssAccounts({ lookups, now: () => 0 });
  for (let i = 0; i <= NSS_CACHE_MAX; i++) acc.uidOf(`u${i}`);
  calls.length = 0;
  acc.uidOf(`u${NSS_CACHE_MAX}`);
  acc.uidOf('u1');
  t.strictSame(calls, [], 'the newest answers are kept');
  acc.uidOf('u0');
  t.strictSame(calls, ['getpwnam u0'], 'the oldest was dropped');
});

t.test('bad arguments are refused before any lookup', async (t) => {
  const { lookups, calls } = fakeNss();
  const acc = nssAccounts({ lookups });
  refused(t, () => acc.uidOf(''), { code: 'INVALID_ARGUMENT', field: 'user', value: '' });
  refused(t, () => acc.gidOf('a\0b'), { code: 'INVALID_ARGUMENT', field: 'group', value: 'a\0b' });
  refused(t, () => acc.userName(-1), { code: 'INVALID_ARGUMENT', field: 'uid', value: -1 });
  refused(t, () => acc.groupsOf(1, 4294967295), { code: 'INVALID_ARGUMENT', field: 'gid', value: 4294967295 });
  t.strictSame(calls, []);
  refused(t, () => nssAccounts({ ttlMs: -1 }), { code: 'INVALID_ARGUMENT', field: 'ttlMs', value: -1 });
});

const br = (value: string): AclObject => ({ kind: 'bridge', value });
const ETHERNET: AclObject = { kind: 'ethernet' };

t.test('fileAccounts: passwd and group lookups', async (t) => {
  t.equal(accounts.uidOf('alice'), 1001);
  t.equal(accounts.uidOf('nobody-here'), undefined);
  t.equal(accounts.uidOf('+nisuser'), undefined, 'NIS lines are skipped');
  t.equal(accounts.gidOf('vmops'), 2000);
  t.equal(accounts.gidOf('alice'), 1001);
  t.equal(accounts.gidOf('nosuchgroup'), undefined);
  t.equal(accounts.userName(0), 'root');
  t.equal(accounts.userName(4242), undefined);
  t.strictSame(accounts.groupsOf(1001, 1001), [1001, 2000]);
  t.strictSame(accounts.groupsOf(1003, 1003), [1003, 2000, 2001]);
  t.strictSame(accounts.groupsOf(1004, 100), [100, 2000], "the caller's gid and the passwd primary gid");
  t.strictSame(accounts.groupsOf(4242, 7), [7]);
  const missing = fileAccounts({ passwd: '/nonexistent/passwd', group: fx('group') });
  refused(t, () => missing.uidOf('alice'), { code: 'ENOENT', field: 'passwd', value: '/nonexistent/passwd' }, /cannot read \/nonexistent\/passwd/);
  t.equal(missing.gidOf('vmops'), 2000, 'the group file alone still works');
});

t.test('fileAccounts re-reads a file when its mtime changes', async (t) => {
  const dir = tmpDir(t, {
    passwd: 'alice:x:1001:1001::/home/alice:/bin/sh\n',
    group: 'vmops:x:2000:alice\n',
  });
  const passwd = path.join(dir, 'passwd');
  const group = path.join(dir, 'group');
  const acc = fileAccounts({ passwd, group });
  t.equal(acc.uidOf('alice'), 1001);
  t.strictSame(acc.groupsOf(1001, 1001), [1001, 2000]);

  const past = new Date('2020-01-01T00:00:00Z');
  fs.writeFileSync(passwd, 'alice:x:1009:1001::/home/alice:/bin/sh\n'); // same size
  fs.utimesSync(passwd, past, past);
  t.equal(acc.uidOf('alice'), 1009, 'a new mtime: read again');

  fs.writeFileSync(passwd, 'alice:x:1007:1001::/home/alice:/bin/sh\n');
  fs.utimesSync(passwd, past, past);
  t.equal(acc.uidOf('alice'), 1009, 'same mtime, size and inode: the cached copy');

  const later = new Date('2021-01-01T00:00:00Z');
  fs.utimesSync(passwd, later, later);
  t.equal(acc.uidOf('alice'), 1007);

  fs.writeFileSync(group, 'vmops:x:2000:\nguests:x:2001:alice\n');
  fs.utimesSync(group, later, later);
  t.strictSame(acc.groupsOf(1007, 1001), [1001, 2001]);
  const acl = parseAcl('allow group vmops ethernet\nallow group guests bridge br0\n', 'g.conf');
  t.equal(decide(acl, { uid: 1007, gid: 1001 }, ETHERNET, acc).allowed, false, 'alice left vmops');
  t.equal(decide(acl, { uid: 1007, gid: 1001 }, br('br0'), acc).allowed, true, 'and joined guests');
});
