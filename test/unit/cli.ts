// CLI parsing and output. Everything here fails before any host change, so
// it runs without privileges.
import t from 'tap';
import { formatLink, main, usage } from '../../lib/cli/main';
import type { LinkInfo } from '../../lib/link';

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

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

t.test('link lines look like ip -d link show', async (t) => {
  const l: LinkInfo = {
    index: 4, name: 'mvt0', kind: 'macvtap', mode: 'bridge', parent: 3, master: null, mac: '52:54:00:12:34:56', mtu: 1500, flags: 0x1003,
    up: true, lowerUp: false, group: 0, numTxQueues: 1, numRxQueues: 1, linkNetnsId: null, tun: null,
  };
  t.equal(formatLink(l, new Map([[3, 'v0']])), '4: mvt0@v0: <BROADCAST,MULTICAST,UP> mtu 1500 state UP\n    link/ether 52:54:00:12:34:56\n    macvtap mode bridge');
  const tap: LinkInfo = { ...l, name: 'vnet0', kind: 'tun', mode: null, parent: null, master: 9, up: false, flags: 0x1002,
    tun: { type: 'tap', pi: false, vnetHdr: true, persist: true, multiQueue: true, numQueues: 4, owner: null, group: null } };
  t.equal(formatLink(tap, new Map()), '4: vnet0: <BROADCAST,MULTICAST> mtu 1500 master if9 state DOWN\n    link/ether 52:54:00:12:34:56\n    tun type tap pi off vnet_hdr on multi_queue numqueues 4 persist on');
});
