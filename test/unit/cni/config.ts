// Network configurations: the <interface> document or the shorthands, the
// injected fields, and what is refused with which code. Pure.
import t from 'tap';
import { parseConfig, shorthandXml } from '../../../lib/cni/config';
import { CniError } from '../../../lib/cni/errors';
import { golden } from '../../helpers/cni-golden';

const base = { cniVersion: '1.0.0', name: 'vmnet', type: 'netfd' };
const text = (x: Record<string, unknown>) => JSON.stringify({ ...base, ...x });

function refusal(x: string | Record<string, unknown> | (() => unknown), command: Parameters<typeof parseConfig>[1] = 'ADD'): CniError {
  try {
    if (typeof x === 'function') x();
    else parseConfig(typeof x === 'string' ? x : text(x), command);
  } catch (e) {
    if (!(e instanceof CniError)) throw e;
    return e;
  }
  throw new Error('accepted');
}

t.test('the shorthands make an <interface> document', async (t) => {
  golden(t, 'shorthands', {
    tap: shorthandXml({}),
    tapQueues: shorthandXml({ queues: 4, vhost: true, mtu: 9000 }),
    macvtap: shorthandXml({ master: 'eth1', mode: 'private' }),
    macvtapDefaultMode: shorthandXml({ master: 'eth1' }),
    passthru: shorthandXml({ master: 'eth1', mode: 'passthru', vhost: false }),
    bridge: shorthandXml({ bridge: 'br0' }),
    network: shorthandXml({ network: 'pool-a' }),
  });
});

t.test('a configuration as a runtime hands it over', async (t) => {
  const c = parseConfig(
    text({
      cniVersion: '0.3.1',
      queues: 2,
      runtimeConfig: { mac: '52:54:00:AA:BB:CC', deviceID: '0000:03:00.1' },
      ipam: { type: 'static', addresses: [{ address: '10.1.0.5/24' }] },
      dns: { nameservers: ['10.1.0.1'] },
      args: { cni: { labels: {} } },
      capabilities: { mac: true },
      socket: '/run/netfd/agent.sock',
      prevResult: { cniVersion: '0.3.1', interfaces: [] },
    }),
    'ADD',
    { deviceMaster: (id) => (id === '0000:03:00.1' ? 'enp3s0f0v0' : 'wrong') },
  );
  golden(t, 'config-full', c);
});

t.test("runtimeConfig.deviceID: the device plugin's VF is the macvtap's master, passthrough unless mode says otherwise", async (t) => {
  const vf = { deviceMaster: (id: string) => (id === '0000:03:00.2' ? 'enp3s0f0v1' : 'wrong') };
  const c = parseConfig(text({ runtimeConfig: { deviceID: '0000:03:00.2' } }), 'ADD', vf);
  t.same(c.iface.type, 'direct');
  t.same(c.iface.source, { dev: 'enp3s0f0v1', mode: 'passthrough' }, "the VF's netdev, passthrough");
  t.same(parseConfig(text({ mode: 'vepa', runtimeConfig: { deviceID: '0000:03:00.2' } }), 'ADD', vf).iface.source, { dev: 'enp3s0f0v1', mode: 'vepa' }, 'mode as given');
  t.same(parseConfig(text({ runtimeConfig: { deviceID: '0000:03:00.2' } }), 'DEL', vf).iface.source.dev, 'enp3s0f0v1', 'DEL reads it the same way');
  for (const k of ['master', 'bridge', 'network'])
    t.match(
      refusal(() => parseConfig(text({ [k]: k === 'master' ? 'eth1' : k === 'bridge' ? 'br0' : 'pool', runtimeConfig: { deviceID: '0000:03:00.2' } }), 'ADD', vf)),
      { cniCode: 7, message: new RegExp(`${k}.*runtimeConfig.deviceID names the VF`) },
      `deviceID with ${k}: 7`,
    );
  t.match(
    refusal(() => parseConfig(text({ interface: "<interface type='direct'><source dev='eth1'/></interface>", runtimeConfig: { deviceID: '0000:03:00.2' } }), 'ADD', vf)),
    { cniCode: 2, message: /runtimeConfig.deviceID="0000:03:00.2".*<source dev>/ },
    'with an <interface> document: 2',
  );
  t.throws(() => parseConfig(text({ runtimeConfig: { deviceID: '0000:03:00.2' } }), 'ADD'), TypeError, 'the caller must say how to find the VF');
});

t.test('the <interface> document verbatim', async (t) => {
  const xml =
    "<interface type='direct'>\n  <source dev='eth1' mode='passthrough'/>\n  <model type='virtio'/>\n  <driver name='vhost' queues='4'/>\n  <mac address='52:54:00:00:00:01'/>\n  <mtu size='1400'/>\n</interface>";
  const c = parseConfig(text({ interface: xml }), 'ADD');
  t.equal(c.xml, xml, 'kept verbatim');
  t.same(c.iface.source, { dev: 'eth1', mode: 'passthrough' });
  t.same(c.iface.driver, { name: 'vhost', queues: 4 });
  t.equal(c.iface.mac, '52:54:00:00:00:01');
  t.equal(c.iface.mtu, 1400);
  const withMac = parseConfig(text({ interface: "<interface type='ethernet'/>", runtimeConfig: { mac: '52:54:00:00:00:02' } }), 'ADD');
  t.match(withMac.xml, /<mac address="52:54:00:00:00:02"\/>/, "runtimeConfig's MAC goes into the document");
  t.equal(withMac.iface.mac, '52:54:00:00:00:02');
  const same = parseConfig(text({ interface: "<interface type='ethernet'><mac address='52:54:00:00:00:02'/></interface>", runtimeConfig: { mac: '52:54:00:00:00:02' } }), 'ADD');
  t.equal(same.iface.mac, '52:54:00:00:00:02', 'the same MAC in both places');
  for (const type of ['ethernet', 'bridge', 'direct', 'network']) {
    const src = { ethernet: '', bridge: "<source bridge='br0'/>", direct: "<source dev='eth0'/>", network: "<source network='n'/>" }[type];
    t.equal(parseConfig(text({ interface: `<interface type='${type}'>${src}</interface>` }), 'ADD').iface.type, type);
  }
});

t.test('bad JSON is 6, a bad version 1 or 7', async (t) => {
  t.equal(refusal('{"cniVersion": ').cniCode, 6);
  t.equal(refusal('').cniCode, 6);
  t.equal(refusal('[1]').cniCode, 7, 'not an object');
  t.equal(refusal({ cniVersion: '0.2.0' }).cniCode, 1);
  t.equal(refusal({ cniVersion: undefined }).cniCode, 7);
  t.equal(refusal({ cniVersion: '0.3.1' }, 'CHECK').cniCode, 1, '0.3.1 has no CHECK');
  t.equal(refusal({ cniVersion: '1.0.0' }, 'GC').cniCode, 1, '1.0.0 has no GC');
  t.equal(refusal({ cniVersion: '1.0.0' }, 'STATUS').cniCode, 1, 'nor STATUS');
  t.equal(parseConfig(text({ cniVersion: '1.1.0' }), 'STATUS').cniVersion, '1.1.0');
  t.equal(parseConfig(text({ cniVersion: '0.4.0' }), 'CHECK').cniVersion, '0.4.0');
});

t.test('unknown and unapplied fields are 2, naming key and value', async (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ hairpinMode: true }, /unsupported field hairpinMode=true/],
    [{ ipMasq: true }, /ipMasq=true/],
    [{ networkScaling: true }, /networkScaling=true/],
    [{ runtimeConfig: { portMappings: [] } }, /runtimeConfig\.portMappings=\[\]/],
    [{ interface: "<interface type='user'/>" }, /interface\/@type="user"/],
    [{ interface: "<interface type='ethernet'><target dev='x'/></interface>" }, /interface\/target="target".*CNI_IFNAME/],
    [{ interface: "<interface type='ethernet'><driver txmode='timer'/></interface>" }, /interface\/driver\/@txmode="timer"/],
    [{ interface: "<interface type='ethernet'><virtualport/></interface>" }, /interface\/virtualport="virtualport"/],
    [{ interface: "<interface type='ethernet'><source><ip address='10.0.0.1'/></source></interface>" }, /interface\/source\/ip="ip"/],
    [{ interface: "<interface type='ethernet'><driver><host csum='off'/></driver></interface>" }, /interface\/driver\/host="host"/],
    [{ interface: "<interface type='ethernet'><link state='down'/></interface>" }, /interface\/link\/@state="down"/],
  ];
  for (const [x, re] of cases) {
    const e = refusal(x);
    t.equal(e.cniCode, 2, JSON.stringify(x));
    t.match(e.message, re);
  }
  t.equal(parseConfig(text({ ipMasq: false, networkScaling: false }), 'ADD').name, 'vmnet', 'false is fine');
  t.equal(parseConfig(text({ args: { anything: [1, 2] } }), 'ADD').args?.anything !== undefined, true, 'args may hold anything');
});

t.test('invalid values are 7', async (t) => {
  const cases: Record<string, unknown>[] = [
    { type: 'macvlan' },
    { name: '-bad' },
    { name: undefined },
    { queues: 0 },
    { queues: 257 },
    { queues: '2' },
    { mtu: 67 },
    { vhost: 'yes' },
    { mode: 'bridge' },
    { master: 'eth1', mode: 'hairpin' },
    { master: 'a/b' },
    { master: 'eth1', bridge: 'br0' },
    { bridge: 7 },
    { network: 'bad name' },
    { interface: "<interface type='ethernet'/>", queues: 2 },
    { interface: 7 },
    { interface: '<domain/>' },
    { interface: "<interface type='ethernet'><mtu size='20'/></interface>" },
    { interface: "<interface type='ethernet'><driver queues='1000'/></interface>" },
    { interface: "<interface type='ethernet'><mac address='52:54:00:00:00:01'/></interface>", runtimeConfig: { mac: '52:54:00:00:00:02' } },
    { runtimeConfig: { mac: 'ff:ff:ff:ff:ff:ff' } },
    { runtimeConfig: { deviceID: 'eth0' } },
    { runtimeConfig: [] },
    { ipam: { subnet: '10.0.0.0/8' } },
    { ipam: 'host-local' },
    { dns: [] },
    { prevResult: 'x' },
    { args: 1 },
    { capabilities: { mac: 'yes' } },
    { socket: 'relative.sock' },
    { ipMasq: 'no' },
    { 'cni.dev/valid-attachments': [{ containerID: 'a' }] },
    { 'cni.dev/valid-attachments': {} },
  ];
  for (const x of cases) t.equal(refusal(x).cniCode, 7, JSON.stringify(x));
  t.equal(refusal({ interface: '<interface' }).cniCode, 6, 'XML that is not well-formed is 6');
});

t.test('GC reads the valid attachments under either key', async (t) => {
  const a = [{ containerID: 'c1', ifname: 'net1' }];
  t.same(parseConfig(text({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': a }), 'GC').validAttachments, a);
  t.same(parseConfig(text({ cniVersion: '1.1.0', 'cni.dev/attachments': a }), 'GC').validAttachments, a);
  t.equal(parseConfig(text({ cniVersion: '1.1.0' }), 'GC').validAttachments, undefined);
});
