// libvirt's <interface>: what netfd reads of it, and nothing it does not
// apply. Every element and attribute inside <interface> is either turned into
// host changes or qemu arguments exactly as libvirt does, or refused with
// NOT_SUPPORTED naming its XPath (INTERFACE_SHAPE below, checked before
// anything is read). Pure.
import * as v from '../validate';
import { absPath, attr, bad, checked, child, children, Element, intAttr, isObjectName, notSupported, oneOf, onOff, path, text, yesNo } from './dom';

import { DIRECT_MODES, DirectMode, InterfaceDef, InterfaceType, INTERFACE_TYPES, ParseOptions, RESERVED_PREFIXES } from './interface-def';
import { checkShape, LIVE_SHAPE, SHAPE, WHY } from './interface-shape';
import { bandwidthDef, ipDef, parseDriver, pciAddress, routeDef } from './interface-parts';

export * from './interface-def';

/** libvirt's interface types netfd does not run. */
const OTHER_TYPES = ['user', 'vhostuser', 'hostdev', 'mcast', 'server', 'client', 'udp', 'vdpa', 'null', 'vds', 'internal'];

export function parseInterface(el: Element, index: number, o: ParseOptions): InterfaceDef {
  const t = attr(el, 'type');
  if (t !== undefined && OTHER_TYPES.includes(t)) throw notSupported(el, 'type', t, 'netfd runs ethernet, bridge, direct and network interfaces');
  const type = oneOf(el, 'type', INTERFACE_TYPES);
  if (!type) throw bad(el, 'type', '', `an <interface> needs type= one of ${INTERFACE_TYPES.join(', ')}`);
  checkShape(el, o.live ? LIVE_SHAPE : SHAPE);
  const def: InterfaceDef = { index, path: path(el), type, source: {}, backend: {} };
  if (yesNo(el, 'trustGuestRxFilters', false)) throw notSupported(el, 'trustGuestRxFilters', 'yes', WHY['interface@trustGuestRxFilters']);
  const link = child(el, 'link');
  if (link && oneOf(link, 'state', ['up', 'down'] as const) === 'down') throw notSupported(link, 'state', 'down', WHY['link@state']);

  const mac = child(el, 'mac');
  if (mac) {
    const address = attr(mac, 'address');
    if (address === undefined) throw bad(mac, 'address', '', '<mac> needs an address');
    def.mac = checked(mac, 'address', address, (x) => v.mac(x));
  }

  const model = child(el, 'model');
  if (model) {
    const t = attr(model, 'type');
    if (t === undefined || !/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(t)) throw bad(model, 'type', t ?? '', 'expected a NIC model such as virtio, e1000, e1000e, rtl8139');
    // Model names are case-insensitive, as in libvirt: ViRtIo is virtio.
    def.model = t.toLowerCase();
  }

  const driver = child(el, 'driver');
  if (driver) def.driver = parseDriver(driver);

  const target = child(el, 'target');
  if (target) {
    const managed = yesNo(target, 'managed', true);
    const dev = attr(target, 'dev');
    def.target = { managed };
    if (dev !== undefined) {
      if (!managed && dev.includes('%')) throw bad(target, 'dev', dev, "managed='no' needs the exact name of an existing device, not a template");
      def.target.dev = checked(target, 'dev', dev, (x) => v.ifnameOrTemplate(x, 'dev'));
      const reserved = RESERVED_PREFIXES.find((p) => dev.startsWith(p));
      if (reserved && managed && !o.live)
        throw bad(
          target,
          'dev',
          dev,
          `names starting with '${reserved}' are reserved for names netfd generates; choose another name, or use managed='no' for an existing device (a live XML from dumpxml is launched with --from-live)`,
        );
    }
    if (!managed) {
      if (type !== 'ethernet') throw bad(target, 'managed', 'no', "managed='no' is only for type='ethernet' (an existing tap or macvtap)");
      if (dev === undefined) throw bad(target, 'dev', '', "managed='no' needs the name of the existing tap or macvtap in dev=");
    }
  }

  const source = child(el, 'source');
  const sourceAttrs: Record<InterfaceType, readonly string[]> = { bridge: ['bridge'], direct: ['dev', 'mode'], network: ['network'], ethernet: [] };
  if (source)
    for (let i = 0; i < source.attributes.length; i++) {
      const a = source.attributes[i];
      if (!sourceAttrs[type].includes(a.name))
        throw notSupported(
          source,
          a.name,
          a.value,
          WHY[`source@${a.name}`] ?? `type='${type}' takes ${sourceAttrs[type].length ? sourceAttrs[type].map((x) => `${x}=`).join(' and ') : 'no attribute'} on <source>`,
        );
    }
  if (source && type !== 'ethernet') for (const c of children(source)) throw notSupported(c, null, c.tagName, `only type='ethernet' takes <${c.tagName}> in <source> (the host side of its tap)`);
  if (source && type === 'ethernet') {
    const addresses = children(source, 'ip').map(ipDef);
    const routes = children(source, 'route').map(routeDef);
    if (addresses.length || routes.length) def.hostIp = { addresses, routes };
  }
  if (type === 'bridge') {
    const br = source ? attr(source, 'bridge') : undefined;
    if (!source || br === undefined) throw bad(source ?? el, source ? 'bridge' : null, '', "type='bridge' needs <source bridge='BRIDGE'/>");
    def.source.bridge = checked(source, 'bridge', br, (x) => v.ifname(x, 'bridge'));
  } else if (type === 'direct') {
    const dev = source ? attr(source, 'dev') : undefined;
    if (!source || dev === undefined) throw bad(source ?? el, source ? 'dev' : null, '', "type='direct' needs <source dev='DEV' mode='vepa|bridge|private|passthrough'/>");
    def.source.dev = checked(source, 'dev', dev, (x) => v.ifname(x, 'dev'));
    def.source.mode = oneOf(source, 'mode', DIRECT_MODES, 'vepa');
  } else if (type === 'network') {
    const net = source ? attr(source, 'network') : undefined;
    if (!source || !net) throw bad(source ?? el, source ? 'network' : null, '', "type='network' needs <source network='NAME'/>");
    if (!isObjectName(net)) throw bad(source, 'network', net, 'a network name is 1-200 bytes, no whitespace or /');
    def.source.network = net;
    // Status XML only: the device the network allocated (refused in config by the shape).
    const actual = o.live ? child(el, 'actual') : undefined;
    if (actual) {
      if (attr(actual, 'type') !== 'direct') throw bad(actual, 'type', attr(actual, 'type') ?? '', "netfd records <actual type='direct'>");
      const src = child(actual, 'source');
      const dev = src ? attr(src, 'dev') : undefined;
      if (!src || dev === undefined) throw bad(src ?? actual, src ? 'dev' : null, '', "<actual> needs <source dev='DEV' mode='MODE'/>");
      def.actual = { dev: checked(src, 'dev', dev, (x) => v.ifname(x, 'dev')), mode: oneOf(src, 'mode', DIRECT_MODES, 'vepa') as DirectMode };
    }
  }

  const backend = child(el, 'backend');
  if (backend) {
    const tap = absPath(backend, 'tap');
    if (tap !== undefined) def.backend.tap = tap;
    const vhost = absPath(backend, 'vhost');
    if (vhost !== undefined) def.backend.vhost = vhost;
  }

  const alias = child(el, 'alias');
  if (alias) {
    const name = attr(alias, 'name');
    // Live XML records netfd's own netN ids too, as libvirt's status XML does.
    if (name === undefined || !(/^ua-[A-Za-z0-9_.-]{1,124}$/.test(name) || (o.live && /^net\d+$/.test(name))))
      throw bad(alias, 'name', name ?? '', "a user alias starts with 'ua-' (as in libvirt), then letters, digits, - . _");
    def.alias = name;
  }
  const tune = child(el, 'tune');
  const sndbuf = tune ? child(tune, 'sndbuf') : null;
  if (sndbuf) {
    const x = text(sndbuf);
    if (!/^\d{1,10}$/.test(x) || Number(x) > 0xffffffff) throw bad(sndbuf, null, x, 'expected the send buffer size in bytes, 0 to 4294967295');
    def.sndbuf = Number(x);
  }

  const mtu = child(el, 'mtu');
  if (mtu) {
    const size = intAttr(mtu, 'size', (n) => (n >= 68 && n <= 65535 ? null : 'expected an MTU from 68 to 65535'));
    if (size === undefined) throw bad(mtu, 'size', '', "<mtu> needs size='N'");
    def.mtu = size;
  }

  const port = child(el, 'port');
  if (port) {
    if (type !== 'bridge') throw notSupported(port, null, 'port', "<port isolated> is a Linux bridge port's flag: only for type='bridge'");
    def.isolated = yesNo(port, 'isolated', false);
  }

  const coalesce = child(el, 'coalesce');
  const frames = coalesce ? child(child(coalesce, 'rx') ?? coalesce, 'frames') : null;
  if (coalesce) {
    if (type === 'direct' || type === 'network') throw notSupported(coalesce, null, 'coalesce', 'a macvtap has no interrupt coalescing (the kernel refuses it); only taps');
    const max = frames ? intAttr(frames, 'max', (n) => (n <= 0xffffffff ? null : 'expected a frame count')) : undefined;
    if (max !== undefined) def.coalesce = { rxMaxFrames: max };
  }

  const vlan = child(el, 'vlan');
  if (vlan) {
    if (type !== 'bridge') throw notSupported(vlan, null, 'vlan', "netfd sets VLANs on Linux bridge ports only (type='bridge'); a macvtap or a plain tap has no VLAN filter");
    const tags = children(vlan, 'tag').map((tag) => {
      const id = intAttr(tag, 'id', (n) => (n >= 1 && n <= 4094 ? null : 'expected a VLAN id from 1 to 4094'));
      if (id === undefined) throw bad(tag, 'id', '', "<tag> needs id='N'");
      const t: { id: number; nativeMode?: 'tagged' | 'untagged' } = { id };
      const mode = oneOf(tag, 'nativeMode', ['tagged', 'untagged'] as const);
      if (mode) t.nativeMode = mode;
      return t;
    });
    if (!tags.length) throw bad(vlan, null, '', '<vlan> needs at least one <tag id=N/>');
    const trunk = yesNo(vlan, 'trunk', tags.length > 1);
    if (!trunk && tags.length > 1) throw bad(vlan, 'trunk', 'no', "several tags make a trunk (trunk='yes')");
    if (tags.filter((t) => t.nativeMode).length > 1) throw bad(vlan, null, '', 'at most one tag may be the native one (nativeMode)');
    if (!trunk && tags[0].nativeMode) throw bad(children(vlan, 'tag')[0], 'nativeMode', tags[0].nativeMode, "nativeMode is for trunks (trunk='yes')");
    def.vlan = { trunk, tags };
  }

  for (const which of ['script', 'downscript'] as const) {
    const s = child(el, which);
    if (!s) continue;
    if (type !== 'ethernet' && type !== 'bridge') throw notSupported(s, null, which, `<${which}> runs for a tap netfd makes (type='ethernet' or 'bridge')`);
    if (def.target && !def.target.managed) throw notSupported(s, null, which, "<script> is for a tap netfd makes, not a managed='no' device");
    const p = absPath(s, 'path');
    if (p === undefined) throw bad(s, 'path', '', `<${which}> needs path='/ABSOLUTE/PATH'`);
    def[which] = p;
  }

  const bandwidth = child(el, 'bandwidth');
  if (bandwidth) {
    const b = bandwidthDef(bandwidth, type);
    if (b) def.bandwidth = b;
  }

  // A managed='no' device is someone else's: netfd opens it and changes nothing on it.
  if (def.target && !def.target.managed)
    for (const [key, name] of [
      ['mtu', 'mtu'],
      ['coalesce', 'coalesce'],
      ['hostIp', 'source'],
      ['bandwidth', 'bandwidth'],
    ] as const)
      if (def[key] !== undefined) throw notSupported(child(el, name) as Element, null, name, "managed='no': netfd opens the existing device and changes nothing on it; set it up yourself");

  const address = child(el, 'address');
  if (address) def.pci = pciAddress(address);

  const boot = child(el, 'boot');
  if (boot) {
    const order = intAttr(boot, 'order', (n) => (n >= 1 && n <= 65535 ? null : 'expected a boot order from 1'));
    if (order === undefined) throw bad(boot, 'order', '', "<boot> needs order='N'");
    def.bootOrder = order;
  }

  const rom = child(el, 'rom');
  if (rom) {
    def.rom = {};
    const bar = onOff(rom, 'bar');
    if (bar !== undefined) def.rom.bar = bar;
    const file = absPath(rom, 'file');
    if (file !== undefined) def.rom.file = file;
    const enabled = oneOf(rom, 'enabled', ['yes', 'no'] as const);
    if (enabled !== undefined) def.rom.enabled = enabled === 'yes';
  }
  return def;
}
