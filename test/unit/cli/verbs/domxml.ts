// domxml-to-native / domxml-from-native for the Xen formats: pure, through main().
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { cli } from '../../../helpers/cli';

t.test('domxml-to-native / domxml-from-native xen-*: the golden files through the CLI', async (t) => {
  const dir = path.join(__dirname, '..', '..', '..', 'fixtures', 'xen');
  for (const f of ['xm', 'xl', 'sxpr']) {
    const to = await cli('domxml-to-native', `xen-${f}`, path.join(dir, 'hvm-netfront.xml'));
    t.strictSame(to, { code: 0, out: fs.readFileSync(path.join(dir, `hvm-netfront.${f}`), 'utf8'), err: '' }, `xen-${f}: XML to native`);
    const from = await cli('domxml-from-native', `xen-${f}`, path.join(dir, `hvm-netfront.${f}`));
    t.equal(from.code, 0);
    t.match(from.out, "<model type='netfront'/>", `xen-${f}: native to XML gives model netfront`);
  }
  const old = await cli('domxml-to-native', 'xen-xm', path.join(dir, 'hvm-no-model.xml'), '--xend-config-version', '3');
  t.equal(old.out, fs.readFileSync(path.join(dir, 'hvm-no-model-xend3.xm'), 'utf8'), 'xend config version 3: type=ioemu');
  t.match(await cli('domxml-to-native', 'xen-xm', path.join(dir, 'hvm-no-model.xml'), '--xend-config-version', 'x'), { code: 1, err: /invalid xend-config-version "x"/ });
  t.match(await cli('domxml-from-native', 'xen-xl'), { code: 2, err: /usage: domxml-from-native xen-xl FILE/ });
});
