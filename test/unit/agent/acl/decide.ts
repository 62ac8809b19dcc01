// The host agent's ACL decisions (lib/agent/acl/decide.ts): a decision
// matrix over fake passwd/group files in test/fixtures/acl/ (alice 1001 in
// vmops, bob 1002 in guests, carol 1003 in both, dave 1004 with vmops as his
// passwd primary group, root 0); names that cannot be resolved, or whose
// lookup fails, fail closed; limits.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { type Accounts, fileAccounts } from '../../../../lib/agent/acl/accounts';
import { type Caller, decide, decideAll, interfaceLimit, limitFor, mayAskAnything, unknownNames } from '../../../../lib/agent/acl/decide';
import { type AclObject, describe, formatSize, type Limit, loadAcl, parseAcl } from '../../../../lib/agent/acl/syntax';
import { NetfdError } from '../../../../lib/errors';
import { accounts, fx, tmpDir } from '../../../helpers/acl';
import { refused } from '../../../helpers/refused';

// The decision matrix over test/fixtures/acl/matrix.conf.
const matrixFile = fx('matrix.conf');
const matrix = loadAcl(matrixFile);
const users: Record<string, Caller> = {
  root: { uid: 0, gid: 0 },
  alice: { uid: 1001, gid: 1001 },
  bob: { uid: 1002, gid: 1002, pid: 4321 },
  carol: { uid: 1003, gid: 1003 },
  dave: { uid: 1004, gid: 100 }, // vmops only as his passwd primary group
  ghost: { uid: 4242, gid: 4242 }, // no passwd entry
  ghostInVmops: { uid: 4242, gid: 2000 }, // the caller's own gid counts
};
const br = (value: string): AclObject => ({ kind: 'bridge', value });
const dev = (value: string): AclObject => ({ kind: 'dev', value });
const net = (value: string): AclObject => ({ kind: 'network', value });
const mode = (value: string): AclObject => ({ kind: 'mode', value });
const ETHERNET: AclObject = { kind: 'ethernet' };
const ALL: AclObject = { kind: 'all' };

// [who, object, allowed, the rule's text or null]
const MATRIX: Array<[string, AclObject, boolean, string | null]> = [
  ['alice', br('br0'), true, 'allow group vmops bridge br*'],
  ['alice', br('br-lab'), false, 'deny user 1001 bridge br-lab'],
  ['alice', br('virbr0'), true, 'allow user alice all'],
  ['alice', mode('vepa'), true, 'allow user alice all'],
  ['alice', mode('private'), true, 'allow user alice all'],
  ['alice', ETHERNET, true, 'allow user alice all'],
  ['alice', ALL, true, 'allow user alice all'],
  ['bob', br('br0'), false, null],
  ['bob', dev('eth0'), false, 'deny group guests dev eth0'],
  ['bob', dev('eth1'), true, 'allow user bob dev eth*'],
  ['bob', dev('veth1'), false, null],
  ['bob', net('pool1'), true, 'allow user 1002 network pool?'],
  ['bob', net('pool12'), false, null],
  ['bob', net('public'), true, 'allow user * network public'],
  ['bob', ETHERNET, true, 'allow group 2001 ethernet'],
  ['bob', ALL, false, null],
  ['carol', br('br0'), true, 'allow group vmops bridge br*'],
  ['carol', br('br-secure'), false, 'deny user carol bridge br-secure'],
  ['carol', dev('eth0'), false, 'deny group guests dev eth0'],
  ['carol', dev('eth1'), true, 'allow user carol dev *'],
  ['carol', mode('passthrough'), true, 'allow user carol mode p*'],
  ['carol', mode('passthru'), true, 'allow user carol mode p*'],
  ['carol', mode('vepa'), false, null],
  ['carol', ETHERNET, true, 'allow group 2001 ethernet'],
  ['carol', ALL, false, null],
  ['root', br('br0'), false, null],
  ['root', ETHERNET, false, null],
  ['root', ALL, false, null],
  ['root', net('public'), true, 'allow user * network public'],
  ['dave', br('br0'), true, 'allow group vmops bridge br*'],
  ['dave', dev('vf-01'), true, 'allow group 2000 dev vf-??'],
  ['dave', dev('vf-1'), false, null],
  ['ghost', br('br7'), true, 'allow user 4242 bridge br7'],
  ['ghost', br('br0'), false, null],
  ['ghost', net('public'), true, 'allow user * network public'],
  ['ghostInVmops', br('br0'), true, 'allow group vmops bridge br*'],
  // deny group nosuchgroup: no such group, so it refuses everyone (fails closed)
  ['alice', br('br-gone'), false, 'deny group nosuchgroup bridge br-gone'],
  ['root', br('br-gone'), false, 'deny group nosuchgroup bridge br-gone'],
  ['ghost', br('br-gone'), false, 'deny group nosuchgroup bridge br-gone'],
  // allow user mallory all: no such user, so it grants nothing
  ['ghost', ALL, false, null],
];

t.test('the decision matrix', async (t) => {
  for (const [who, object, allowed, rule] of MATRIX) {
    const d = decide(matrix, users[who], object, accounts);
    const label = `${who} ${object.kind}${object.value ? ` ${object.value}` : ''}`;
    t.strictSame({ allowed: d.allowed, rule: d.rule?.text ?? null }, { allowed, rule }, label);
    t.equal(d.rule?.file ?? matrixFile, matrixFile);
  }
});

t.test('reasons name the rule, the user and the object', async (t) => {
  const at = (line: number) => `(${matrixFile}:${line})`;
  const reason = (who: string, object: AclObject) => decide(matrix, users[who], object, accounts).reason;
  t.equal(reason('bob', dev('eth0')), `deny group guests dev eth0 ${at(4)} refuses user bob (uid 1002) dev eth0`);
  t.equal(reason('alice', ALL), `allow user alice all ${at(11)} allows user alice (uid 1001) all operations`);
  t.equal(reason('bob', ETHERNET), `allow group 2001 ethernet ${at(7)} allows user bob (uid 1002) ethernet`);
  t.equal(reason('root', br('br0')), 'no rule allows user root (uid 0) bridge br0 (default deny)');
  t.equal(reason('ghost', br('br0')), 'no rule allows uid 4242 bridge br0 (default deny)');
  t.equal(reason('carol', mode('vepa')), 'no rule allows user carol (uid 1003) mode vepa (default deny)');
});

t.test('names that resolve to nothing fail closed and are listed', async (t) => {
  t.strictSame(unknownNames(matrix, accounts), ['user mallory', 'group nosuchgroup', 'user ghost']);
  const d = decide(matrix, users.carol, br('br-gone'), accounts);
  t.strictSame({ allowed: d.allowed, rule: d.rule?.line }, { allowed: false, rule: 16 }, 'deny group nosuchgroup bridge br-gone refuses carol, whom allow group vmops bridge br* would allow');
  t.equal(
    d.reason,
    `deny group nosuchgroup bridge br-gone (${matrixFile}:16) refuses user carol (uid 1003) bridge br-gone: group nosuchgroup could not be resolved (no such group), so the rule refuses everyone it might cover (fails closed)`,
    'the reason names the rule and the account that could not be resolved',
  );
  t.equal(decide(matrix, users.carol, br('br0'), accounts).allowed, true, 'other bridges are not covered by it');
  t.equal(decide(matrix, users.root, ALL, accounts).allowed, false, 'allow user mallory all grants nothing');
  t.equal(interfaceLimit(matrix, users.root, accounts)?.text, 'limit user ghost interfaces 64', 'limit user ghost applies to everyone');
  // a rule naming a user added later matches once the account exists
  const dir = tmpDir(t, { passwd: `${fs.readFileSync(fx('passwd'), 'utf8')}mallory:x:1005:1005::/home/mallory:/bin/sh\n` });
  const later = fileAccounts({ passwd: path.join(dir, 'passwd'), group: fx('group') });
  t.strictSame(decide(matrix, { uid: 1005, gid: 1005 }, ALL, later).rule?.text, 'allow user mallory all');
  t.strictSame(unknownNames(matrix, later), ['group nosuchgroup', 'user ghost']);
});

/** The fixture accounts, but lookups of these names and the groups of these uids fail as a broken name service would. */
function failing(names: string[], groupsOfUids: number[] = [], userNameFails = false): Accounts {
  const fail = (field: string, value: unknown) => {
    throw new NetfdError(`getpwnam_r for ${field} ${value}: Connection refused (ECONNREFUSED): the name service failed`, {
      code: 'ACCOUNT_LOOKUP_FAILED',
      errno: -111,
      syscall: 'getpwnam_r',
      field,
      value,
    });
  };
  return {
    uidOf: (n) => (names.includes(n) ? fail('user', n) : accounts.uidOf(n)),
    gidOf: (n) => (names.includes(n) ? fail('group', n) : accounts.gidOf(n)),
    userName: (uid) => (userNameFails ? fail('uid', uid) : accounts.userName(uid)),
    groupsOf: (uid, gid) => (groupsOfUids.includes(uid) ? fail('uid', uid) : accounts.groupsOf(uid, gid)),
  };
}

t.test('a failed lookup fails closed: deny rules refuse everyone they cover, allow rules grant nothing, limits apply', async (t) => {
  const acl = parseAcl(
    [
      'allow user * bridge br*',
      'deny user broken bridge br1',
      'deny group brokeng bridge br2',
      'allow user broken dev eth0',
      'allow group brokeng dev eth1',
      'deny group vmops bridge br3',
      'allow group vmops dev eth2',
      'allow user alice dev eth3',
    ].join('\n'),
    'f.conf',
  );
  const acc = failing(['broken', 'brokeng'], [1003]);
  const d = (who: string, object: AclObject) => decide(acl, users[who], object, acc);
  for (const who of ['alice', 'root', 'ghost']) {
    t.strictSame([d(who, br('br1')).allowed, d(who, br('br1')).rule?.line], [false, 2], `${who} is refused br1: user broken cannot be looked up`);
    t.strictSame([d(who, br('br2')).allowed, d(who, br('br2')).rule?.line], [false, 3], `${who} is refused br2: group brokeng cannot be looked up`);
    t.equal(d(who, br('br0')).allowed, true, `${who} still gets br0`);
    t.strictSame([d(who, dev('eth0')).allowed, d(who, dev('eth0')).rule], [false, null], 'allow user broken grants nothing');
    t.strictSame([d(who, dev('eth1')).allowed, d(who, dev('eth1')).rule], [false, null], 'allow group brokeng grants nothing');
  }
  t.match(
    d('alice', br('br1')).reason,
    /^deny user broken bridge br1 \(f\.conf:2\) refuses user alice \(uid 1001\) bridge br1: user broken could not be resolved \(getpwnam_r for user broken: Connection refused \(ECONNREFUSED\).*\), so the rule refuses everyone it might cover \(fails closed\)$/,
  );
  // carol's groups cannot be looked up: a deny group rule refuses her, an allow group rule grants her nothing.
  t.strictSame([d('carol', br('br3')).allowed, d('carol', br('br3')).rule?.line], [false, 6], 'deny group vmops refuses carol, whose groups are unknown');
  t.match(d('carol', br('br3')).reason, /: the groups of user carol \(uid 1003\) could not be resolved \(.*ECONNREFUSED.*\), so the rule refuses everyone it might cover/);
  t.equal(d('carol', dev('eth2')).allowed, false, 'allow group vmops grants carol nothing');
  t.equal(d('alice', dev('eth2')).allowed, true, "alice's groups are known: allow group vmops applies");
  t.equal(d('bob', br('br3')).allowed, true, 'bob is not in vmops: the deny group rule does not cover him');
  t.equal(d('carol', br('br0')).allowed, true, 'user rules need no groups');
  t.strictSame(unknownNames(acl, acc), ['user broken (lookup failed: ECONNREFUSED)', 'group brokeng (lookup failed: ECONNREFUSED)']);

  const limits = parseAcl('limit user broken interfaces 3\nlimit group vmops interfaces 5\nlimit group guests interfaces 7\n', 'l.conf');
  t.equal(interfaceLimit(limits, users.bob, acc)?.line, 1, 'a limit naming an account that cannot be looked up applies to everyone');
  const groupLimits = parseAcl('limit group vmops interfaces 5\nlimit user alice interfaces 9\n', 'g.conf');
  t.equal(interfaceLimit(groupLimits, users.carol, acc)?.line, 1, 'a group limit applies to carol, whose groups cannot be looked up');
  t.equal(interfaceLimit(groupLimits, users.bob, acc), null, 'bob is in no limited group');
  t.equal(interfaceLimit(groupLimits, users.alice, acc)?.line, 1);

  const quiet = failing([], [], true);
  t.equal(decide(acl, users.alice, br('br0'), quiet).reason, 'allow user * bridge br* (f.conf:1) allows uid 1001 bridge br0', 'a failed userName only shortens the message');
});

t.test('decideAll: the first refusal, else the rule allowing the last object', async (t) => {
  const alice = users.alice;
  const ok = decideAll(matrix, alice, [br('br0'), mode('vepa'), ETHERNET], accounts);
  t.equal(ok.allowed, true);
  t.equal(ok.rule?.text, 'allow user alice all');
  t.equal(decideAll(matrix, alice, [mode('vepa'), br('br0')], accounts).rule?.text, 'allow group vmops bridge br*');
  const no = decideAll(matrix, users.bob, [dev('eth1'), dev('eth0'), br('br0')], accounts);
  t.strictSame({ allowed: no.allowed, rule: no.rule?.text }, { allowed: false, rule: 'deny group guests dev eth0' });
  const none = decideAll(matrix, users.bob, [dev('eth1'), br('br0')], accounts);
  t.strictSame({ allowed: none.allowed, rule: none.rule }, { allowed: false, rule: null });
  refused(t, () => decideAll(matrix, alice, [], accounts), { code: 'INVALID_ARGUMENT', field: 'objects', value: [] });
});

t.test('malformed callers and objects are refused before deciding', async (t) => {
  const bad = (o: object) => o as AclObject;
  refused(t, () => decide(matrix, users.alice, bad({ kind: 'bridge' }), accounts), { code: 'INVALID_ARGUMENT', field: 'object', value: { kind: 'bridge' } }, /needs a non-empty value/);
  refused(t, () => decide(matrix, users.alice, bad({ kind: 'switch', value: 'x' }), accounts), { code: 'INVALID_ARGUMENT', field: 'object', value: { kind: 'switch', value: 'x' } });
  refused(t, () => decide(matrix, { uid: -1, gid: 0 }, ALL, accounts), { code: 'INVALID_ARGUMENT', field: 'caller', value: { uid: -1, gid: 0 } });
  refused(t, () => interfaceLimit(matrix, { uid: 1.5, gid: 0 }, accounts), { code: 'INVALID_ARGUMENT', field: 'caller', value: { uid: 1.5, gid: 0 } });
});

t.test('interfaceLimit: the smallest applicable limit, null when none', async (t) => {
  const limit = (who: string): string | null => {
    const l: Limit | null = interfaceLimit(matrix, users[who], accounts);
    return l ? `${l.value} ${l.text}` : null;
  };
  t.equal(limit('alice'), '8 limit user alice interfaces 8', 'the user limit under the group one');
  t.equal(limit('carol'), '4 limit group guests interfaces 4', 'a group limit under the user one');
  t.equal(limit('bob'), '4 limit group guests interfaces 4');
  t.equal(limit('dave'), '32 limit group vmops interfaces 32');
  t.equal(limit('root'), '64 limit user ghost interfaces 64', 'user ghost names no account: the limit applies to everyone (fails closed)');
  t.equal(limit('ghost'), '64 limit user ghost interfaces 64');
  const everyone = parseAcl('limit user * interfaces 2\nlimit group vmops interfaces 2\nlimit user alice interfaces 0\n', 'l.conf');
  t.equal(interfaceLimit(everyone, users.root, accounts)?.line, 1, 'user * applies to everyone');
  t.equal(interfaceLimit(everyone, users.carol, accounts)?.line, 1, 'the first of equal limits');
  t.equal(interfaceLimit(everyone, users.alice, accounts)?.value, 0, 'zero is a limit');
  t.equal(interfaceLimit(parseAcl('allow user * all', 'n.conf'), users.alice, accounts), null);
});

t.test('limits of every kind: state sizes in binary units, the smallest per kind, described as written', async (t) => {
  const acl = parseAcl(
    'limit user * domains 16\nlimit  user *  state 4M\nlimit user alice state 512K\nlimit user * connections 8\nlimit user * requests 4\nlimit user * rate 50\nallow user alice devname vm-*\n',
    'k.conf',
  );
  t.strictSame(
    acl.limits.map((l) => [l.what, l.value]),
    [
      ['domains', 16],
      ['state', 4 * 1024 * 1024],
      ['state', 512 * 1024],
      ['connections', 8],
      ['requests', 4],
      ['rate', 50],
    ],
  );
  t.equal(describe(acl.limits[1]), 'limit user * state 4M (k.conf:2)', 'normalised, with the unit');
  t.equal(limitFor(acl, { uid: 4242, gid: 4242 }, 'state', accounts)?.value, 4 * 1024 * 1024);
  t.equal(limitFor(acl, { uid: 4242, gid: 4242 }, 'interfaces', accounts), null, 'no interfaces line: none');
  t.equal(formatSize(1000), '1000');
  t.equal(formatSize(3 * 1024 ** 3), '3G');
  t.equal(acl.rules[0].object.kind, 'devname');
});

t.test('mayAskAnything: asked before any XML is read', async (t) => {
  const acl = parseAcl('allow user alice bridge br0\ndeny user bob all\nallow user bob bridge br0\nallow group vmops dev eth*\n', 'm.conf');
  t.equal(mayAskAnything(acl, users.alice, accounts).allowed, true, 'an allow rule for her');
  t.match(mayAskAnything(acl, users.bob, accounts), { allowed: false, rule: { line: 2 } }, 'deny ... all wins');
  t.match(mayAskAnything(acl, users.root, accounts), { allowed: false, rule: null, reason: /no rule allows user root \(uid 0\) anything/ }, 'no rule at all');
  t.equal(mayAskAnything(acl, users.dave, accounts).allowed, true, 'through a group');
});
