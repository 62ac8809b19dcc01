// <network> XML for direct connections: the validation matrix (libvirt's
// rules), round trips, and the live XML with the pool and connections.
import t from 'tap';
import { NetworkXml } from '../../lib/xml/network';
import { refused } from '../helpers/refused';

const invalid = (field: string, value: unknown) => ({ code: 'INVALID_ARGUMENT', field, value });
const net = (forward: string, extra = '') => `<network>\n  <name>pool</name>${extra}\n  ${forward}\n</network>\n`;
const parse = (x: string) => NetworkXml.parse(x);

t.test('the four forward modes with an explicit list, a forward dev, or a PF', async (t) => {
  for (const mode of ['passthrough', 'private', 'vepa', 'bridge'] as const) {
    const d = parse(net(`<forward mode='${mode}'><interface dev='eth10'/><interface dev='eth12'/></forward>`)).def;
    t.strictSame(d, { name: 'pool', mode, devices: ['eth10', 'eth12'] }, mode);
  }
  t.strictSame(parse(net("<forward mode='passthrough' dev='eth10'/>")).def.devices, ['eth10'], 'forward dev alone is a pool of one');
  t.strictSame(parse(net("<forward mode='vepa' dev='eth10'><interface dev='eth10'/><interface dev='eth11'/></forward>")).def.devices, ['eth10', 'eth11'], 'forward dev names the first of the list');
  t.strictSame(parse(net("<forward mode='passthrough'><pf dev='eth0'/></forward>")).def, { name: 'pool', mode: 'passthrough', devices: [], pf: 'eth0' });
  t.equal(parse(net("<forward mode='bridge'><pf dev='eth0'/></forward>", "\n  <uuid>C7A5FDBDEDAF9455926AD65C16DB1809</uuid>")).def.uuid, 'c7a5fdbd-edaf-9455-926a-d65c16db1809');
});

t.test("bad networks are refused like libvirt's, naming the element and the value", async (t) => {
  const F = '/network/forward';
  refused(t, () => parse('<domain/>'), invalid('/domain', 'domain'), /<network>/);
  refused(t, () => parse('<network><forward mode="vepa" dev="e"/></network>'), invalid('/network/name', ''), /needs a <name>/);
  refused(t, () => parse(net('')), invalid('/network', ''), /direct networks/);
  refused(t, () => parse(net("<forward mode='nat'/>")), invalid(`${F}/@mode`, 'nat'), /passthrough, private, vepa, bridge/);
  refused(t, () => parse(net('<forward/>')), invalid(`${F}/@mode`, ''), /macvtap over a device pool/);
  refused(t, () => parse(net("<forward mode='vepa'/>")), invalid(F, ''), /needs a device pool/);
  refused(t, () => parse(net("<forward mode='vepa'><pf dev='eth0'/><pf dev='eth1'/></forward>")), invalid(`${F}/pf[2]/@dev`, 'eth1'), /only one <pf>/);
  refused(t, () => parse(net("<forward mode='vepa'><pf dev='eth0'/><interface dev='eth10'/></forward>")), invalid(`${F}/interface/@dev`, 'eth10'), /mutually exclusive/);
  refused(t, () => parse(net("<forward mode='vepa' dev='eth0'><pf dev='eth0'/></forward>")), invalid(`${F}/@dev`, 'eth0'), /cannot be combined with <pf>/);
  refused(t, () => parse(net("<forward mode='vepa'><pf/></forward>")), invalid(`${F}/pf/@dev`, ''), /needs dev=/);
  refused(t, () => parse(net("<forward mode='vepa'><interface dev='eth10'/><interface dev='eth10'/></forward>")), invalid(`${F}/interface[2]/@dev`, 'eth10'), /listed twice/);
  refused(t, () => parse(net("<forward mode='vepa' dev='eth9'><interface dev='eth10'/></forward>")), invalid(`${F}/@dev`, 'eth9'), /must match the first <interface dev='eth10'\/>/);
  refused(t, () => parse(net("<forward mode='vepa'><interface/></forward>")), invalid(`${F}/interface/@dev`, ''), /needs dev=/);
  refused(t, () => parse(net("<forward mode='vepa'><interface dev='a b'/></forward>")), invalid(`${F}/interface/@dev`, 'a b'), /interface name/);
  refused(t, () => parse(net("<forward mode='vepa'><pf dev='a/b'/></forward>")), invalid(`${F}/pf/@dev`, 'a/b'), /interface name/);
  for (const tag of ['ip', 'mac', 'dns', 'domain', 'bridge'])
    refused(t, () => parse(net("<forward mode='passthrough' dev='eth10'/>", `\n  <${tag}/>`)), invalid(`/network/${tag}`, tag), new RegExp(`<${tag}> is not allowed in a network with <forward mode='passthrough'>`));
  refused(t, () => parse(net("<forward mode='vepa' dev='e'/>", '<uuid>nope</uuid>')), invalid('/network/uuid', 'nope'), /UUID/);
  refused(t, () => parse('<network><name>a b</name></network>'), invalid('/network/name', 'a b'), /network name/);
  refused(t, () => parse('<network>'), { code: 'INVALID_XML', field: 'network XML', value: '<network>' });
});

t.test('round trip and the live XML: the expanded pool with connection counts', async (t) => {
  const text = `<network>
  <name>sriov</name>
  <!-- a comment stays -->
  <forward mode='passthrough'>
    <pf dev='eth0'/>
  </forward>
</network>
`;
  const n = parse(text);
  t.equal(n.text, text, 'the config text is kept exactly (net-dumpxml --inactive)');
  const live = n.live([{ dev: 'eth2', connections: 1 }, { dev: 'eth3', connections: 0 }]);
  t.equal(live, `<network>
  <name>sriov</name>
  <!-- a comment stays -->
  <forward mode="passthrough" connections="1">
    <pf dev="eth0"/>
    <interface dev="eth2" connections="1"/>
    <interface dev="eth3" connections="0"/>
  </forward>
</network>
`, 'the <pf> stays, its VFs follow with their counts, the total on <forward>');
  refused(t, () => parse(live), invalid('/network/forward/interface[1]/@dev', 'eth2'), /mutually exclusive/);
  t.strictSame(NetworkXml.parse(live, { live: true }).def, { name: 'sriov', mode: 'passthrough', devices: ['eth2', 'eth3'], pf: 'eth0', connections: { eth2: 1, eth3: 0 } }, 'read back as live: the expansion and the counts');
  const list = parse(net("<forward mode='vepa' dev='eth10'><interface dev='eth10'/><interface dev='eth11'/></forward>"));
  const listLive = NetworkXml.parse(list.live([{ dev: 'eth10', connections: 2 }, { dev: 'eth11', connections: 1 }]), { live: true }).def;
  t.strictSame([listLive.devices, listLive.connections], [['eth10', 'eth11'], { eth10: 2, eth11: 1 }], 'an explicit list reads back the same, with counts');
  refused(t, () => NetworkXml.parse(live.replace('connections="0"/>', 'connections="x"/>'), { live: true }), invalid('/network/forward/interface[2]/@connections', 'x'), /count/);
});
