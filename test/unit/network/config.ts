// Network definitions (lib/network/config.ts) through Networks:
// define/undefine, dumpxml live and --inactive, autostart links, unique
// names and uuids, and corrupt or half-written files reported by name and
// left alone. No root: the pools are names only.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { NetworkXml } from '../../../lib/xml/network';
import { counts, dirs, explicit, mac, network, noTemp, total } from '../../helpers/networks';
import { refused, rejected } from '../../helpers/refused';

t.test('define, start, dumpxml (live and --inactive), destroy, undefine', async (t) => {
  const d = dirs(t);
  const r = await d.nets.define(explicit('lan', 'vepa', ['p0', 'p1']));
  t.match(r, { name: 'lan', redefined: false, uuid: /^[0-9a-f-]{36}$/ });
  const stored = fs.readFileSync(path.join(d.config, 'lan.xml'), 'utf8');
  t.match(stored, `<uuid>${r.uuid}</uuid>`, 'a new definition gets a uuid, stored with it');
  t.strictSame(NetworkXml.parse(stored).def.devices, ['p0', 'p1']);
  t.strictSame((await d.nets.define(explicit('lan', 'bridge', ['p0', 'p1', 'p2']))).uuid, r.uuid, 'redefining keeps the uuid');
  t.match(d.nets.list().rows, [{ name: 'lan', active: false, persistent: true, autostart: false, connections: null }]);

  const s = await d.nets.start('lan');
  t.strictSame(s.pool, [
    { dev: 'p0', connections: 0 },
    { dev: 'p1', connections: 0 },
    { dev: 'p2', connections: 0 },
  ]);
  const live = d.nets.dumpxml('lan');
  t.strictSame(counts(live), { p0: 0, p1: 0, p2: 0 }, 'live XML: connections per device');
  t.equal(total(live), 0);
  t.equal(d.nets.dumpxml('lan', { inactive: true }), fs.readFileSync(path.join(d.config, 'lan.xml'), 'utf8'), '--inactive: the definition as stored');
  t.match(live, /<forward dev="p0" mode="bridge" connections="0">/, 'live: <forward dev> names the first pool device, before mode=, as libvirt');
  t.notMatch(d.nets.dumpxml('lan', { inactive: true }), /<forward[^>]* dev=/, '--inactive: no dev= the user did not write');
  await rejected(t, () => d.nets.start('lan'), { code: 'EEXIST', field: 'name', value: 'lan' }, /already active/);

  // A redefinition while running changes the next start, not the live network.
  await d.nets.define(explicit('lan', 'bridge', ['p9']));
  t.strictSame(Object.keys(counts(d.nets.dumpxml('lan'))), ['p0', 'p1', 'p2'], 'live XML unchanged by a redefinition');
  t.match(d.nets.dumpxml('lan', { inactive: true }), 'dev="p9"');

  d.nets.setAutostart('lan', true);
  t.equal(fs.readlinkSync(path.join(d.config, 'autostart', 'lan.xml')), '../lan.xml', 'autostart/NAME.xml links to the definition, as libvirt');
  t.match(d.nets.list().rows, [{ name: 'lan', active: true, autostart: true, connections: 0 }]);
  d.nets.setAutostart('lan', false);
  t.notOk(fs.existsSync(path.join(d.config, 'autostart', 'lan.xml')));

  t.strictSame(await d.nets.undefine('lan'), { active: true }, 'undefining a running network leaves it running, transient');
  t.match(d.nets.list().rows, [{ name: 'lan', active: true, persistent: false }]);
  t.match(d.nets.dumpxml('lan', { inactive: true }), 'dev="p2"', 'a transient network: --inactive shows what it was started from');
  await d.nets.destroy('lan');
  t.strictSame(fs.readdirSync(path.join(d.state, 'networks')), [], 'destroy removes the live state');
  t.strictSame(d.nets.list().rows, []);
  await rejected(t, () => d.nets.destroy('lan'), { code: 'NETWORK_INACTIVE', field: 'name', value: 'lan' }, /not active/);
  await rejected(t, () => d.nets.start('lan'), { code: 'ENOENT', field: 'name', value: 'lan' }, /no network named 'lan'/);
  await rejected(t, () => d.nets.undefine('lan'), { code: 'ENOENT', field: 'name', value: 'lan' });
  t.throws(() => d.nets.setAutostart('lan', true), { code: 'ENOENT' });
  refused(t, () => d.nets.dumpxml('../x'), { code: 'INVALID_ARGUMENT', field: 'name', value: '../x' });
  noTemp(t, d.config);
});

t.test('net-define refuses what netfd does not apply, by XPath, and writes nothing; title, description and metadata are kept', async (t) => {
  const d = dirs(t);
  await rejected(
    t,
    () => d.nets.define(network('nat', "<forward mode='nat'/>", "\n  <ip address='192.0.2.1' prefix='24'/>")),
    { code: 'NOT_SUPPORTED', field: '/network/forward/@mode', value: 'nat' },
    /netfd runs forward modes passthrough, private, vepa, bridge/,
  );
  await rejected(t, () => d.nets.define(network('iso', '')), { code: 'NOT_SUPPORTED', field: '/network/forward/@mode', value: '' }, /isolated network/);
  await rejected(
    t,
    () => d.nets.define(network('ip', "<forward mode='vepa' dev='p0'/>", "\n  <ip address='192.0.2.1' prefix='24'/>")),
    { code: 'NOT_SUPPORTED', field: '/network/ip', value: 'ip' },
    /^\/network\/ip: netfd does not run <ip> \(host addresses, DHCP, TFTP\)/,
  );
  t.notOk(fs.existsSync(d.config), 'nothing written by refused definitions');
  const kept = network(
    'doc',
    "<forward mode='vepa' dev='p0'/>",
    "\n  <title>Lab uplink</title>\n  <description>p0 on the lab switch</description>\n  <metadata>\n    <lab:rack xmlns:lab='https://example.org/lab'>4</lab:rack>\n  </metadata>",
  );
  await d.nets.define(kept);
  await d.nets.start('doc');
  for (const [what, xml] of [
    ['--inactive', d.nets.dumpxml('doc', { inactive: true })],
    ['live', d.nets.dumpxml('doc')],
  ])
    t.match(
      xml,
      /<title>Lab uplink<\/title>\s*<description>p0 on the lab switch<\/description>\s*<metadata>\s*<lab:rack xmlns:lab=.https:\/\/example.org\/lab.>4<\/lab:rack>\s*<\/metadata>/,
      `${what}: title, description and metadata echoed`,
    );
});

t.test('names and uuids are unique across definitions (and running networks)', async (t) => {
  const d = dirs(t);
  const U = 'c7a5fdbd-edaf-9455-926a-d65c16db1809';
  await d.nets.define(network('a', "<forward mode='vepa' dev='p0'/>", `\n  <uuid>${U}</uuid>`));
  await rejected(
    t,
    () => d.nets.define(network('b', "<forward mode='vepa' dev='p1'/>", `\n  <uuid>${U.toUpperCase()}</uuid>`)),
    { code: 'EEXIST', field: '/network/uuid', value: U },
    /already used by network 'a'/,
  );
  await rejected(
    t,
    () => d.nets.define(network('a', "<forward mode='vepa' dev='p1'/>", '\n  <uuid>00000000-0000-0000-0000-000000000001</uuid>')),
    { code: 'EEXIST', field: '/network/uuid', value: '00000000-0000-0000-0000-000000000001' },
    new RegExp(`network 'a' already exists with uuid ${U}`),
  );
  await d.nets.start('a');
  await d.nets.undefine('a');
  await rejected(t, () => d.nets.define(network('c', "<forward mode='vepa' dev='p1'/>", `\n  <uuid>${U}</uuid>`)), { code: 'EEXIST', field: '/network/uuid', value: U }, /already used by network 'a'/); // the uuid of a running transient network is taken too
  t.strictSame(fs.readdirSync(d.config), [], 'nothing written by refused definitions');
});

t.test('a corrupt or half-written file is reported by name, never stops the others, never overwritten', async (t) => {
  const d = dirs(t);
  await d.nets.define(explicit('good', 'bridge', ['p0']));
  fs.writeFileSync(path.join(d.config, 'broken.xml'), '<network><name>broken</name><forward mode="vepa"'); // cut off mid-write
  fs.writeFileSync(path.join(d.config, 'other.xml'), explicit('misnamed', 'vepa', ['p1']));
  fs.writeFileSync(path.join(d.config, '.good.xml.123.abc.tmp'), 'a temporary file of a write that crashed');
  const { rows, warnings } = d.nets.list();
  t.strictSame(
    rows.map((r) => r.name),
    ['good'],
    'the good definition still loads',
  );
  t.equal(warnings.length, 2);
  t.match(warnings[0], `${path.join(d.config, 'broken.xml')} skipped: network XML is not well-formed`);
  t.match(warnings[1], /other\.xml skipped: it defines network 'misnamed', not 'other'/);
  const before = fs.readFileSync(path.join(d.config, 'broken.xml'), 'utf8');
  await rejected(t, () => d.nets.define(explicit('broken', 'vepa', ['p2'])), { code: 'CORRUPT_STATE', field: 'file', value: path.join(d.config, 'broken.xml') }, /will not overwrite it/);
  await rejected(t, () => d.nets.start('broken'), { code: 'CORRUPT_STATE', field: 'file', value: path.join(d.config, 'broken.xml') });
  t.equal(fs.readFileSync(path.join(d.config, 'broken.xml'), 'utf8'), before, 'the broken file is left as it was');
  await d.nets.start('good');

  // Live state: a corrupt ledger stops that network's operations, named; others go on.
  fs.writeFileSync(d.nets.ledgerPath('good'), '{"connections": [');
  await rejected(t, () => d.nets.allocate('good', { domain: 'x', mac: mac(1) }), { code: 'CORRUPT_STATE', field: 'file', value: d.nets.ledgerPath('good') });
  t.ok(
    d.nets.list().warnings.some((w) => /good\.connections cannot be used/.test(w)),
    'net-list names the corrupt ledger',
  );
  t.equal(fs.readFileSync(d.nets.ledgerPath('good'), 'utf8'), '{"connections": [', 'and it is not overwritten');

  // A running network whose start-time copy is unreadable does not block defining another.
  await d.nets.define(explicit('side', 'vepa', ['p5']));
  await d.nets.start('side');
  await d.nets.undefine('side');
  fs.writeFileSync(d.nets.inactivePath('side'), '<network>');
  t.match(await d.nets.define(explicit('third', 'vepa', ['p6'])), { name: 'third' }, 'another network is still defined');

  // A connected domain's unreadable live XML: counted as nothing, said so.
  fs.rmSync(d.nets.ledgerPath('good'));
  await d.nets.allocate('good', { domain: 'bad-domain', mac: mac(2) });
  fs.writeFileSync(path.join(d.state, 'bad-domain.xml'), '<domain><name>bad-domain</name> good');
  const a = await d.nets.allocate('good', { domain: 'x', mac: mac(1) });
  t.match(a.warnings, [/bad-domain\.xml cannot be read .*its connections are not counted/]);
  // A domain the ledger does not name costs an allocation nothing: it is not even read.
  fs.writeFileSync(path.join(d.state, 'unrelated.xml'), '<domain><name>unrelated</name> good');
  t.notMatch((await d.nets.allocate('good', { domain: 'y', mac: mac(3) })).warnings, [/unrelated/]);
});
