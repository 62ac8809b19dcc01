// The NSS lookups of the binding (native/accounts.cc) on this host: entries,
// null for no such account, TypeErrors for bad arguments; and nssAccounts
// over them. Failing name services are played in test/privileged/agent-accounts.ts.
import t from 'tap';
import { nssAccounts } from '../../../../lib/agent/acl/accounts';
import { native } from '../../../../lib/sys/native';

const b = native();

t.test('getpwnam, getpwuid, getgrnam, getgrouplist', async (t) => {
  t.strictSame(b.getpwnam('root'), { name: 'root', uid: 0, gid: 0 });
  t.strictSame(b.getpwuid(0), { name: 'root', uid: 0, gid: 0 });
  t.strictSame(b.getgrnam('root'), { name: 'root', gid: 0 });
  t.equal(b.getpwnam('netfd-no-such-user'), null, 'no such user: null, not an error');
  t.equal(b.getpwuid(4294967294), null);
  t.equal(b.getgrnam('netfd-no-such-group'), null);
  t.ok(b.getgrouplist('root', 0).includes(0), "the given gid is in root's list");
  t.strictSame(b.getgrouplist('netfd-no-such-user', 4242), [4242], 'an unknown user: the given gid only');
  const long = 'x'.repeat(100000);
  t.equal(b.getpwnam(long), null, 'a very long name is just not found');
});

t.test('bad arguments are TypeErrors', async (t) => {
  const calls: [string, () => unknown][] = [
    ['getpwnam()', () => (b.getpwnam as unknown as () => unknown)()],
    ['getpwnam number', () => b.getpwnam(0 as unknown as string)],
    ['getpwnam empty', () => b.getpwnam('')],
    ['getpwnam NUL', () => b.getpwnam('ro\0ot')],
    ['getpwuid -1', () => b.getpwuid(-1)],
    ['getpwuid 2^32-1', () => b.getpwuid(4294967295)],
    ['getpwuid 1.5', () => b.getpwuid(1.5)],
    ['getpwuid string', () => b.getpwuid('0' as unknown as number)],
    ['getgrnam NUL', () => b.getgrnam('a\0')],
    ['getgrouplist gid missing', () => (b.getgrouplist as unknown as (u: string) => unknown)('root')],
    ['getgrouplist user', () => b.getgrouplist(null as unknown as string, 0)],
  ];
  for (const [name, fn] of calls) t.throws(fn, TypeError, name);
});

t.test('nssAccounts over the real name service', async (t) => {
  const acc = nssAccounts();
  t.equal(acc.uidOf('root'), 0);
  t.equal(acc.gidOf('root'), 0);
  t.equal(acc.userName(0), 'root');
  t.equal(acc.uidOf('netfd-no-such-user'), undefined);
  t.equal(acc.gidOf('netfd-no-such-group'), undefined);
  t.ok(acc.groupsOf(0, 0).includes(0));
  t.strictSame(acc.groupsOf(4294967294, 5), [5]);
});
