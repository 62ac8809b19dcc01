// The host agent's ACL (lib/agent/acl.ts): parsing, includes, every syntax
// error, and a decision matrix over fake passwd/group files in
// test/fixtures/acl/ (alice 1001 in vmops, bob 1002 in guests, carol 1003 in
// both, dave 1004 with vmops as his passwd primary group, root 0); names
// that cannot be resolved, or whose lookup fails, fail closed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import {
  type Acl,
  type AclObject,
  type Caller,
  decide,
  decideAll,
  describe,
  globMatch,
  interfaceLimit,
  limitFor,
  mayAskAnything,
  formatSize,
  type Limit,
  loadAcl,
  parseAcl,
  type Rule,
  unknownNames,
} from '../../lib/agent/acl';
import { type Accounts, fileAccounts } from '../../lib/agent/accounts';
import { NetfdError } from '../../lib/errors';
import { refused, type Asserts } from '../helpers/refused';

const fixtures = path.join(__dirname, '..', 'fixtures', 'acl');
const fx = (...p: string[]) => path.join(fixtures, ...p);
const accounts = fileAccounts({ passwd: fx('passwd'), group: fx('group') });

/** A fresh temp directory holding `files` (name → text), removed when the test ends. */
function tmpDir(t: Asserts, files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-acl-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const aclErr = (value: string) => ({ code: 'ACL_INVALID', field: 'acl', value });

t.test('globMatch: * any run, ? one character, the whole string, nothing else special', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['br0', 'br0', true],
    ['br0', 'br01', false],
    ['br*', 'br', true],
    ['br*', 'br-lab', true],
    ['*', '', true],
    ['?', '', false],
    ['pool?', 'pool1', true],
    ['pool?', 'pool12', false],
    ['*lab', 'br-lab', true],
    ['*a*b*', 'xaybz', true],
    ['*a*b', 'xaybz', false],
    ['e?h*', 'eth0', true],
    ['br[0]', 'br0', false],
    ['br[0]', 'br[0]', true],
    ['a.c', 'abc', false],
    ['vf-??', 'vf-01', true],
    ['vf-??', 'vf-1', false],
    ['ü?', 'üx', true],
  ];
  for (const [glob, s, want] of cases) t.equal(globMatch(glob, s), want, `${JSON.stringify(glob)} vs ${JSON.stringify(s)}`);
});

t.test('parsing golden: every form, comments, blank lines, an include', async (t) => {
  const main = fx('every-form.conf');
  const first = fx('every-form.d', '10-first.conf');
  const second = fx('every-form.d', '20-second.conf');
  const r = (action: 'allow' | 'deny', kind: 'user' | 'group', id: string, object: AclObject, file: string, line: number, text: string): Rule => ({
    action,
    subject: { kind, id },
    object,
    file,
    line,
    text,
  });
  const want: Acl = {
    rules: [
      r('allow', 'user', 'alice', { kind: 'bridge', value: 'br0' }, main, 3, 'allow user alice bridge br0'),
      r('deny', 'group', 'guests', { kind: 'dev', value: 'eth0' }, main, 4, 'deny group guests dev eth0'),
      r('allow', 'group', 'vmops', { kind: 'network', value: 'pool1' }, main, 5, 'allow group vmops network pool1'),
      r('allow', 'user', 'alice', { kind: 'mode', value: 'bridge' }, main, 6, 'allow   user alice   mode bridge'),
      r('allow', 'user', 'alice', { kind: 'all' }, main, 7, 'allow user alice all'),
      r('allow', 'user', '1001', { kind: 'ethernet' }, main, 8, 'allow user 1001 ethernet'),
      r('allow', 'user', '*', { kind: 'network', value: 'pub-?' }, main, 9, 'allow user * network pub-?'),
      r('deny', 'group', '2001', { kind: 'mode', value: 'pass*' }, main, 10, 'deny group 2001 mode pass*'),
      r('deny', 'user', 'bob', { kind: 'dev', value: 'eth9' }, first, 1, 'deny user bob dev eth9'),
      r('allow', 'user', 'bob', { kind: 'dev', value: 'eth*' }, main, 15, 'allow user bob dev eth*'),
    ],
    limits: [
      { subject: { kind: 'user', id: 'alice' }, what: 'interfaces', value: 8, file: main, line: 12, text: 'limit user alice interfaces 8' },
      { subject: { kind: 'group', id: 'vmops' }, what: 'interfaces', value: 32, file: main, line: 13, text: 'limit group vmops interfaces 32' },
      { subject: { kind: 'user', id: '*' }, what: 'interfaces', value: 0, file: second, line: 2, text: 'limit user * interfaces 0' },
    ],
    files: [main, first, second],
  };
  t.strictSame(loadAcl(main), want, 'loadAcl follows the include; notes.txt is not *.conf');

  // parseAcl alone: the include callback gets the pattern and the including file
  const calls: Array<[string, string]> = [];
  const text = fs.readFileSync(main, 'utf8');
  const parsed = parseAcl(text, main, {
    include: (pattern, from) => {
      calls.push([pattern, from]);
      return parseAcl('deny user bob dev eth9\n', first);
    },
  });
  t.strictSame(calls, [['every-form.d/*.conf', main]]);
  t.strictSame(parsed, { ...want, limits: want.limits.slice(0, 2), files: [main, first] });

  t.strictSame(parseAcl('', 'empty.conf'), { rules: [], limits: [], files: ['empty.conf'] }, 'an empty file allows nothing');
  t.strictSame(parseAcl('\r\n# only a comment\r\n   \t\n', 'c.conf'), { rules: [], limits: [], files: ['c.conf'] });
  t.strictSame(parseAcl('allow user alice ethernet\r\n', 'crlf.conf').rules[0].text, 'allow user alice ethernet', 'CRLF line ends');
  refused(t, () => parseAcl('allow user alice bridge #br0', 'h.conf'), aclErr('h.conf:1'), /missing value after "bridge"/); // a # anywhere starts a comment
});

t.test('describe: the rule as a canonical line and where it is', async (t) => {
  const acl = parseAcl('deny  group guests   dev eth0 # x\nallow user alice all\nlimit user alice interfaces 8', '/etc/netfd/acl.conf');
  t.equal(describe(acl.rules[0]), 'deny group guests dev eth0 (/etc/netfd/acl.conf:1)');
  t.equal(describe(acl.rules[1]), 'allow user alice all (/etc/netfd/acl.conf:2)');
  t.equal(describe(acl.limits[0]), 'limit user alice interfaces 8 (/etc/netfd/acl.conf:3)');
});

t.test('every syntax error names file:line, the bad token, what is expected, and the line', async (t) => {
  const long = 'b'.repeat(65);
  const cases: Array<[string, RegExp]> = [
    ['permit user alice bridge br0', /^bad\.conf:2: unknown action "permit": expected allow, deny, limit or include \(permit user alice bridge br0\)$/],
    ['allow', /missing subject after "allow": expected user or group \(allow\)$/],
    ['allow uid 1001 bridge br0', /unknown subject kind "uid": expected user or group/],
    ['deny group', /missing group after "group": expected a group name or a gid/],
    ['allow user', /missing user after "user": expected a user name, a uid or \*/],
    ['allow group * bridge br0', /bad group "\*": "\*" is only allowed as "user \*"/],
    ['allow user a/b bridge br0', /bad user "a\/b": expected a user name/],
    ['allow user 4294967295 ethernet', /bad user "4294967295": a uid is at most 4294967294/],
    ['allow user alice', /missing object after "alice": expected bridge, dev, network, mode, devname, ethernet or all/],
    ['allow user alice switch sw0', /unknown object "switch": expected bridge, dev, network, mode, devname, ethernet or all/],
    ['allow user alice bridge', /missing value after "bridge": expected a bridge name or glob \(allow user alice bridge\)$/],
    ['deny group guests network', /missing value after "network"/],
    ['allow user alice bridge br0 br1', /unexpected "br1" after "br0": a rule ends with its object/],
    ['allow user alice ethernet eth0', /unexpected "eth0" after "ethernet": ethernet takes no value/],
    ['allow user alice all bridge', /unexpected "bridge" after "all": all takes no value/],
    ['allow user alice dev eth0/1', /bad dev "eth0\/1": expected 1 to 64 characters without whitespace or '\/'/],
    [`allow user alice bridge ${long}`, new RegExp(`bad bridge "${long}": expected 1 to 64 characters`)],
    ['allow user alice mode vepa2', /bad mode "vepa2": expected vepa, bridge, private, passthrough or a glob matching one of them/],
    ['allow user alice mode x*', /bad mode "x\*"/],
    ['limit user alice interfaces -1', /bad number "-1": expected a non-negative integer/],
    ['limit user alice interfaces 1.5', /bad number "1\.5"/],
    ['limit user alice interfaces 8x', /bad number "8x"/],
    ['limit user alice interfaces', /missing number after "interfaces": expected a non-negative integer/],
    ['limit user alice queues 8', /unknown limit "queues": expected interfaces, domains, state, connections, requests/],
    ['limit user alice', /missing limit after "alice": expected interfaces/],
    ['limit user alice state 4X', /bad size "4X": expected bytes, with K, M or G/],
    ['limit user alice state', /missing size after "state"/],
    ['allow user alice devname', /missing value after "devname"/],
    ['limit user alice interfaces 8 9', /unexpected "9" after "8"/],
    ['limit users alice interfaces 8', /unknown subject kind "users"/],
    ['include', /missing pattern after "include": expected a file path or a glob/],
    ['include a.conf b.conf', /unexpected "b\.conf" after "a\.conf"/],
    ['include a.conf', /include "a\.conf" is not supported here: loadAcl follows includes/],
  ];
  for (const [line, message] of cases) {
    const err = refused(t, () => parseAcl(`# line 1\n${line}   # a comment\nallow user alice all\n`, 'bad.conf'), aclErr('bad.conf:2'), message);
    t.match(err?.message ?? '', /^bad\.conf:2: .* \(.*\)$/, `file:line first and the line last: ${line}`);
    t.notMatch(err?.message ?? '', /a comment/, 'the line is shown without its comment');
  }
});

t.test('includes: sorted glob, relative paths, globs matching nothing, rules inlined in order', async (t) => {
  const main = fx('include', 'main.conf');
  const acl = loadAcl(main);
  t.strictSame(acl.files, [main, fx('include', 'acl.d', '10-allow.conf'), fx('include', 'acl.d', '20-deny.conf'), fx('shared', 'plain.conf')], 'not README, not .hidden.conf');
  t.strictSame(
    acl.rules.map((r) => `${path.relative(fixtures, r.file)}:${r.line} ${r.text}`),
    [
      'include/main.conf:3 allow group vmops bridge br*',
      'include/acl.d/10-allow.conf:1 allow user bob bridge br9',
      'include/acl.d/20-deny.conf:1 deny user carol bridge br0',
      'shared/plain.conf:1 deny group guests bridge br1',
      'include/main.conf:7 allow user bob dev eth0',
    ],
  );
  const carol: Caller = { uid: 1003, gid: 1003 };
  const d = decide(acl, carol, { kind: 'bridge', value: 'br0' }, accounts);
  t.equal(d.allowed, false, 'the deny in an included file wins over the allow before it in the main file');
  t.equal(d.rule?.file, fx('include', 'acl.d', '20-deny.conf'));
  t.equal(d.reason, `deny user carol bridge br0 (${fx('include', 'acl.d', '20-deny.conf')}:1) refuses user carol (uid 1003) bridge br0`);
  t.equal(decide(acl, carol, { kind: 'bridge', value: 'br2' }, accounts).allowed, true);
  t.equal(decide(acl, carol, { kind: 'bridge', value: 'br1' }, accounts).rule?.text, 'deny group guests bridge br1', 'the ../shared include');

  // a relative top file, an absolute include, a glob in a missing directory
  const dir = tmpDir(t, {
    'sub/x.conf': 'allow user alice ethernet\n',
    'abs.conf': 'deny user bob ethernet\n',
  });
  fs.writeFileSync(path.join(dir, 'top.conf'), `include sub/x.conf\ninclude nowhere/*.conf\ninclude ${path.join(dir, 'abs.conf')}\n`);
  const rel = path.relative(process.cwd(), path.join(dir, 'top.conf'));
  const top = loadAcl(rel);
  t.strictSame(top.files, [path.join(dir, 'top.conf'), path.join(dir, 'sub', 'x.conf'), path.join(dir, 'abs.conf')], 'files are absolute');
  t.strictSame(top.rules.map((r) => r.text), ['allow user alice ethernet', 'deny user bob ethernet']);

  // the same file twice, not nested, is no cycle
  const twice = tmpDir(t, { 'a.conf': 'include c.conf\ninclude c.conf\n', 'c.conf': 'allow user bob ethernet\n' });
  t.equal(loadAcl(path.join(twice, 'a.conf')).rules.length, 2);
});

t.test('include errors name the include line; errors in included files name theirs', async (t) => {
  const dir = tmpDir(t, {
    'missing.conf': '# comment\ninclude nope.conf\n',
    'a.conf': 'allow user alice all\ninclude b.conf\n',
    'b.conf': '# b\ninclude a.conf\n',
    'self/acl.conf': 'allow user alice all\ninclude *.conf\n',
    'globdir.conf': 'include */x.conf\n',
    'dir.conf': 'include d\n',
    'd/keep': '',
    'outer.conf': 'allow user alice all\ninclude inner/*.conf\n',
    'inner/bad.conf': '\n\nallow user alice bridge\n',
  });
  const at = (f: string, line: number) => aclErr(`${path.join(dir, f)}:${line}`);
  refused(t, () => loadAcl(path.join(dir, 'missing.conf')), at('missing.conf', 2), /:2: include "nope\.conf": .*\/nope\.conf does not exist \(ENOENT\) \(include nope\.conf\)$/);
  refused(t, () => loadAcl(path.join(dir, 'a.conf')), at('b.conf', 2), /include "a\.conf": include cycle: \S*\/a\.conf -> \S*\/b\.conf -> \S*\/a\.conf/);
  // a glob matching its own file
  refused(t, () => loadAcl(path.join(dir, 'self', 'acl.conf')), at('self/acl.conf', 2), /include "\*\.conf": include cycle: \S*\/self\/acl\.conf -> \S*\/self\/acl\.conf/);
  refused(t, () => loadAcl(path.join(dir, 'globdir.conf')), at('globdir.conf', 1), /only the last path component may hold '\*' or '\?'/);
  refused(t, () => loadAcl(path.join(dir, 'dir.conf')), at('dir.conf', 1), /cannot read \S*\/d: EISDIR/);
  refused(t, () => loadAcl(path.join(dir, 'outer.conf')), at('inner/bad.conf', 3), /bad\.conf:3: missing value after "bridge"/);
  refused(t, () => loadAcl(path.join(dir, 'absent.conf')), aclErr(path.join(dir, 'absent.conf')), /cannot read ACL file \S*absent\.conf: ENOENT/);
});

t.test('includes nest at most 8 deep', async (t) => {
  const chain = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}.conf`, i < n - 1 ? `include f${i + 1}.conf\n` : 'allow user alice ethernet\n']));
  const ok = tmpDir(t, chain(9));
  const acl = loadAcl(path.join(ok, 'f0.conf'));
  t.equal(acl.files.length, 9, 'the top file and 8 nested includes');
  t.equal(acl.rules[0].file, path.join(ok, 'f8.conf'));
  const deep = tmpDir(t, chain(10));
  refused(t, () => loadAcl(path.join(deep, 'f0.conf')), aclErr(`${path.join(deep, 'f8.conf')}:1`), /include "f9\.conf": includes nest deeper than 8 files/);
});

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
    throw new NetfdError(`getpwnam_r for ${field} ${value}: Connection refused (ECONNREFUSED): the name service failed`, { code: 'ACCOUNT_LOOKUP_FAILED', errno: -111, syscall: 'getpwnam_r', field, value });
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
  t.match(d('alice', br('br1')).reason, /^deny user broken bridge br1 \(f\.conf:2\) refuses user alice \(uid 1001\) bridge br1: user broken could not be resolved \(getpwnam_r for user broken: Connection refused \(ECONNREFUSED\).*\), so the rule refuses everyone it might cover \(fails closed\)$/);
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
  t.equal(interfaceLimit(groupLimits, users.carol, acc)?.line, 1, "a group limit applies to carol, whose groups cannot be looked up");
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

t.test('limits of every kind: state sizes in binary units, the smallest per kind, described as written', async (t) => {
  const acl = parseAcl('limit user * domains 16\nlimit  user *  state 4M\nlimit user alice state 512K\nlimit user * connections 8\nlimit user * requests 4\nallow user alice devname vm-*\n', 'k.conf');
  t.strictSame(
    acl.limits.map((l) => [l.what, l.value]),
    [['domains', 16], ['state', 4 * 1024 * 1024], ['state', 512 * 1024], ['connections', 8], ['requests', 4]],
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
