// Host-side operations for libvirt <interface> elements (issue 15) on real
// devices, each test in a fresh namespace: MTU, bridge port isolation, bridge
// VLANs, the root qdisc, coalescing, addresses and routes. Every result is
// checked against iproute2's / tc's / ethtool's own view and against netfd's
// getters; bad input is refused before any syscall; kernel refusals come back
// as NetfdError with errno and the kernel's extack text.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { addAddress, addRoute, listAddresses, listRoutes } from '../../lib/sys/addr';
import { addBridgeVlan, deleteBridgeVlan, getBridgePort, listBridgePorts, listBridgeVlans, setBridgePort } from '../../lib/sys/bridge';
import { getCoalesce, setCoalesce } from '../../lib/sys/coalesce';
import { NetfdError } from '../../lib/errors';
import { getLink, setLink } from '../../lib/sys/link';
import { createMacvtap } from '../../lib/sys/macvtap';
import { native } from '../../lib/sys/native';
import { getRootQdisc, setRootQdisc } from '../../lib/sys/qdisc';
import { Tap } from '../../lib/sys/tap';
import * as v from '../../lib/validate';
import { ip, ipLink, needsRoot, run, withNetns } from '../helpers/host';

const b = native();
const invalid = (field: string, value?: unknown) => (value === undefined ? { code: 'INVALID_ARGUMENT', field } : { code: 'INVALID_ARGUMENT', field, value });
const json = <T>(cmd: string, args: string[]): T => JSON.parse(run(cmd, args) || '[]') as T;
const bridgeLinks = (ns: string) => json<{ ifname: string; isolated?: boolean; master?: string }[]>('bridge', ['-n', ns, '-j', '-d', 'link', 'show']);
const tcQdiscs = (ns: string, dev: string) => json<{ kind: string; handle: string; root?: boolean }[]>('ip', ['netns', 'exec', ns, 'tc', '-j', 'qdisc', 'show', 'dev', dev]);
const hasEthtool = spawnSync('ethtool', ['--version']).status === 0;
const mtuOf = (ns: string, dev: string) => json<{ mtu: number }[]>('ip', ['-n', ns, '-j', 'link', 'show', 'dev', dev])[0].mtu;

// A namespace that does not exist: any syscall made for a call would fail
// with ENOENT, so INVALID_ARGUMENT proves the input was refused before one.
const nowhere = { netns: '/nonexistent/netfd-ns' };

t.test('bad input is refused before any syscall, naming field and value', async (t) => {
  await t.rejects(setLink('tap0', { ...nowhere, mtu: 67 }), invalid('mtu', 67));
  await t.rejects(setLink('tap0', { ...nowhere, mtu: 65536 }), invalid('mtu', 65536));
  await t.rejects(setLink('tap0', { ...nowhere, mtu: 1500.5 }), invalid('mtu'));
  await t.rejects(setLink('tap0', { ...nowhere, mtu: '1500' as unknown as number }), invalid('mtu', '1500'));
  await t.rejects(setBridgePort('v0', { ...nowhere, isolated: 'on' as unknown as boolean }), invalid('isolated', 'on'));
  await t.rejects(setBridgePort('bad name', { ...nowhere, isolated: true }), invalid('link', 'bad name'));
  for (const vid of [0, 4095, 1.5, '10']) await t.rejects(addBridgeVlan('v0', { ...nowhere, vid: vid as number }), invalid('vid', vid), `vid ${JSON.stringify(vid)}`);
  await t.rejects(addBridgeVlan('v0', { ...nowhere, vid: 10, pvid: 1 as unknown as boolean }), invalid('pvid', 1));
  await t.rejects(deleteBridgeVlan('v0', { ...nowhere, vid: 4096 }), invalid('vid', 4096));
  await t.rejects(setRootQdisc('tap0', 'fq_codel' as 'noqueue', nowhere), invalid('kind', 'fq_codel'));
  await t.rejects(setCoalesce('tap0', { ...nowhere, rxMaxFrames: -1 }), invalid('rxMaxFrames', -1));
  await t.rejects(setCoalesce('tap0', { ...nowhere, rxMaxFrames: 2 ** 32 }), invalid('rxMaxFrames'));
  await t.rejects(addAddress('tap0', { ...nowhere, address: '192.0.2.300', prefix: 24 }), invalid('address', '192.0.2.300'));
  await t.rejects(addAddress('tap0', { ...nowhere, address: 'fe80::1%tap0', prefix: 64 }), invalid('address'), 'no zone index');
  await t.rejects(addAddress('tap0', { ...nowhere, address: '192.0.2.1/24', prefix: 24 }), invalid('address'), 'the prefix is its own field');
  await t.rejects(addAddress('tap0', { ...nowhere, address: '192.0.2.1', prefix: 33 }), invalid('prefix', 33));
  await t.rejects(addAddress('tap0', { ...nowhere, address: '2001:db8::1', prefix: 129 }), invalid('prefix', 129));
  await t.rejects(addAddress('tap0', { ...nowhere, address: '192.0.2.1', prefix: 32, peer: '2001:db8::2' }), invalid('peer', '2001:db8::2'));
  await t.rejects(addRoute({ ...nowhere, address: '198.51.100.7', prefix: 24, dev: 'tap0' }), invalid('address', '198.51.100.7'), 'host bits set');
  await t.rejects(addRoute({ ...nowhere, address: '2001:db8:1::1', prefix: 48, dev: 'tap0' }), invalid('address'), 'host bits set (IPv6)');
  await t.rejects(addRoute({ ...nowhere, address: '198.51.100.0', prefix: 24, gateway: 'fe80::1', dev: 'tap0' }), invalid('gateway', 'fe80::1'));
  await t.rejects(addRoute({ ...nowhere, address: '198.51.100.0', prefix: 24, dev: 'tap0', metric: -1 }), invalid('metric', -1));
  await t.rejects(addRoute({ ...nowhere, address: '198.51.100.0', prefix: 24, dev: 'tap0', protocol: 'dhcp' as 'boot' }), invalid('protocol', 'dhcp'));
  await t.rejects(addRoute({ ...nowhere, address: '198.51.100.0', prefix: 24, dev: 0 }), invalid('dev', 0));
  const e = await setLink('tap0', { ...nowhere, mtu: 12 }).catch((err: unknown) => err);
  t.ok(e instanceof NetfdError, 'a NetfdError');
  t.match((e as Error).message, /invalid mtu 12: an MTU is an integer from 68 to 65535/);
  // The prefix arithmetic behind them.
  t.ok(v.isNetworkAddress('198.51.100.0', 4, 24));
  t.notOk(v.isNetworkAddress('198.51.100.128', 4, 24));
  t.ok(v.isNetworkAddress('0.0.0.0', 4, 0), 'the default route');
  t.ok(v.isNetworkAddress('2001:db8:1::', 6, 48));
  t.notOk(v.isNetworkAddress('2001:db8:1::1', 6, 127));
  t.ok(v.isNetworkAddress('::ffff:10.0.0.0', 6, 120), 'an embedded IPv4 part');
  t.notOk(v.isNetworkAddress('::ffff:10.0.0.1', 6, 120));
  t.equal(v.ipv4Broadcast('192.0.2.77', 24), '192.0.2.255');
  t.equal(v.ipv4Broadcast('10.1.2.3', 9), '10.127.255.255');
  t.equal(v.ipv4Broadcast('10.1.2.3', 32), '10.1.2.3');
  // The same calls with good input do reach the kernel (here: no namespace).
  await t.rejects(setLink('tap0', { ...nowhere, mtu: 1500 }), { code: 'ENOENT' });
  await t.rejects(addRoute({ ...nowhere, address: '198.51.100.0', prefix: 24, dev: 'tap0' }), { code: 'ENOENT' });
});

t.test('MTU: ip link set dev X mtu N on a veth, a tap and a macvtap; bridge vlan_filtering read back', { skip: needsRoot }, async (t) => {
  await withNetns(
    t,
    async (ns) => {
      const tap = await Tap.create({ netns: ns, name: 'tap0' });
      try {
        await setLink('v1', { netns: ns, mtu: 1400 });
        await setLink(tap.ifindex, { netns: ns, mtu: 9000 });
        t.equal(mtuOf(ns, 'v1'), 1400, 'ip -j link: veth');
        t.equal(mtuOf(ns, 'tap0'), 9000, 'ip -j link: tap (by ifindex)');
        t.equal((await getLink('tap0', { netns: ns })).mtu, 9000, 'getLink');
        // The kernel's refusals, with its extended-ack text where it has one.
        const above = await setLink('tap0', { netns: ns, mtu: 65535 }).catch((e: unknown) => e as NetfdError);
        t.ok(above instanceof NetfdError);
        t.match(above, { code: 'EINVAL', errno: -22, syscall: 'rtnetlink', extack: 'mtu greater than device maximum', message: /tap0.*kernel: mtu greater than device maximum/ });
        const mvt = await createMacvtap({ netns: ns, link: 'v0', mode: 'bridge', name: 'mvt0' });
        await setLink('mvt0', { netns: ns, mtu: 1500 });
        const overParent = await setLink('mvt0', { netns: ns, mtu: 1600 }).catch((e: unknown) => e as NetfdError);
        t.match(overParent, { code: 'EINVAL', errno: -22 }, 'a macvtap above its parent: EINVAL (macvlan_change_mtu gives no extack)');
        t.equal(mtuOf(ns, 'mvt0'), 1500, 'unchanged');
        t.equal(mvt.mtu, 1500);
        // vlan_filtering of a bridge, as ip -d -j link shows it.
        const br = await getLink('br0', { netns: ns });
        const data = ipLink(ns, 'br0').linkinfo!.info_data as { vlan_filtering: number };
        t.same(br.bridge, { vlanFiltering: data.vlan_filtering === 1 }, 'bridge.vlanFiltering = ip -d -j: info_data.vlan_filtering');
        t.equal(br.bridge!.vlanFiltering, false);
        t.equal((await getLink('v0', { netns: ns })).bridge, null, 'not a bridge: null');
        const made = spawnSync('ip', ['-n', ns, 'link', 'add', 'brv', 'type', 'bridge', 'vlan_filtering', '1'], { encoding: 'utf8' });
        if (made.status === 0) t.same((await getLink('brv', { netns: ns })).bridge, { vlanFiltering: true }, 'vlan_filtering 1');
        else t.comment(`this kernel cannot make a VLAN-filtering bridge (${made.stderr.trim()}): only vlanFiltering false is checked`);
      } finally {
        tap.close();
      }
    },
    { bridge: true },
  );
});

t.test('bridge port isolated: bridge link set dev X isolated on|off', { skip: needsRoot }, async (t) => {
  await withNetns(
    t,
    async (ns) => {
      const tap = await Tap.create({ netns: ns, name: 'vnet0' });
      try {
        ip(['-n', ns, 'link', 'set', 'v0', 'master', 'br0']);
        ip(['-n', ns, 'link', 'set', 'vnet0', 'master', 'br0']);
        await setBridgePort('v0', { netns: ns, isolated: true });
        const seen = Object.fromEntries(bridgeLinks(ns).map((l) => [l.ifname, l.isolated]));
        t.same(seen, { v0: true, vnet0: false }, 'bridge -j -d link show');
        const br0 = ipLink(ns, 'br0').ifindex;
        t.match(await getBridgePort('v0', { netns: ns }), { name: 'v0', master: br0, isolated: true, learning: true, unicastFlood: true, vlans: [] });
        t.match(await getBridgePort(tap.ifindex, { netns: ns }), { name: 'vnet0', isolated: false });
        t.same(
          (await listBridgePorts({ netns: ns })).map((p) => [p.name, p.isolated]).sort(),
          [
            ['v0', true],
            ['vnet0', false],
          ],
          'listBridgePorts: the ports, not the bridge',
        );
        await setBridgePort(tap.ifindex, { netns: ns, isolated: true });
        await setBridgePort('v0', { netns: ns, isolated: false });
        t.same(Object.fromEntries(bridgeLinks(ns).map((l) => [l.ifname, l.isolated])), { v0: false, vnet0: true }, 'and back');
        await setBridgePort('v0', { netns: ns });
        t.equal((await getBridgePort('v0', { netns: ns })).isolated, false, 'nothing asked: nothing changed');
        // Not a port: the kernel refuses; netfd's getter says what to do.
        await t.rejects(setBridgePort('v1', { netns: ns, isolated: true }), { code: 'EOPNOTSUPP', errno: -95, syscall: 'rtnetlink', message: /bridge port link v1/ });
        await t.rejects(getBridgePort('v1', { netns: ns }), { code: 'NOT_BRIDGE_PORT', message: /master BRIDGE/ });
        await t.rejects(setBridgePort('nosuch', { netns: ns, isolated: true }), { code: 'ENODEV', message: /nosuch/ });
      } finally {
        tap.close();
      }
    },
    { bridge: true },
  );
});

t.test('bridge VLANs: bridge vlan add/del dev X vid N [pvid] [untagged], bridge -j vlan show', { skip: needsRoot }, async (t) => {
  await withNetns(
    t,
    async (ns) => {
      const tap = await Tap.create({ netns: ns, name: 'vnet0' });
      try {
        const made = spawnSync('ip', ['-n', ns, 'link', 'add', 'brv', 'type', 'bridge', 'vlan_filtering', '1'], { encoding: 'utf8' });
        const bridge = made.status === 0 ? 'brv' : 'br0';
        ip(['-n', ns, 'link', 'set', 'vnet0', 'master', bridge]);
        // The kernel checks the id before anything else, with extack text (TS
        // refuses 4095 already; the binding passes it to show the kernel's answer).
        await t.rejects(b.addBridgeVlan({ netns: ns, link: 'vnet0', vid: 4095 }), { code: 'EINVAL', extack: 'bridge: Vlan id is invalid' });
        // Not a bridge port at all.
        await t.rejects(addBridgeVlan('v1', { netns: ns, vid: 10 }), { code: 'EOPNOTSUPP', message: /vlan 10 to bridge port link v1/ });
        if (made.status !== 0) {
          // This kernel has no CONFIG_BRIDGE_VLAN_FILTERING: every VLAN request
          // is refused and no VLAN is ever reported.
          t.comment(`VLAN-filtering bridge unavailable (${made.stderr.trim()}): checking the refusal only`);
          await t.rejects(addBridgeVlan('vnet0', { netns: ns, vid: 10, pvid: true, untagged: true }), { code: 'EOPNOTSUPP', errno: -95, syscall: 'rtnetlink' });
          // The kernel ignores nbp_vlan_delete()'s answer (br_vlan_info()), so a
          // delete is a silent no-op here rather than a refusal.
          await deleteBridgeVlan('vnet0', { netns: ns, vid: 1 });
          t.same(await listBridgeVlans('vnet0', { netns: ns }), [], 'listBridgeVlans: none');
          t.same(json('bridge', ['-n', ns, '-j', 'vlan', 'show']), [], 'bridge -j vlan show: none either');
          await t.test('adding, listing and deleting VLANs on a port', { skip: 'needs a kernel with CONFIG_BRIDGE_VLAN_FILTERING (this one has none)' }, async () => {});
          return;
        }
        type Shown = { ifname: string; vlans: { vlan: number; flags?: string[] }[] };
        const shown = (dev: string) =>
          (json<Shown[]>('bridge', ['-n', ns, '-j', 'vlan', 'show', 'dev', dev])[0]?.vlans ?? []).map((x) => ({
            vid: x.vlan,
            pvid: (x.flags ?? []).includes('PVID'),
            untagged: (x.flags ?? []).includes('Egress Untagged'),
          }));
        t.same(await listBridgeVlans('vnet0', { netns: ns }), shown('vnet0'), 'the default vid 1 as the kernel gives it');
        // libvirt's <vlan><tag id='42' nativeMode='untagged'/><tag id='50'/></vlan>
        await addBridgeVlan('vnet0', { netns: ns, vid: 42, pvid: true, untagged: true });
        await addBridgeVlan('vnet0', { netns: ns, vid: 50 });
        await deleteBridgeVlan('vnet0', { netns: ns, vid: 1 });
        t.same(await listBridgeVlans('vnet0', { netns: ns }), [
          { vid: 42, pvid: true, untagged: true },
          { vid: 50, pvid: false, untagged: false },
        ]);
        t.same(await listBridgeVlans(tap.ifindex, { netns: ns }), shown('vnet0'), 'matches bridge -j vlan show');
        await deleteBridgeVlan(tap.ifindex, { netns: ns, vid: 50 });
        t.same((await getBridgePort('vnet0', { netns: ns })).vlans, [{ vid: 42, pvid: true, untagged: true }]);
        // br_vlan_info() ignores nbp_vlan_delete()'s answer: deleting a vid the
        // port lacks succeeds and changes nothing.
        await deleteBridgeVlan('vnet0', { netns: ns, vid: 50 });
        t.same(await listBridgeVlans('vnet0', { netns: ns }), [{ vid: 42, pvid: true, untagged: true }], 'deleting a vid the port lacks: a no-op');
      } finally {
        tap.close();
      }
    },
    { bridge: true },
  );
});

t.test('root qdisc: tc qdisc replace dev X root noqueue on a tap and a macvtap', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const tap = await Tap.create({ netns: ns, name: 'vnet0' });
    try {
      t.same(tcQdiscs(ns, 'vnet0'), [], 'a tap that is down: tc shows no qdisc (the hidden noop)');
      t.equal(await getRootQdisc('vnet0', { netns: ns }), null);
      await setRootQdisc('vnet0', 'noqueue', { netns: ns });
      const [q] = tcQdiscs(ns, 'vnet0');
      t.match(q, { kind: 'noqueue', root: true });
      t.same(await getRootQdisc(tap.ifindex, { netns: ns }), { kind: 'noqueue', handle: q.handle }, 'getRootQdisc = tc -j qdisc show');
      ip(['-n', ns, 'link', 'set', 'vnet0', 'up']);
      t.equal((await getRootQdisc('vnet0', { netns: ns }))!.kind, 'noqueue', 'kept when the link goes up');
      await setRootQdisc('vnet0', 'noqueue', { netns: ns });
      t.equal(tcQdiscs(ns, 'vnet0').length, 1, 'replace twice: still one root qdisc');
      await createMacvtap({ netns: ns, link: 'v0', mode: 'bridge', name: 'mvt0' });
      await setRootQdisc('mvt0', 'noqueue', { netns: ns });
      t.match(tcQdiscs(ns, 'mvt0'), [{ kind: 'noqueue', root: true }], 'macvtap too (libvirt does both)');
      await t.rejects(b.setRootQdisc({ netns: ns, link: 'vnet0', kind: 'nosuchqdisc' }), { code: 'ENOENT', extack: 'Specified qdisc kind is unknown' }, 'a kind the kernel lacks, with extack');
      await t.rejects(setRootQdisc('nosuch', 'noqueue', { netns: ns }), { code: 'ENODEV' });
    } finally {
      tap.close();
    }
  });
});

t.test("coalescing: ethtool -C X rx-frames N through SIOCETHTOOL in the link's namespace", { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const tap = await Tap.create({ netns: ns, name: 'vnet0' });
    try {
      const ethtoolFrames = () => Number(/rx-frames:\s+(\d+)/.exec(run('ip', ['netns', 'exec', ns, 'ethtool', '-c', 'vnet0']))![1]);
      t.same(await getCoalesce('vnet0', { netns: ns }), { rxMaxFrames: 0 }, 'a new tap batches nothing');
      t.same(await setCoalesce('vnet0', { netns: ns, rxMaxFrames: 16 }), { rxMaxFrames: 16 });
      t.same(await getCoalesce(tap.ifindex, { netns: ns }), { rxMaxFrames: 16 }, 'by ifindex too');
      if (hasEthtool) t.equal(ethtoolFrames(), 16, 'ethtool -c: rx-frames');
      else t.comment('ethtool is not installed: checked with the getter only');
      t.same(await setCoalesce(tap.ifindex, { netns: ns, rxMaxFrames: 1000 }), { rxMaxFrames: 64 }, 'tun keeps at most 64 (NAPI_POLL_WEIGHT)');
      t.same(await setCoalesce('vnet0', { netns: ns }), { rxMaxFrames: 64 }, 'nothing asked: read, write back, unchanged');
      if (hasEthtool) {
        run('ip', ['netns', 'exec', ns, 'ethtool', '-C', 'vnet0', 'rx-frames', '3']);
        t.same(await getCoalesce('vnet0', { netns: ns }), { rxMaxFrames: 3 }, 'the getter sees what ethtool -C set');
      }
      // A driver without coalescing: the ioctl's errno, no extack (not netlink).
      await createMacvtap({ netns: ns, link: 'v0', mode: 'bridge', name: 'mvt0' });
      await t.rejects(setCoalesce('mvt0', { netns: ns, rxMaxFrames: 4 }), { code: 'EOPNOTSUPP', errno: -95, syscall: 'ioctl', message: /mvt0.*ETHTOOL_GCOALESCE/ });
      await t.rejects(getCoalesce('nosuch', { netns: ns }), { code: 'ENODEV' });
      await t.rejects(getCoalesce(999999, { netns: ns }), { code: 'ENODEV', message: /SIOCGIFNAME/ });
    } finally {
      tap.close();
    }
  });
});

t.test('addresses: ip addr add A/P [peer P] dev X, IPv4 and IPv6', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const tap = await Tap.create({ netns: ns, name: 'vnet0' });
    try {
      await addAddress('vnet0', { netns: ns, address: '192.0.2.1', prefix: 24 });
      await addAddress(tap.ifindex, { netns: ns, address: '10.0.0.1', prefix: 32, peer: '10.0.0.2' });
      await addAddress('vnet0', { netns: ns, address: '2001:db8::1', prefix: 64 });
      await addAddress('vnet0', { netns: ns, address: '198.51.100.1', prefix: 31 });
      type Shown = { family: string; local: string; address?: string; prefixlen: number; broadcast?: string; scope: string };
      const shown = json<{ addr_info: Shown[] }[]>('ip', ['-n', ns, '-j', 'addr', 'show', 'dev', 'vnet0'])[0]
        .addr_info.filter((a) => a.scope === 'global')
        .map((a) => ({ family: a.family === 'inet' ? 4 : 6, address: a.local, prefix: a.prefixlen, peer: a.address ?? null, broadcast: a.broadcast ?? null }));
      const mine = (await listAddresses({ netns: ns, link: 'vnet0' }))
        .filter((a) => a.scope === 'global')
        .map(({ family, address, prefix, peer, broadcast }) => ({ family, address, prefix, peer, broadcast }));
      t.same(mine, shown, 'listAddresses = ip -j addr show');
      t.same(
        mine,
        [
          { family: 4, address: '192.0.2.1', prefix: 24, peer: null, broadcast: '192.0.2.255' },
          { family: 4, address: '10.0.0.1', prefix: 32, peer: '10.0.0.2', broadcast: null },
          { family: 4, address: '198.51.100.1', prefix: 31, peer: null, broadcast: null },
          { family: 6, address: '2001:db8::1', prefix: 64, peer: null, broadcast: null },
        ],
        'broadcast computed up to /30 (brd +), none with a peer or on /31',
      );
      t.ok(
        (await listAddresses({ netns: ns })).some((a) => a.address === '192.0.2.1' && a.index === tap.ifindex),
        'unfiltered too',
      );
      await t.rejects(addAddress('vnet0', { netns: ns, address: '192.0.2.1', prefix: 24 }), { code: 'EEXIST', errno: -17, syscall: 'rtnetlink', message: /192\.0\.2\.1\/24.*vnet0/ });
      await t.rejects(addAddress('nosuch', { netns: ns, address: '192.0.2.9', prefix: 24 }), { code: 'ENODEV' });
    } finally {
      tap.close();
    }
  });
});

t.test('routes: ip route add A/P [via G] dev X proto boot|static [metric M]', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const tap = await Tap.create({ netns: ns, name: 'vnet0' });
    try {
      // Without an address on an up link the gateway is unreachable: the
      // kernel says so in its extack.
      await t.rejects(addRoute({ netns: ns, address: '198.51.100.0', prefix: 24, gateway: '192.0.2.2', dev: 'vnet0' }), {
        code: 'ENETUNREACH',
        extack: 'Nexthop has invalid gateway',
        message: /198\.51\.100\.0\/24 via 192\.0\.2\.2/,
      });
      ip(['-n', ns, 'link', 'set', 'vnet0', 'up']);
      await addAddress('vnet0', { netns: ns, address: '192.0.2.1', prefix: 24 });
      await addAddress('vnet0', { netns: ns, address: '2001:db8::1', prefix: 64 });
      // libvirt's <route address='198.51.100.0' prefix='24' gateway='192.0.2.2'/> (metric 1 when none is given)
      await addRoute({ netns: ns, address: '198.51.100.0', prefix: 24, gateway: '192.0.2.2', dev: 'vnet0', metric: 1 });
      await addRoute({ netns: ns, address: '203.0.113.0', prefix: 24, dev: tap.ifindex, protocol: 'static' });
      await addRoute({ netns: ns, address: '0.0.0.0', prefix: 0, gateway: '192.0.2.254', dev: 'vnet0', metric: 10 });
      await addRoute({ netns: ns, address: '2001:db8:1::', prefix: 48, gateway: '2001:db8::2', dev: 'vnet0', metric: 1 });
      type Shown = { dst: string; gateway?: string; protocol?: string; metric?: number; scope?: string };
      const norm = (r: Shown) => ({ dst: r.dst, gateway: r.gateway ?? null, protocol: r.protocol ?? 'boot', metric: r.metric ?? null, scope: r.scope ?? 'global' });
      const shown = [...json<Shown[]>('ip', ['-n', ns, '-j', 'route', 'show', 'dev', 'vnet0']), ...json<Shown[]>('ip', ['-n', ns, '-6', '-j', 'route', 'show', 'dev', 'vnet0'])]
        .map(norm)
        .filter((r) => r.protocol !== 'kernel');
      const mine = (await listRoutes({ netns: ns, dev: 'vnet0' }))
        .filter((r) => r.protocol !== 'kernel')
        .map((r) => ({
          dst: r.prefix === 0 ? 'default' : r.prefix === (r.family === 4 ? 32 : 128) ? r.address : `${r.address}/${r.prefix}`,
          gateway: r.gateway,
          protocol: r.protocol,
          metric: r.metric,
          scope: r.scope,
        }));
      const key = (r: { dst: string }) => r.dst;
      t.same(
        mine.sort((a, c) => key(a).localeCompare(key(c))),
        shown.sort((a, c) => key(a).localeCompare(key(c))),
        'listRoutes = ip -j route show (iproute2 leaves out proto boot and scope global)',
      );
      t.same(
        mine.find((r) => r.dst === '198.51.100.0/24'),
        { dst: '198.51.100.0/24', gateway: '192.0.2.2', protocol: 'boot', metric: 1, scope: 'global' },
      );
      t.same(
        mine.find((r) => r.dst === '203.0.113.0/24'),
        { dst: '203.0.113.0/24', gateway: null, protocol: 'static', metric: null, scope: 'link' },
        'no gateway: scope link',
      );
      t.match(
        mine.find((r) => r.dst === '2001:db8:1::/48'),
        { gateway: '2001:db8::2', protocol: 'boot', metric: 1 },
      );
      await t.rejects(addRoute({ netns: ns, address: '198.51.100.0', prefix: 24, gateway: '192.0.2.2', dev: 'vnet0', metric: 1 }), { code: 'EEXIST', errno: -17 });
      await t.rejects(addRoute({ netns: ns, address: '10.1.0.0', prefix: 16, gateway: '10.9.9.9', dev: 'vnet0' }), { code: 'ENETUNREACH', extack: 'Nexthop has invalid gateway' });
      await t.rejects(addRoute({ netns: ns, address: '10.1.0.0', prefix: 16, dev: 'nosuch' }), { code: 'ENODEV' });
      t.same(
        (await listRoutes({ netns: ns, dev: 'v0' })).filter((r) => r.protocol !== 'kernel'),
        [],
        'other links: none of these',
      );
    } finally {
      tap.close();
    }
  });
});
