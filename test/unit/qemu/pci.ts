// lib/qemu/pci.ts: query-pci replies (a real qemu 7.2 one, and a crafted one
// with bridges and a second root bus) turned into libvirt's PCI addresses.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { formatPci, parsePci, pciAddresses } from '../../../lib/qemu/pci';

const fixture = (name: string): unknown => JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'qmp', name), 'utf8'));

// qemu 7.2 -M pc -nodefaults -S with -device virtio-net-pci,id=net0 (abridged: ids and places as qemu gave them).
const REAL = [
  {
    bus: 0,
    devices: [
      { irq_pin: 0, bus: 0, qdev_id: '', slot: 0, class_info: { class: 1536, desc: 'Host bridge' }, id: { device: 4663, vendor: 32902 }, function: 0, regions: [] },
      { irq_pin: 0, bus: 0, qdev_id: '', slot: 1, class_info: { class: 1537, desc: 'ISA bridge' }, id: { device: 28672, vendor: 32902 }, function: 0, regions: [] },
      { irq_pin: 1, bus: 0, qdev_id: 'net0', irq: 0, slot: 2, class_info: { class: 512, desc: 'Ethernet controller' }, id: { device: 4096, vendor: 6900 }, function: 0, regions: [] },
    ],
  },
];

t.test('devices on the root bus are on libvirt bus 0', async (t) => {
  t.strictSame([...pciAddresses(REAL)], [['net0', { bus: 0, slot: 2, function: 0 }]], 'devices without an id are left out');
});

t.test('behind a bridge named pci.N: bus N; behind other bridges, or on another root bus: no address', async (t) => {
  const m = pciAddresses(fixture('query-pci-bridge.json'));
  t.strictSame(Object.fromEntries(m), {
    net0: { bus: 0, slot: 2, function: 0 },
    'ua-mine': { bus: 0, slot: 9, function: 3 },
    'pci.1': { bus: 0, slot: 5, function: 0 },
    net1: { bus: 1, slot: 1, function: 0 },
    bridge2: { bus: 1, slot: 3, function: 0 },
    net3: { bus: 0, slot: 31, function: 7 },
  });
  t.notOk(m.has('net2'), "behind bridge2 (not libvirt's pci.N): no bus libvirt could name");
  t.notOk(m.has('net4'), 'a second root bus (pxb): left out');
});

t.test('malformed replies give what can be read, never throw', async (t) => {
  for (const bad of [null, 42, 'x', {}, [null], [{ bus: 0 }], [{ bus: 0, devices: 'x' }], [{ bus: 1, devices: [] }]]) t.equal(pciAddresses(bad).size, 0, JSON.stringify(bad));
  const odd = [
    {
      bus: 0,
      devices: [
        null,
        7,
        { qdev_id: 'a', slot: 32, function: 0 },
        { qdev_id: 'b', slot: 1, function: 8 },
        { qdev_id: 'c', slot: '1', function: 0 },
        { qdev_id: 5, slot: 1, function: 0 },
        { qdev_id: 'ok', slot: 4, function: 1 },
        { qdev_id: 'pci.0', slot: 6, function: 0, pci_bridge: { devices: [{ qdev_id: 'under0', slot: 1, function: 0 }] } },
        { qdev_id: 'pci.256', slot: 7, function: 0, pci_bridge: { devices: [{ qdev_id: 'under256', slot: 1, function: 0 }] } },
        { qdev_id: 'pci.2', slot: 8, function: 0, pci_bridge: {} },
      ],
    },
  ];
  t.strictSame([...pciAddresses(odd).keys()], ['ok', 'pci.0', 'pci.256', 'pci.2'], 'out-of-range slot/function, non-number and non-string fields skipped; pci.0 and pci.256 are no controller');
});

t.test('formatPci / parsePci', async (t) => {
  t.equal(formatPci({ bus: 0, slot: 3, function: 0 }), '00:03.0');
  t.equal(formatPci({ bus: 0x1f, slot: 0x1f, function: 7 }), '1f:1f.7');
  t.strictSame(parsePci('00:03.0'), { bus: 0, slot: 3, function: 0 });
  t.strictSame(parsePci('0A:1F.7'), { bus: 10, slot: 31, function: 7 });
  for (const bad of ['', '0:3.0', '00:20.0', '00:03.8', '00:03', 'xx:03.0', '00:03.0 ', '000:03.0']) t.equal(parsePci(bad), null, bad);
});
