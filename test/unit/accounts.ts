// nssAccounts (lib/agent/accounts.ts) over stand-in lookups: entries, "no
// such account" (null) told apart from failures (ACCOUNT_LOOKUP_FAILED), the
// caller's groups, and the cache (answers and failures kept for the TTL).
// The real NSS calls are tested in test/native/accounts.ts.
import t from 'tap';
import { NSS_CACHE_MAX, NssLookups, nssAccounts } from '../../lib/agent/accounts';
import { refused } from '../helpers/refused';

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
  const e = refused(t, () => acc.uidOf('carol'), { code: 'ACCOUNT_LOOKUP_FAILED', field: 'user', value: 'carol' }, /getpwnam_r for user carol: Connection refused \(ECONNREFUSED\): the name service failed; check \/etc\/nsswitch\.conf/);
  t.match(e, { errno: -111, syscall: 'getpwnam_r' }, 'errno and syscall come along');
  refused(t, () => acc.gidOf('ldapgroup'), { code: 'ACCOUNT_LOOKUP_FAILED', field: 'group', value: 'ldapgroup' }, /ENOENT/);
  refused(t, () => acc.groupsOf(1005, 1005), { code: 'ACCOUNT_LOOKUP_FAILED', field: 'uid', value: 1005 }, /getpwuid_r for uid 1005: Connection timed out \(ETIMEDOUT\)/);
  t.equal(acc.userName(1005), undefined, 'userName names callers in messages only: a failure gives undefined, never a throw');
  const odd = nssAccounts({
    lookups: {
      ...lookups,
      getpwnam: () => {
        throw 'not an Error'; // eslint-disable-line no-throw-literal
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
