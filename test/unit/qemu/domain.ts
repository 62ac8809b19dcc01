// previewDomain (lib/qemu/domain.ts): the qemu arguments a domain would get,
// with no change to the host.
import t from 'tap';
import { previewDomain } from '../../../lib/qemu/domain';
import { DomainXml } from '../../../lib/xml/domain';

t.test('previewDomain({ netOnly: true }): the interfaces\' arguments, whatever else the domain holds', async (t) => {
  const xml = `<domain type='kvm'><name>vm</name><devices>
    <disk type='network'><source protocol='rbd' name='p/i'><host name='mon1'/></source><target dev='vda'/></disk>
    <serial type='udp'/><graphics type='spice'/>
    <interface type='ethernet'><mac address='52:54:00:00:00:31'/><model type='virtio'/></interface>
  </devices></domain>`;
  const o = { vhostDevice: '/nonexistent/vhost-net' };
  await t.rejects(previewDomain(xml, o), { code: 'INVALID_ARGUMENT', field: '/domain' }, 'the whole domain is refused (no <memory>)');
  const p = await previewDomain(xml, { ...o, netOnly: true });
  t.strictSame(p.argv, ['-netdev', 'tap,id=hostnet0,fd=3,vhost=off', '-device', 'virtio-net-pci,netdev=hostnet0,id=net0,mac=52:54:00:00:00:31']);
  t.equal(p.xml.def.netOnly, true);
  // A fully parsed domain can be previewed net-only too; a netOnly one is net-only anyway.
  const full = DomainXml.parse("<domain type='qemu'><name>f</name><memory>1024</memory><devices><disk type='block'><source dev='/dev/vg/f'/><target dev='vda'/></disk><interface type='ethernet'><mac address='52:54:00:00:00:32'/></interface></devices></domain>");
  t.strictSame((await previewDomain(full, { ...o, netOnly: true })).argv, ['-netdev', 'tap,id=hostnet0,fd=3,vhost=off', '-device', 'rtl8139,netdev=hostnet0,id=net0,mac=52:54:00:00:00:32']);
  t.match((await previewDomain(full, o)).argv, ['qemu-system-x86_64'], 'without the option: the whole command line');
  t.strictSame((await previewDomain(DomainXml.parse(xml, { netOnly: true }), o)).argv, p.argv);
});
