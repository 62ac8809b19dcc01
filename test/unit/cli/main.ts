// The command line's words: help, unknown verbs, usage errors and bad
// values, each one line and a non-zero exit, before any host change (so it
// runs without privileges, and no global option that sets an env variable).
import t from 'tap';
import { cli } from '../../helpers/cli';
import { usage } from '../../../lib/cli/main';

t.test('help and unknown verbs', async (t) => {
  t.match(await cli('--help'), { code: 0, out: usage });
  t.match(await cli('link', 'show', '--help'), { code: 0, out: /link show/ });
  t.match(await cli(), { code: 2 });
  t.match(await cli('frobnicate'), { code: 2, err: /unknown command 'frobnicate'/ });
});

t.test('bad input: one clear line naming the field and value, non-zero exit', async (t) => {
  t.match(await cli('tap', 'create', '--name', 'a b'), { code: 1, err: /^netfd tap create: INVALID_ARGUMENT: invalid name "a b"/ });
  t.match(await cli('tap', 'create', '--queues', '300'), { code: 1, err: /invalid queues "300"/ });
  t.match(await cli('tap', 'create', '--template', 'vnet'), { code: 1, err: /invalid template "vnet"/ });
  t.match(await cli('macvtap', 'create', '--link', 'v0', '--mode', 'pepa'), { code: 1, err: /invalid mode "pepa"/ });
  t.match(await cli('macvtap', 'create', '--link', 'v0', '--mode', 'vepa', '--mac', '01:00:00:00:00:01'), { code: 1, err: /invalid mac "01:00:00:00:00:01": a multicast/ });
  t.match(await cli('macvtap', 'create', '--mode', 'vepa'), { code: 2, err: /needs --link/ });
  t.match(await cli('macvtap', 'create', '--link', 'v0'), { code: 2, err: /needs --mode/ });
  t.match(await cli('link', 'show', '--netns', 'a/b'), { code: 1, err: /invalid netns "a\/b"/ });
  t.match(await cli('link', 'delete'), { code: 2, err: /exactly one link/ });
  t.match(await cli('link', 'set', 'x', '--up', '--down'), { code: 2 });
  t.match(await cli('tap', 'create', '--bogus'), { code: 2, err: /Unknown option '--bogus'/ });
  const r = await cli('tap', 'create', '--name', 'x'.repeat(16));
  t.equal(r.err.trim().split('\n').length, 1, 'one line');
});

t.test('global options may stand before the verb', async (t) => {
  t.match(await cli('--netns', 'a/b', 'link', 'show'), { code: 1, err: /invalid netns/ });
});
