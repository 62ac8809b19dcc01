import t from 'tap';
import * as v from '../../lib/validate';

const invalid = (field: string) => ({ code: 'INVALID_ARGUMENT', field });

t.test('interface names', async (t) => {
  t.equal(v.ifname('vnet0'), 'vnet0');
  t.equal(v.ifname('a'.repeat(15)), 'a'.repeat(15), '15 bytes is the limit');
  t.throws(() => v.ifname('a'.repeat(16)), invalid('name'), '16 bytes');
  t.throws(() => v.ifname('é'.repeat(8)), invalid('name'), 'counted in bytes, not characters');
  t.throws(() => v.ifname(''), invalid('name'));
  t.throws(() => v.ifname('a/b'), invalid('name'));
  t.throws(() => v.ifname('a b'), invalid('name'));
  t.throws(() => v.ifname('a\tb'), invalid('name'));
  t.throws(() => v.ifname('a:b'), invalid('name'));
  t.throws(() => v.ifname('..'), invalid('name'));
  t.throws(() => v.ifname(7), invalid('name'));
  t.throws(() => v.ifname('vnet%d'), { ...invalid('name'), message: /template/ }, '% outside a template');
  t.equal(v.ifname('vnet%d', 'template', { template: true }), 'vnet%d');
  t.throws(() => v.ifname('vnet', 'template', { template: true }), invalid('template'));
  t.throws(() => v.ifname('v%d%d', 'template', { template: true }), invalid('template'));
  t.throws(() => v.ifname('v%s', 'template', { template: true }), invalid('template'));
  t.equal(v.ifnameOrTemplate('macvtap%d'), 'macvtap%d');
  t.equal(v.ifnameOrTemplate('mvt0'), 'mvt0');
  const e = t.throws(() => v.ifname('bad name', 'target')) as unknown as { message: string; value: unknown };
  t.match(e.message, /target "bad name"/, 'the message names field and value');
  t.equal(e.value, 'bad name');
});

t.test('MAC addresses', async (t) => {
  t.equal(v.mac('52:54:00:AB:cd:01'), '52:54:00:ab:cd:01', 'lower-cased');
  t.throws(() => v.mac('01:00:5e:00:00:01'), { ...invalid('mac'), message: /multicast/ });
  t.throws(() => v.mac('ff:ff:ff:ff:ff:ff'), invalid('mac'), 'broadcast is multicast');
  t.throws(() => v.mac('00:00:00:00:00:00'), invalid('mac'));
  t.throws(() => v.mac('52:54:00:ab:cd'), invalid('mac'), 'five octets');
  t.throws(() => v.mac('52:54:00:ab:cd:01:02'), invalid('mac'), 'seven octets');
  t.throws(() => v.mac('52-54-00-ab-cd-01'), invalid('mac'));
  t.throws(() => v.mac('5:54:00:ab:cd:01'), invalid('mac'));
  t.throws(() => v.mac(null), invalid('mac'));
});

t.test('macvtap modes, with libvirt spelling', async (t) => {
  for (const m of ['vepa', 'bridge', 'private', 'passthru']) t.equal(v.macvlanMode(m), m);
  t.equal(v.macvlanMode('passthrough'), 'passthru');
  t.throws(() => v.macvlanMode('pepa'), { ...invalid('mode'), value: 'pepa' });
  t.throws(() => v.macvlanMode('VEPA'), invalid('mode'));
  t.throws(() => v.macvlanMode('source'), invalid('mode'), 'source mode is not offered');
});

t.test('queue counts', async (t) => {
  t.equal(v.queues(1), 1);
  t.equal(v.queues(256), 256);
  t.equal(v.queues('4'), 4, 'CLI strings');
  for (const bad of [0, 257, 1.5, -1, '4x', NaN, '']) t.throws(() => v.queues(bad), invalid('queues'), String(bad));
});

t.test('namespaces, ids, device paths, link refs', async (t) => {
  t.equal(v.netns('blue'), 'blue');
  t.equal(v.netns('/proc/1/ns/net'), '/proc/1/ns/net');
  t.throws(() => v.netns('rel/path'), invalid('netns'));
  t.throws(() => v.netns(''), invalid('netns'));
  t.throws(() => v.netns('..'), invalid('netns'));
  t.equal(v.id('1000', 'owner'), 1000);
  t.throws(() => v.id(-1, 'owner'), invalid('owner'));
  t.throws(() => v.id(0xffffffff, 'group'), invalid('group'));
  t.equal(v.devicePath('/dev/vhost-net', 'vhostDevice'), '/dev/vhost-net');
  t.throws(() => v.devicePath('vhost-net', 'vhostDevice'), invalid('vhostDevice'));
  t.equal(v.linkRef(3), 3);
  t.equal(v.linkRef('eth0'), 'eth0');
  t.throws(() => v.linkRef(0), invalid('link'));
  t.throws(() => v.linkRef(2 ** 31), invalid('link'));
});
