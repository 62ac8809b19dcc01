// Which tc runs, and how it reaches the device's namespace. Pure, but for
// one fake tc script run as the unprivileged user.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { runTc, tcBinary, tcCommand, TC_PATHS } from '../../../lib/sys/tc';

t.test('tcBinary: the option, else NETFD_TC, else the first of the usual paths', async (t) => {
  t.equal(tcBinary('/opt/tc', { NETFD_TC: '/x/tc' }), '/opt/tc');
  t.equal(tcBinary(undefined, { NETFD_TC: '/x/tc' }), '/x/tc');
  t.equal(
    tcBinary(undefined, {}, (p) => p === '/sbin/tc'),
    '/sbin/tc',
  );
  t.equal(TC_PATHS[0], '/usr/sbin/tc');
  t.throws(() => tcBinary('tc', {}), { code: 'INVALID_ARGUMENT', field: 'tc' }, 'a relative name is not looked up in PATH');
  t.throws(() => tcBinary(undefined, { NETFD_TC: 'sbin/tc' }), { code: 'INVALID_ARGUMENT', field: 'NETFD_TC' });
  t.throws(() => tcBinary(undefined, {}, () => false), { code: 'TC_UNAVAILABLE', message: /install iproute2/ });
});

t.test("tcCommand: tc -n NAME for a namespace name, nsenter --net=PATH for a path, nothing for the caller's own", async (t) => {
  const has = () => true;
  t.same(tcCommand(['qdisc', 'show'], {}, '/usr/sbin/tc', has), ['/usr/sbin/tc', ['qdisc', 'show']]);
  t.same(tcCommand(['qdisc', 'show'], { netns: 'guests' }, '/usr/sbin/tc', has), ['/usr/sbin/tc', ['-n', 'guests', 'qdisc', 'show']]);
  t.same(tcCommand(['qdisc', 'show'], { netns: '/proc/42/ns/net' }, '/usr/sbin/tc', has), ['/usr/bin/nsenter', ['--net=/proc/42/ns/net', '--', '/usr/sbin/tc', 'qdisc', 'show']]);
  t.same(tcCommand(['qdisc', 'show'], { netns: '-n' }, '/usr/sbin/tc', has), ['/usr/bin/nsenter', ['--net=/run/netns/-n', '--', '/usr/sbin/tc', 'qdisc', 'show']], 'a name tc would read as an option');
  t.throws(() => tcCommand([], { netns: 'a/b' }, '/usr/sbin/tc', has), { code: 'INVALID_ARGUMENT', field: 'netns' });
  t.throws(() => tcCommand([], { netns: '/proc/1/ns/net' }, '/usr/sbin/tc', () => false), { code: 'TC_UNAVAILABLE', message: /nsenter/ });
});

t.test('runTc: LC_ALL=C, a fixed PATH; a failure is TC_FAILED with the command and what tc said', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-tc-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tc = path.join(dir, 'tc');
  const out = path.join(dir, 'out');
  fs.writeFileSync(tc, `#!/bin/sh\necho "$LC_ALL $PATH $*" > ${out}\n[ "$1" = fail ] && { echo 'Error: nope.' >&2; echo 'second line' >&2; exit 2; }\nexit 0\n`, { mode: 0o755 });
  await runTc(['qdisc', 'show'], { tc });
  t.equal(fs.readFileSync(out, 'utf8'), 'C /usr/sbin:/usr/bin:/sbin:/bin qdisc show\n');
  await t.rejects(runTc(['fail', 'now'], { tc }), { code: 'TC_FAILED', value: 'fail now', message: 'tc fail now failed (exit 2): Error: nope. | second line' });
  await t.rejects(runTc(['x'], { tc: path.join(dir, 'missing') }), { code: 'TC_UNAVAILABLE' });
});
