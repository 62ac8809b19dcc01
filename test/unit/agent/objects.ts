// What each interface asks of the ACL (lib/agent/objects.ts).
import t from 'tap';
import { aclObjects } from '../../../lib/agent/objects';
import { DomainXml } from '../../../lib/xml/domain';

const iface = (xml: string) => DomainXml.parse(`<domain type='qemu'><name>x</name><memory>65536</memory><devices>${xml}</devices></domain>`).def.interfaces[0];

t.test('aclObjects: what each interface touches', async (t) => {
  const rows: [string, unknown][] = [
    ["<interface type='bridge'><source bridge='br0'/></interface>", [{ kind: 'bridge', value: 'br0' }]],
    [
      "<interface type='direct'><source dev='eth1' mode='vepa'/></interface>",
      [
        { kind: 'dev', value: 'eth1' },
        { kind: 'mode', value: 'vepa' },
      ],
    ],
    [
      "<interface type='direct'><source dev='eth1'/></interface>",
      [
        { kind: 'dev', value: 'eth1' },
        { kind: 'mode', value: 'vepa' },
      ],
    ],
    [
      "<interface type='direct'><source dev='eth1' mode='passthrough'/></interface>",
      [
        { kind: 'dev', value: 'eth1' },
        { kind: 'mode', value: 'passthrough' },
      ],
    ],
    ["<interface type='network'><source network='pool1'/></interface>", [{ kind: 'network', value: 'pool1' }]],
    ["<interface type='ethernet'/>", [{ kind: 'ethernet' }]],
    ["<interface type='ethernet'><target dev='mytap0'/></interface>", [{ kind: 'ethernet' }, { kind: 'devname', value: 'mytap0' }]],
    [
      "<interface type='bridge'><source bridge='br0'/><target dev='br1'/></interface>",
      [
        { kind: 'bridge', value: 'br0' },
        { kind: 'devname', value: 'br1' },
      ],
    ],
    ["<interface type='ethernet'><target dev='mytap0' managed='no'/></interface>", [{ kind: 'all' }]],
    ["<interface type='bridge'><source bridge='br0'/><backend tap='/dev/net/tun'/></interface>", [{ kind: 'bridge', value: 'br0' }, { kind: 'all' }]],
    ["<interface type='bridge'><source bridge='br0'/><model type='virtio'/><backend vhost='/tmp/evil'/></interface>", [{ kind: 'bridge', value: 'br0' }, { kind: 'all' }]],
  ];
  for (const [xml, want] of rows) t.same(aclObjects(iface(xml)), want, xml);
});
