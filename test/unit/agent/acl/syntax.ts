// The host agent's ACL as written (lib/agent/acl/syntax.ts): globs, parsing,
// includes, every syntax error, rules described as written.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { type Caller, decide } from '../../../../lib/agent/acl/decide';
import { type Acl, type AclObject, describe, globMatch, loadAcl, parseAcl, type Rule } from '../../../../lib/agent/acl/syntax';
import { accounts, fixtures, fx, tmpDir } from '../../../helpers/acl';
import { refused } from '../../../helpers/refused';

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
    ['limit user alice queues 8', /unknown limit "queues": expected interfaces, domains, state, connections, requests, rate/],
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
  t.strictSame(
    top.rules.map((r) => r.text),
    ['allow user alice ethernet', 'deny user bob ethernet'],
  );

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
