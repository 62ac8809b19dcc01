// link show's lines, as `ip -d link show` prints them.
import t from 'tap';
import { formatLink } from '../../../../lib/cli/verbs/link';
import type { LinkInfo } from '../../../../lib/netdev/links';

t.test('link lines look like ip -d link show', async (t) => {
  const l: LinkInfo = {
    index: 4,
    name: 'mvt0',
    kind: 'macvtap',
    mode: 'bridge',
    parent: 3,
    master: null,
    mac: '52:54:00:12:34:56',
    mtu: 1500,
    flags: 0x1003,
    up: true,
    lowerUp: false,
    group: 0,
    numTxQueues: 1,
    numRxQueues: 1,
    linkNetnsId: null,
    tun: null,
  };
  t.equal(formatLink(l, new Map([[3, 'v0']])), '4: mvt0@v0: <BROADCAST,MULTICAST,UP> mtu 1500 state UP\n    link/ether 52:54:00:12:34:56\n    macvtap mode bridge');
  const tap: LinkInfo = {
    ...l,
    name: 'vnet0',
    kind: 'tun',
    mode: null,
    parent: null,
    master: 9,
    up: false,
    flags: 0x1002,
    tun: { type: 'tap', pi: false, vnetHdr: true, persist: true, multiQueue: true, numQueues: 4, owner: null, group: null },
  };
  t.equal(
    formatLink(tap, new Map()),
    '4: vnet0: <BROADCAST,MULTICAST> mtu 1500 master if9 state DOWN\n    link/ether 52:54:00:12:34:56\n    tun type tap pi off vnet_hdr on multi_queue numqueues 4 persist on',
  );
});
