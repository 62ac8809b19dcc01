// The CLI's help is one table (lib/cli/help.ts): the global help, each
// verb's --help and the verbs' usage errors all come from it, and it covers
// exactly the verbs main() runs.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { usage, VERB_NAMES } from '../../../lib/cli/main';
import { globalUsage, helpRow, synopsis, VERBS, verbUsage } from '../../../lib/cli/help';
import { cli } from '../../helpers/cli';

t.test('one row per verb, one verb per row', async (t) => {
  for (const v of VERB_NAMES) t.ok(helpRow(v), `'${v}' has a help row`);
  for (const r of VERBS) for (const v of r.verbs) t.ok(VERB_NAMES.includes(v), `row '${r.synopsis.split(' [')[0]}' names the verb '${v}'`);
  const covered = VERBS.flatMap((r) => r.verbs);
  t.equal(new Set(covered).size, covered.length, 'no verb has two rows');
});

t.test('netfd --help is every row; lines fit 80 columns', async (t) => {
  t.equal(usage, globalUsage());
  t.match(await cli('--help'), { code: 0, out: usage });
  for (const r of VERBS) t.ok(usage.includes(r.synopsis.split(' ').slice(0, 2).join(' ')), `global help has ${r.synopsis.split(' ')[0]}`);
  for (const line of usage.split('\n')) t.ok(line.length <= 80, `fits: ${line}`);
});

t.test('netfd VERB --help prints that verb', async (t) => {
  for (const v of VERB_NAMES) {
    const r = await cli(...v.split(' '), '--help');
    t.equal(r.code, 0, `${v} --help exits 0`);
    t.equal(r.out, verbUsage(v), `${v} --help`);
    t.match(r.out.replace(/\s+/g, ' '), synopsis(v).replace(/\s+/g, ' '), `${v} --help shows its synopsis`);
    t.notMatch(r.out, /^ {2}net-define/m, `${v} --help is not the global help`);
  }
  t.match(await cli('net-start', '-h'), { code: 0, out: /^usage: netfd \[GLOBAL OPTIONS\] net-start NAME\n/ });
});

t.test('usage errors quote the table', async (t) => {
  t.match(await cli('destroy'), { code: 2, err: `netfd destroy: usage: ${synopsis('destroy')}\n` });
  t.match(await cli('net-start'), { code: 2, err: `netfd net-start: usage: ${synopsis('net-start')}\n` });
  t.match(await cli('domxml-from-native', 'xen-xl'), { code: 2, err: /usage: domxml-from-native xen-xl FILE \[--xend-config-version N\]/ });
});

t.test('netfd --version', async (t) => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  t.strictSame(await cli('--version'), { code: 0, out: `netfd ${pkg.version}\n`, err: '' });
});
