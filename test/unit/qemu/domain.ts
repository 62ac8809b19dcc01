// lib/qemu/domain.ts: the qemu arguments of a domain netdev prepared (its
// fds numbered in spawn-slot order), and previewDomain, the arguments a
// domain would get, with no change to the host.
import t from 'tap';
import type { PreparedInterface } from '../../../lib/netdev/domain';
import { planDomain } from '../../../lib/policy';
import { PreparedDomain, previewDomain } from '../../../lib/qemu/domain';
import { FdSet } from '../../../lib/sys/fds';
import { DomainXml } from '../../../lib/xml/domain';

t.test("previewDomain({ netOnly: true }): the interfaces' arguments, whatever else the domain holds", async (t) => {
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
  const full = DomainXml.parse(
    "<domain type='qemu'><name>f</name><memory>1024</memory><devices><disk type='block'><source dev='/dev/vg/f'/><target dev='vda'/></disk><interface type='ethernet'><mac address='52:54:00:00:00:32'/></interface></devices></domain>",
  );
  t.strictSame((await previewDomain(full, { ...o, netOnly: true })).argv, ['-netdev', 'tap,id=hostnet0,fd=3,vhost=off', '-device', 'rtl8139,netdev=hostnet0,id=net0,mac=52:54:00:00:00:32']);
  t.match((await previewDomain(full, o)).argv, ['qemu-system-x86_64'], 'without the option: the whole command line');
  t.strictSame((await previewDomain(DomainXml.parse(xml, { netOnly: true }), o)).argv, p.argv);
});

t.test('PreparedDomain: the prepared fds in spawn-slot order, and the argv numbering them so', async (t) => {
  const xml = DomainXml.parse(`<domain type='kvm'><name>vm</name><memory unit='MiB'>64</memory><devices>
    <interface type='ethernet'><mac address='52:54:00:00:00:41'/><model type='virtio'/><driver queues='2'/></interface>
    <interface type='ethernet'><mac address='52:54:00:00:00:42'/><model type='virtio'/></interface>
  </devices></domain>`);
  const plans = planDomain(xml.def, () => new Uint8Array(3));
  // fd numbers stand in for open fds: nothing here closes them.
  const iface = (n: number, tap: number[], vhost: number[]): PreparedInterface => ({
    plan: plans[n],
    decision: { vhost: vhost.length > 0, record: vhost.length > 0 ? 'vhost' : 'qemu' },
    name: `vnet${n}`,
    ifindex: 10 + n,
    kind: 'tap',
    created: true,
    fds: new FdSet(tap),
    vhostFds: new FdSet(vhost),
  });
  const d = new PreparedDomain(xml, [iface(0, [40, 41], [42, 43]), iface(1, [44], [])], '<domain/>', '/nonexistent/vm.xml', {});
  t.same(d.qemuFds(), [40, 41, 42, 43, 44], 'tap queues, then vhost fds, interface by interface');
  t.same(
    d.netArgs().map((n) => [n.tapFds, n.vhostFds]),
    [
      [
        [3, 4],
        [5, 6],
      ],
      [[7], []],
    ],
    'numbered from 3 in that order',
  );
  t.same(d.netArgs(10)[1].tapFds, [14], 'or from another first slot');
  const argv = d.argv({ qmp: '/run/q' });
  t.same(
    argv.filter((_, i) => argv[i - 1] === '-netdev'),
    ['tap,id=hostnet0,fds=3:4,vhost=on,vhostfds=5:6', 'tap,id=hostnet1,fd=7,vhost=off'],
  );
  t.ok(argv.includes('unix:/run/q,server=on,wait=off'), 'the QMP socket');
});
