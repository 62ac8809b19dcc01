// recordedIn: which links a live XML records that are still netfd's (pure).
import t from 'tap';
import { recordedIn } from '../../../lib/netdev/live';
import type { LinkInfo } from '../../../lib/sys/link';
import { DomainXml } from '../../../lib/xml/domain';

t.test('recordedIn: recorded links that are still netfd’s, by kind and group or MAC', async (t) => {
  const live = DomainXml.parse(
    `<domain type='qemu'><name>x</name><memory unit='MiB'>128</memory><devices>
      <interface type='ethernet'><mac address='52:54:00:00:00:01'/><target dev='vnet0'/></interface>
      <interface type='direct'><mac address='52:54:00:00:00:02'/><source dev='v0' mode='bridge'/><target dev='macvtap0'/></interface>
      <interface type='ethernet'><mac address='52:54:00:00:00:03'/><target dev='mine' managed='no'/></interface>
      <interface type='ethernet'><mac address='52:54:00:00:00:04'/><target dev='gone0'/></interface>
    </devices></domain>`,
    { live: true },
  );
  const link = (index: number, name: string, kind: string, mac: string, group: number) => ({ index, name, kind, mac, group }) as LinkInfo;
  const links = [link(5, 'vnet0', 'tun', 'fe:54:00:00:00:01', 9), link(6, 'macvtap0', 'macvtap', '52:54:00:00:00:02', 8), link(7, 'mine', 'tun', 'fe:54:00:00:00:03', 9)];
  t.same(recordedIn(live.def.interfaces, links), { indexes: [5, 6], deleted: ['vnet0', 'macvtap0'], skipped: ['gone0'] }, 'by MAC without a group');
  t.same(recordedIn(live.def.interfaces, links, 9), { indexes: [5], deleted: ['vnet0'], skipped: ['macvtap0', 'gone0'] }, 'by group with one');
});
