// <network> XML for direct connections: the validation matrix (libvirt's
// rules), the walk over every element and attribute of libvirt's network
// schema (test/fixtures/networks/every-element.xml), golden XML both ways,
// and the live XML with the pool, <forward dev> and connections.
import fs from 'node:fs';
import path from 'node:path';
import { XMLSerializer } from '@xmldom/xmldom';
import t from 'tap';
import { children, Element, parseXml } from '../../../lib/xml/dom';
import { NetworkXml } from '../../../lib/xml/network';
import { refused } from '../../helpers/refused';

const invalid = (field: string, value: unknown) => ({ code: 'INVALID_ARGUMENT', field, value });
const unsupported = (field: string, value: unknown) => ({ code: 'NOT_SUPPORTED', field, value });
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
  t.equal(parse(net("<forward mode='bridge'><pf dev='eth0'/></forward>", '\n  <uuid>C7A5FDBDEDAF9455926AD65C16DB1809</uuid>')).def.uuid, 'c7a5fdbd-edaf-9455-926a-d65c16db1809');
});

t.test("bad networks are refused like libvirt's, naming the element and the value", async (t) => {
  const F = '/network/forward';
  refused(t, () => parse('<domain/>'), invalid('/domain', 'domain'), /^\/domain: expected a libvirt <network> document, not <domain>$/);
  refused(t, () => parse('<network><forward mode="vepa" dev="e"/></network>'), invalid('/network/name', ''), /needs a <name>/);
  refused(
    t,
    () => parse(net("<forward mode='bogus'/>")),
    invalid(`${F}/@mode`, 'bogus'),
    /libvirt's forward modes are nat, route, open, bridge, private, vepa, passthrough, hostdev; netfd runs forward modes passthrough, private, vepa, bridge/,
  );
  refused(t, () => parse(net("<forward mode='vepa'/>")), invalid(F, ''), /^\/network\/forward: <forward mode='vepa'> needs a device pool/);
  refused(t, () => parse(net("<forward mode='vepa'><pf dev='eth0'/><pf dev='eth1'/></forward>")), invalid(`${F}/pf[2]/@dev`, 'eth1'), /only one <pf>/);
  refused(t, () => parse(net("<forward mode='vepa'><pf dev='eth0'/><interface dev='eth10'/></forward>")), invalid(`${F}/interface/@dev`, 'eth10'), /mutually exclusive/);
  refused(t, () => parse(net("<forward mode='vepa' dev='eth0'><pf dev='eth0'/></forward>")), invalid(`${F}/@dev`, 'eth0'), /cannot be combined with <pf>/);
  refused(t, () => parse(net("<forward mode='vepa'><pf/></forward>")), invalid(`${F}/pf/@dev`, ''), /^\/network\/forward\/pf\/@dev: <pf> needs dev=/);
  refused(t, () => parse(net("<forward mode='vepa'><interface dev='eth10'/><interface dev='eth10'/></forward>")), invalid(`${F}/interface[2]/@dev`, 'eth10'), /listed twice/);
  refused(t, () => parse(net("<forward mode='vepa' dev='eth9'><interface dev='eth10'/></forward>")), invalid(`${F}/@dev`, 'eth9'), /must match the first <interface dev='eth10'\/>/);
  refused(t, () => parse(net("<forward mode='vepa'><interface/></forward>")), invalid(`${F}/interface/@dev`, ''), /^\/network\/forward\/interface\/@dev: <interface> in <forward> needs dev=/);
  refused(t, () => parse(net("<forward mode='vepa'><interface dev='a b'/></forward>")), invalid(`${F}/interface/@dev`, 'a b'), /interface name/);
  refused(t, () => parse(net("<forward mode='vepa'><pf dev='a/b'/></forward>")), invalid(`${F}/pf/@dev`, 'a/b'), /interface name/);
  refused(t, () => parse(net("<forward mode='vepa' dev='e'/>", '<uuid>nope</uuid>')), invalid('/network/uuid', 'nope'), /UUID/);
  refused(t, () => parse('<network><name>a b</name></network>'), invalid('/network/name', 'a b'), /network name/);
  refused(t, () => parse('<network>'), { code: 'INVALID_XML', field: 'network XML', value: '<network>' });
});

t.test('forward modes netfd does not run are NOT_SUPPORTED at /network/forward/@mode, saying which it runs', async (t) => {
  const field = '/network/forward/@mode';
  const runs = /netfd runs forward modes passthrough, private, vepa, bridge \(macvtap over a device pool\)$/;
  refused(t, () => parse(net('')), unsupported(field, ''), /^\/network\/forward\/@mode: a network without <forward> is an isolated network .* in libvirt, which netfd does not run;/);
  refused(t, () => parse(net('')), unsupported(field, ''), runs);
  refused(t, () => parse(net('<forward/>')), unsupported(field, ''), /<forward> without mode= is mode='nat' in libvirt, a NAT network/);
  refused(t, () => parse(net("<forward><interface dev='eth10'/></forward>")), unsupported(field, ''), runs);
  for (const [mode, kind] of [
    ['nat', 'a NAT network'],
    ['route', 'a routed network'],
    ['open', 'an open network'],
    ['none', 'an isolated network'],
    ['hostdev', 'a hostdev network'],
  ]) {
    refused(t, () => parse(net(`<forward mode='${mode}'/>`)), unsupported(field, mode), new RegExp(`^${field}: netfd does not run <forward mode='${mode}'>, ${kind} `));
    refused(t, () => parse(net(`<forward mode='${mode}' dev='eth10'/>`, "\n  <ip address='192.0.2.1' prefix='24'/>")), unsupported(field, mode), runs);
  }
  // The mode is checked before what only that kind of network would hold.
  refused(
    t,
    () => parse(net("<forward mode='hostdev'><address type='pci' domain='0' bus='3' slot='16' function='1'/></forward>")),
    unsupported(field, 'hostdev'),
    /use mode='passthrough' with <pf dev>/,
  );
});

const FIXTURE = path.join(__dirname, '..', '..', 'fixtures', 'networks', 'every-element.xml');
const DNSMASQ = "xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'";

/** A working direct network, with additions in its root tag, among its elements, in <forward> or as the <forward> content. */
function walkNet(o: { rootAttrs?: string; top?: string; forwardAttrs?: string; forward?: string; name?: string } = {}): string {
  return `<network ${DNSMASQ}${o.rootAttrs ? ` ${o.rootAttrs}` : ''}>\n  ${o.name ?? '<name>walk</name>'}\n${o.top ? `  ${o.top}\n` : ''}  <forward mode='vepa'${o.forwardAttrs ? ` ${o.forwardAttrs}` : ''}>\n    ${o.forward ?? "<interface dev='eth10'/>"}\n  </forward>\n</network>\n`;
}

/**
 * What netfd does with each element and attribute of libvirt's network
 * schema (network.rng) inside <network> and its <forward>: applied, kept
 * (and echoed by net-dumpxml, live and --inactive), or refused
 * NOT_SUPPORTED by its XPath.
 */
const WALK: Record<string, 'applied' | 'kept' | 'refused'> = {
  '/network/@connections': 'refused',
  '/network/@ipv6': 'refused',
  '/network/@trustGuestRxFilters': 'refused',
  '/network/name': 'applied',
  '/network/uuid': 'applied',
  '/network/title': 'kept',
  '/network/description': 'kept',
  '/network/metadata': 'kept',
  '/network/forward': 'applied',
  '/network/forward/@dev': 'applied',
  '/network/forward/@mode': 'applied',
  '/network/forward/@managed': 'refused',
  '/network/forward/interface': 'applied',
  '/network/forward/interface/@dev': 'applied',
  '/network/forward/interface/@connections': 'refused',
  '/network/forward/pf': 'applied',
  '/network/forward/pf/@dev': 'applied',
  '/network/forward/address': 'refused',
  '/network/forward/driver': 'refused',
  '/network/forward/nat': 'refused',
  '/network/bridge': 'refused',
  '/network/mtu': 'refused',
  '/network/mac': 'refused',
  '/network/virtualport': 'refused',
  '/network/portgroup': 'refused',
  '/network/domain': 'refused',
  '/network/dns': 'refused',
  '/network/bandwidth': 'refused',
  '/network/vlan': 'refused',
  '/network/port': 'refused',
  '/network/ip': 'refused',
  '/network/route': 'refused',
  '/network/dnsmasq:options': 'refused',
};

/** The attributes of an element, namespace declarations aside. */
const attrsOf = (el: Element) => {
  const out: { name: string; value: string }[] = [];
  for (let i = 0; i < el.attributes.length; i++) {
    const a = el.attributes.item(i) as { name: string; value: string };
    if (a.name !== 'xmlns' && !a.name.startsWith('xmlns:')) out.push({ name: a.name, value: a.value });
  }
  return out;
};

t.test("every element and attribute of libvirt's network schema is applied, kept, or refused NOT_SUPPORTED by name", async (t) => {
  const text = fs.readFileSync(FIXTURE, 'utf8');
  const root = parseXml(text, 'fixture').documentElement as Element;
  const xml = (el: Element) => new XMLSerializer().serializeToString(el);
  // Each item of the fixture, as a working network holding just that item.
  const items = new Map<string, { doc: string; value: string; check?: (d: NetworkXml) => void }>();
  const add = (key: string, doc: string, value: string, check?: (d: NetworkXml) => void) => {
    if (!items.has(key)) items.set(key, { doc, value, check });
  };
  for (const a of attrsOf(root)) add(`/network/@${a.name}`, walkNet({ rootAttrs: `${a.name}='${a.value}'` }), a.value);
  for (const el of children(root)) {
    const key = `/network/${el.tagName}`;
    if (el.tagName === 'name') add(key, walkNet({ name: xml(el) }), el.tagName, (n) => t.equal(n.def.name, 'every'));
    else if (el.tagName === 'uuid') add(key, walkNet({ top: xml(el) }), el.tagName, (n) => t.equal(n.def.uuid, '6c3b2f0e-8a47-4d0e-9a1c-5f2e7d9b0a11'));
    else if (el.tagName !== 'forward') add(key, walkNet({ top: xml(el) }), el.tagName);
    else {
      add(key, walkNet(), el.tagName, (n) => t.strictSame(n.def, { name: 'walk', mode: 'vepa', devices: ['eth10'] }));
      for (const a of attrsOf(el)) {
        const k = `${key}/@${a.name}`;
        if (a.name === 'mode') add(k, walkNet(), a.value, (n) => t.equal(n.def.mode, 'vepa'));
        else if (a.name === 'dev') add(k, walkNet({ forwardAttrs: `dev='${a.value}'` }), a.value, (n) => t.strictSame(n.def.devices, ['eth10']));
        else add(k, walkNet({ forwardAttrs: `${a.name}='${a.value}'` }), a.value);
      }
      for (const f of children(el)) {
        const k = `${key}/${f.tagName}`;
        if (f.tagName === 'interface' || f.tagName === 'pf') {
          const applied = (n: NetworkXml) => t.strictSame(f.tagName === 'pf' ? n.def.pf : n.def.devices, f.tagName === 'pf' ? 'eth0' : ['eth10']);
          add(k, walkNet({ forward: `<${f.tagName} dev='${attrsOf(f)[0].value}'/>` }), f.tagName, applied);
          for (const a of attrsOf(f)) {
            if (a.name === 'dev') add(`${k}/@dev`, walkNet({ forward: `<${f.tagName} dev='${a.value}'/>` }), a.value, applied);
            else add(`${k}/@${a.name}`, walkNet({ forward: `<${f.tagName} dev='eth10' ${a.name}='${a.value}'/>` }), a.value);
          }
        } else add(k, walkNet({ forward: `<interface dev='eth10'/>\n    ${xml(f)}` }), f.tagName);
      }
    }
  }
  t.strictSame([...items.keys()].sort(), Object.keys(WALK).sort(), 'the fixture holds every item the walk knows, and the walk knows every item of the fixture');

  for (const [key, { doc, value, check }] of items) {
    const outcome = WALK[key];
    if (outcome === 'refused') {
      const attribute = key.includes('/@');
      const named = attribute ? `${key.slice(key.lastIndexOf('@') + 1)}=` : `<${key.slice(key.lastIndexOf('/') + 1)}`;
      const err = refused(t, () => parse(doc), unsupported(key, value), new RegExp(`^${key.replace(/[/@:]/g, '\\$&')}: .*${named}.*; remove it$`));
      t.ok(err, `${key}: refused`);
      continue;
    }
    const n = parse(doc);
    check?.(n);
    if (outcome === 'kept') {
      const el = parseXml(doc, 'walk').documentElement?.getElementsByTagName(key.slice('/network/'.length)).item(0) as Element;
      const shown = xml(el);
      t.match(n.text, shown, `${key}: kept in the definition (net-dumpxml --inactive)`);
      t.match(n.live([{ dev: 'eth10', connections: 0 }]), shown, `${key}: echoed in the live XML`);
    }
  }
  // The whole catalogue is refused by its first item netfd does not apply, never INVALID_ARGUMENT.
  refused(t, () => parse(text), unsupported('/network/@connections', '1'));
});

t.test("what libvirt's schema does not allow is INVALID_ARGUMENT, named the same way", async (t) => {
  const base = walkNet();
  refused(t, () => parse(base.replace('<name>', '<frobnicate/><name>')), invalid('/network/frobnicate', 'frobnicate'), /^\/network\/frobnicate: libvirt's <network> has no element <frobnicate>$/);
  refused(t, () => parse(base.replace('<name>', '<constructor/><name>')), invalid('/network/constructor', 'constructor'), /has no element <constructor>/);
  refused(t, () => parse(base.replace('<network ', "<network color='red' ")), invalid('/network/@color', 'red'), /libvirt's <network> has no attribute color=/);
  refused(t, () => parse(walkNet({ forwardAttrs: "color='red'" })), invalid('/network/forward/@color', 'red'), /libvirt's <forward> has no attribute color=/);
  refused(t, () => parse(walkNet({ forwardAttrs: "connections='2'" })), invalid('/network/forward/@connections', '2'), /live count netfd writes .*define from net-dumpxml --inactive/);
  refused(
    t,
    () => parse(walkNet({ forward: "<interface dev='eth10'/><virtualport type='802.1Qbg'/>" })),
    invalid('/network/forward/virtualport', 'virtualport'),
    /libvirt's <forward> has no element <virtualport>/,
  );
  refused(t, () => parse(walkNet({ forward: "<interface dev='eth10' mode='x'/>" })), invalid('/network/forward/interface/@mode', 'x'), /libvirt's <interface> has no attribute mode=/);
  refused(
    t,
    () => parse(walkNet({ forward: "<interface dev='eth10'><mac address='52:54:00:00:00:01'/></interface>" })),
    invalid('/network/forward/interface/mac', 'mac'),
    /<interface> holds no elements/,
  );
  refused(t, () => parse(walkNet({ forward: "<pf dev='eth0' connections='1'/>" })), invalid('/network/forward/pf/@connections', '1'), /libvirt's <pf> has no attribute connections=/);
  refused(t, () => parse(walkNet({ forward: "eth10 <interface dev='eth10'/>" })), invalid('/network/forward', 'eth10'), /<forward> holds elements, not text/);
  refused(t, () => parse(base.replace('<name>walk</name>', "<name lang='en'>walk</name>")), invalid('/network/name/@lang', 'en'), /libvirt's <name> has no attribute lang=/);
  refused(t, () => parse(walkNet({ top: '<description>a <b>bold</b> one</description>' })), invalid('/network/description/b', 'b'), /<description> holds text, not elements/);
  refused(t, () => parse(walkNet({ top: '<title>two\nlines</title>' })), invalid('/network/title', 'two\nlines'), /one line/);
  refused(t, () => parse(walkNet({ top: '<title>a</title><title>b</title>' })), invalid('/network/title[2]', 'title'), /may appear only once/);
  refused(t, () => parse(walkNet({ top: "<x:thing xmlns:x='https://example.org/x'/>" })), invalid('/network/x:thing', 'x:thing'), /custom data goes in <metadata>/);
  refused(t, () => parse(walkNet({ top: '<metadata><owner>me</owner></metadata>' })), invalid('/network/metadata/owner', 'owner'), /only elements with their own XML namespace/);
  refused(
    t,
    () => parse(walkNet({ top: "<metadata><a:x xmlns:a='urn:a'/><a:y xmlns:a='urn:a'/></metadata>" })),
    invalid('/network/metadata/a:y', 'a:y'),
    /one element per namespace in <metadata>: \/network\/metadata\/a:x already uses urn:a/,
  );
});

t.test('messages name the element, the attribute and the value, never an element by its own name as text', async (t) => {
  const bad = [
    net(''),
    net('<forward/>'),
    net("<forward mode='nat'/>"),
    net("<forward mode='vepa'/>"),
    '<domain/>',
    '<network/>',
    walkNet({ top: "<ip address='192.0.2.1'/>" }),
    walkNet({ top: '<dns/>' }),
    walkNet({ top: "<bridge name='br0'/>" }),
    walkNet({ top: '<frob/>' }),
    walkNet({ forward: "<interface dev='eth10'/><nat/>" }),
    net("<forward mode='vepa'><pf/></forward>"),
    net("<forward mode='vepa'><interface/></forward>"),
  ];
  for (const x of bad) {
    let message = '';
    try {
      parse(x);
    } catch (e) {
      message = (e as Error).message;
    }
    t.match(message, /^\/\S*: /, `${message}: starts with the XPath`);
    t.notMatch(message, /<([\w:]+)>\1<\/\1>|<([\w:]+)><\/\2>|invalid <\w+ \w+=''>/, `${message}: no element shown with its own name as text, no empty stand-in`);
  }
});

t.test('golden XML both ways: a <pf> network; its live XML has no <forward dev> (libvirt writes none with a PF)', async (t) => {
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
  const live = n.live([
    { dev: 'eth2', connections: 1 },
    { dev: 'eth3', connections: 0 },
  ]);
  t.equal(
    live,
    `<network>
  <name>sriov</name>
  <!-- a comment stays -->
  <forward mode="passthrough" connections="1">
    <pf dev="eth0"/>
    <interface dev="eth2" connections="1"/>
    <interface dev="eth3" connections="0"/>
  </forward>
</network>
`,
    'the <pf> stays, its VFs follow with their counts, the total on <forward>, no dev=',
  );
  refused(t, () => parse(live), invalid('/network/forward/@connections', '1'), /a definition cannot set it: define from net-dumpxml --inactive/);
  refused(t, () => parse(live.replace(' connections="1">', '>')), unsupported('/network/forward/interface[1]/@connections', '1'), /a definition cannot set it/);
  t.strictSame(
    NetworkXml.parse(live, { live: true }).def,
    { name: 'sriov', mode: 'passthrough', devices: ['eth2', 'eth3'], pf: 'eth0', connections: { eth2: 1, eth3: 0 } },
    'read back as live: the expansion and the counts',
  );
  refused(t, () => NetworkXml.parse(live.replace('connections="0"/>', 'connections="x"/>'), { live: true }), invalid('/network/forward/interface[2]/@connections', 'x'), /count/);
  refused(t, () => NetworkXml.parse(live.replace('<forward ', '<forward dev="eth2" '), { live: true }), invalid('/network/forward/@dev', 'eth2'), /cannot be combined with <pf>/);
});

t.test('golden XML both ways: an explicit pool; the live XML names the first device in <forward dev>, before mode= as libvirt writes it', async (t) => {
  const text = `<network>
  <name>lan</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <title>Rack 4 uplinks</title>
  <forward mode='vepa'>
    <interface dev='eth10'/>
    <interface dev='eth11'/>
  </forward>
</network>
`;
  const n = parse(text);
  t.equal(n.text, text, 'the definition is kept as written: no dev= added (net-dumpxml --inactive)');
  const live = n.live([
    { dev: 'eth10', connections: 2 },
    { dev: 'eth11', connections: 1 },
  ]);
  t.equal(
    live,
    `<network>
  <name>lan</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <title>Rack 4 uplinks</title>
  <forward dev="eth10" mode="vepa" connections="3">
    <interface dev="eth10" connections="2"/>
    <interface dev="eth11" connections="1"/>
  </forward>
</network>
`,
  );
  const back = NetworkXml.parse(live, { live: true });
  t.strictSame(
    back.def,
    { name: 'lan', uuid: 'c7a5fdbd-edaf-9455-926a-d65c16db1809', mode: 'vepa', devices: ['eth10', 'eth11'], connections: { eth10: 2, eth11: 1 } },
    'read back as live: the same pool, with counts',
  );
  t.equal(
    back.live([
      { dev: 'eth10', connections: 2 },
      { dev: 'eth11', connections: 1 },
    ]),
    live,
    'live XML of the live XML: the same',
  );

  // <forward dev> alone is a pool of one: the live XML lists it, as libvirt does; a dev= the user wrote keeps its place.
  const one = parse(net("<forward mode='bridge' dev='eth10'/>"));
  t.equal(
    one.live([{ dev: 'eth10', connections: 0 }]),
    `<network>
  <name>pool</name>
  <forward mode="bridge" dev="eth10" connections="0">
    <interface dev="eth10" connections="0"/>
  </forward>
</network>
`,
  );
  const listed = parse(net("<forward mode='private' dev='eth10'><interface dev='eth10'/><interface dev='eth11'/></forward>"));
  t.match(
    listed.live([
      { dev: 'eth10', connections: 0 },
      { dev: 'eth11', connections: 1 },
    ]),
    '<forward mode="private" dev="eth10" connections="1"><interface dev="eth10" connections="0"/><interface dev="eth11" connections="1"/></forward>',
  );
  // A device outside the pool that still carries connections comes after the pool: dev= stays the first.
  t.match(
    n.live([
      { dev: 'eth10', connections: 0 },
      { dev: 'eth11', connections: 0 },
      { dev: 'eth9', connections: 1, outside: true },
    ]),
    /<forward dev="eth10" mode="vepa" connections="1">/,
  );
});
