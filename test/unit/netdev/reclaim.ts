// The search for what a setup cut short left behind (lib/netdev/reclaim.ts
// halfMadeLinks), over a table of links as listLinks reports them: by link
// group (the agent's recovery), by pool device and group or MAC (a network's
// reclaim), minus the links a live XML records. Pure: no netlink.
import t from 'tap';
import { halfMadeLinks, HalfMadeQuery } from '../../../lib/netdev/reclaim';
import type { LinkInfo } from '../../../lib/sys/link';

const A = '52:54:00:00:00:0a';
const B = '52:54:00:00:00:0b';
const link = (index: number, name: string, kind: string | null, more: Partial<LinkInfo> = {}): LinkInfo => ({
  index,
  name,
  kind,
  mode: null,
  parent: null,
  master: null,
  mac: null,
  mtu: 1500,
  flags: 0,
  up: false,
  lowerUp: false,
  group: 0,
  numTxQueues: 1,
  numRxQueues: 1,
  linkNetnsId: null,
  tun: null,
  ...more,
});

const links = [
  link(1, 'lo', null),
  link(2, 'p0', 'veth'),
  link(3, 'p1', 'veth'),
  link(10, 'macvtap0', 'macvtap', { parent: 2, group: 7, mac: A }),
  link(11, 'macvtap1', 'macvtap', { parent: 2, group: 8, mac: B }),
  link(12, 'macvtap2', 'macvtap', { parent: 3, group: 7, mac: A }),
  link(13, 'vnet0', 'tun', { group: 7, mac: A }),
  link(14, 'macvlan0', 'macvlan', { parent: 2, group: 7, mac: A }),
  link(15, 'macvtap3', 'macvtap', { parent: 2, group: 0, mac: A }),
];

const cases: [string, HalfMadeQuery, string[]][] = [
  ['a group: every link of it, whatever its kind', { group: 7 }, ['macvtap0', 'macvtap2', 'vnet0', 'macvlan0']],
  ['a group minus what the live XML records', { group: 7, keep: new Set([10, 13]) }, ['macvtap2', 'macvlan0']],
  ['a pool device and a group: the macvtaps of that group on it', { parent: 'p0', group: 7 }, ['macvtap0']],
  ['a pool device and a group its macvtaps are not in', { parent: 'p1', group: 8 }, []],
  ['a pool device without a group: its macvtaps with the MAC (before groups)', { parent: 'p0', mac: A }, ['macvtap0', 'macvtap3']],
  ['a passthrough device without a group: every macvtap on it', { parent: 'p0', mac: null }, ['macvtap0', 'macvtap1', 'macvtap3']],
  ['a pool device that is gone: nothing', { parent: 'nosuch', mac: null }, []],
  ['a pool device that is gone, with a group: nothing', { parent: 'nosuch', group: 7 }, []],
  ['neither a group nor a device: nothing', {}, []],
  ['a MAC alone names nothing', { mac: A }, []],
];

t.test('halfMadeLinks: by group, by pool device and group or MAC, minus the links kept', async (t) => {
  for (const [name, q, want] of cases)
    t.strictSame(
      halfMadeLinks(links, q).map((l) => l.name),
      want,
      name,
    );
});
