// libvirt <network> XML for direct (macvtap) connections: forward modes
// passthrough, private, vepa and bridge over a pool of host devices, given
// as a list of <interface dev> or as one SR-IOV <pf dev>. Validated as
// libvirt does; the config text is kept exactly, the live XML adds the
// expanded pool, <forward dev> and connection counts.
//
// Nothing accepted is ignored: every element and attribute libvirt's
// network schema (network.rng) allows is either applied, kept and echoed
// (title, description, metadata: they change nothing on the host), or
// refused NOT_SUPPORTED naming its XPath. What the schema does not allow is
// INVALID_ARGUMENT, named the same way.
import * as v from '../validate';
import { NetfdError } from '../errors';
import { addChild, attr, bad, checked, child, children, Document, Element, nameOf, parseXml, path, removeChild, serializeXml, uuidOf } from './dom';

/** The `<forward mode>`s netfd runs (direct connections over a pool). */
export type ForwardMode = 'passthrough' | 'private' | 'vepa' | 'bridge';
/** Every forward mode netfd runs. */
export const FORWARD_MODES: readonly ForwardMode[] = ['passthrough', 'private', 'vepa', 'bridge'];

const RUNS = `netfd runs forward modes ${FORWARD_MODES.join(', ')} (macvtap over a device pool)`;

/**
 * libvirt's other kinds of network, by forward mode (libvirt's enum: none,
 * nat, route, open, bridge, private, vepa, passthrough, hostdev; no
 * <forward> is 'none', a <forward> without mode= is 'nat').
 */
const OTHER_MODES = new Map<string, string>([
  ['none', 'an isolated network (a host bridge with addresses and no way out)'],
  ['nat', 'a NAT network (a host bridge with addresses, DHCP and masquerading)'],
  ['route', 'a routed network (a host bridge with addresses and routes)'],
  ['open', 'an open network (a host bridge with addresses and no firewall rules)'],
  ['hostdev', "a hostdev network (SR-IOV VFs given to guests by PCI passthrough; for macvtap on VFs, use mode='passthrough' with <pf dev>)"],
]);
const LIBVIRT_MODES = ['nat', 'route', 'open', 'bridge', 'private', 'vepa', 'passthrough', 'hostdev'];

/** Elements of libvirt's <network> that netfd does not apply: refused by name, never ignored. */
const REFUSED = new Map<string, string>([
  [
    'bridge',
    "netfd does not run bridge-backed networks (<bridge>: a host bridge, its STP, zone and MAC table): its networks are macvtap over the <forward> devices; for a host bridge use <interface type='bridge'> in the domain",
  ],
  ['mtu', 'netfd does not set an MTU: libvirt applies <mtu> only to the bridge of an open, routed, NAT or isolated network, which netfd does not run'],
  ['mac', "netfd does not run <mac>: it is the MAC of a network's host bridge, and macvtap networks have none (libvirt refuses it too in modes passthrough, private, vepa and bridge)"],
  ['dns', 'netfd runs no DNS server (<dns>: records, forwarders) for a network'],
  ['domain', 'netfd runs no DNS or DHCP server, so a network has no DNS <domain>'],
  ['ip', 'netfd does not run <ip> (host addresses, DHCP, TFTP): its networks are macvtap pools with no host side'],
  ['route', 'netfd does not add static routes (<route>): its networks have no host side to route through'],
  ['virtualport', 'netfd does not associate port profiles (<virtualport>: 802.1Qbg/802.1Qbh need lldpad or the NIC firmware, openvswitch a switch)'],
  ['portgroup', 'netfd has no portgroups (<portgroup>): a guest gets the network as it is'],
  ['vlan', 'netfd does not set VLAN tags (<vlan>) on pool devices'],
  ['bandwidth', 'netfd does not shape traffic (<bandwidth>; libvirt refuses a network-wide one on a macvtap pool too)'],
  ['port', "netfd does not isolate ports (<port isolated>): that is for guests' taps on a bridge"],
]);
/** Attributes of <network> that netfd does not apply. */
const NETWORK_ATTRIBUTES = new Map<string, string>([
  ['connections', 'connections= is a live count libvirt writes; netfd counts connections itself (net-dumpxml shows them), a definition cannot set it'],
  ['ipv6', "ipv6='yes' (IPv6 between guests without a gateway) is for a network's host bridge, and macvtap networks have none"],
  ['trustGuestRxFilters', "netfd does not follow a guest's RX filter changes (its MAC, multicast lists) onto its macvtap device (trustGuestRxFilters=)"],
]);
/** What libvirt's <forward> holds for other kinds of network. */
const FORWARD_REFUSED = new Map<string, string>([
  ['managed', 'managed= is for hostdev networks (PCI devices detached from their host driver), which netfd does not run'],
  ['address', "a pool of PCI addresses (<address type='pci'>) is for hostdev networks, which netfd does not run; list network devices with <interface dev> or give one <pf dev>"],
  ['driver', '<driver name> picks the PCI passthrough driver (vfio, kvm) of a hostdev network, which netfd does not run'],
  ['nat', "<nat> sets the addresses and ports of a mode='nat' network's masquerading, which netfd does not run"],
]);
const DNSMASQ_NS = 'http://libvirt.org/schemas/network/dnsmasq/1.0';
const LIVE_COUNT = 'connections= is the live count netfd writes (net-dumpxml); a definition cannot set it: define from net-dumpxml --inactive';

/** A `<network>` as netfd read it. */
export interface NetworkDef {
  name: string;
  uuid?: string;
  mode: ForwardMode;
  /** The explicit pool: <forward dev> and the <interface dev> list, in order. */
  devices: string[];
  /** An SR-IOV physical function whose VFs form the pool (expanded at start). */
  pf?: string;
  /** Live XML only: connections per device of the pool. */
  connections?: Record<string, number>;
}

/** How to read network XML. */
export interface NetworkParseOptions {
  /** Live XML netfd wrote: a <pf> comes with its expansion and counts. */
  live?: boolean | undefined;
}

/** One device of a started network's pool and the guests using it. */
export interface PoolDevice {
  dev: string;
  connections: number;
  /** A device no longer in the pool (a VF gone since) that still carries connections. */
  outside?: boolean;
}

const invalidAt = (field: string, value: unknown, why: string) => new NetfdError(`${field}: ${why}`, { code: 'INVALID_ARGUMENT', field, value });
const unsupportedAt = (field: string, value: unknown, why: string) => new NetfdError(`${field}: ${why}`, { code: 'NOT_SUPPORTED', field, value });
/** An element netfd does not apply, refused by its path. */
const unsupportedElement = (el: Element, why: string) => unsupportedAt(path(el), el.tagName, `${why}; remove it`);

/** The attributes of `el`, namespace declarations (xmlns, xmlns:x) aside. */
function attributesOf(el: Element): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  for (let i = 0; i < el.attributes.length; i++) {
    const a = el.attributes.item(i);
    if (a && a.name !== 'xmlns' && !a.name.startsWith('xmlns:')) out.push({ name: a.name, value: a.value });
  }
  return out;
}

/** Every attribute of `el` is in `allowed`, else refused: NOT_SUPPORTED when `refused` names it, else INVALID_ARGUMENT. */
function checkAttributes(el: Element, allowed: readonly string[], refused: ReadonlyMap<string, string> = new Map()): void {
  for (const a of attributesOf(el)) {
    if (allowed.includes(a.name)) continue;
    const field = `${path(el)}/@${a.name}`;
    const why = refused.get(a.name);
    if (why !== undefined) throw unsupportedAt(field, a.value, `${why}; remove it`);
    throw invalidAt(field, a.value, `libvirt's <${el.tagName}> has no attribute ${a.name}=`);
  }
}

/** Non-blank text directly inside `el` (which holds elements only), refused. */
function checkNoText(el: Element): void {
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if ((n.nodeType === n.TEXT_NODE || n.nodeType === n.CDATA_SECTION_NODE) && (n.nodeValue ?? '').trim())
      throw invalidAt(path(el), (n.nodeValue ?? '').trim(), `<${el.tagName}> holds elements, not text`);
  }
}

/** An element of text only (<name>, <title>...). */
function checkTextOnly(el: Element): void {
  checkAttributes(el, []);
  const inner = children(el)[0];
  if (inner) throw invalidAt(path(inner), inner.tagName, `<${el.tagName}> holds text, not elements`);
}

/** An empty element (<interface dev/>, <pf dev/>). */
function checkEmpty(el: Element): void {
  checkNoText(el);
  const inner = children(el)[0];
  if (inner) throw invalidAt(path(inner), inner.tagName, `<${el.tagName}> holds no elements`);
}

/** The forward mode, or a refusal: libvirt's other modes NOT_SUPPORTED, unknown ones INVALID_ARGUMENT. */
function forwardMode(root: Element, forward: Element | null): ForwardMode {
  const field = `${forward ? path(forward) : `${path(root)}/forward`}/@mode`;
  if (!forward) throw unsupportedAt(field, '', `a network without <forward> is ${OTHER_MODES.get('none')} in libvirt, which netfd does not run; ${RUNS}`);
  const mode = attr(forward, 'mode');
  if (mode === undefined) throw unsupportedAt(field, '', `<forward> without mode= is mode='nat' in libvirt, ${OTHER_MODES.get('nat')}, which netfd does not run; ${RUNS}`);
  if ((FORWARD_MODES as readonly string[]).includes(mode)) return mode as ForwardMode;
  const other = OTHER_MODES.get(mode);
  if (other !== undefined) throw unsupportedAt(field, mode, `netfd does not run <forward mode='${mode}'>, ${other}; ${RUNS}`);
  throw bad(forward, 'mode', mode, `libvirt's forward modes are ${LIBVIRT_MODES.join(', ')}; ${RUNS}`);
}

/** One child of <network> other than <forward>: parsed elsewhere, kept, or refused by name. */
function checkNetworkChild(root: Element, el: Element): void {
  if (el.namespaceURI) {
    if (el.namespaceURI === DNSMASQ_NS && el.localName === 'options')
      throw unsupportedElement(el, 'netfd runs no dnsmasq (<dnsmasq:options> passes options to the dnsmasq of a NAT, routed or isolated network)');
    throw invalidAt(path(el), el.tagName, `libvirt's <network> has no element <${el.tagName}> (namespace ${el.namespaceURI}); custom data goes in <metadata>`);
  }
  const tag = el.tagName;
  switch (tag) {
    case 'forward':
      return; // walked with the pool
    case 'name':
    case 'uuid':
    case 'description':
      child(root, tag); // at most one
      return checkTextOnly(el);
    case 'title':
      child(root, tag);
      checkTextOnly(el);
      // libvirt: "Network title can't contain newlines".
      if ((el.textContent ?? '').includes('\n')) throw invalidAt(path(el), el.textContent, 'a network title is one line (libvirt refuses newlines in it)');
      return;
    case 'metadata':
      return checkMetadata(root, el);
  }
  const why = REFUSED.get(tag);
  if (why !== undefined) throw unsupportedElement(el, why);
  throw invalidAt(path(el), tag, `libvirt's <network> has no element <${tag}>`);
}

/**
 * <metadata>, kept as written. libvirt keeps only elements with a namespace
 * there, one per namespace, and drops the others: netfd refuses them rather
 * than keep what libvirt would not.
 */
function checkMetadata(root: Element, el: Element): void {
  child(root, 'metadata');
  checkAttributes(el, []);
  checkNoText(el);
  const seen = new Map<string, Element>();
  for (const m of children(el)) {
    if (!m.namespaceURI)
      throw invalidAt(
        path(m),
        m.tagName,
        `libvirt keeps only elements with their own XML namespace in <metadata> (e.g. <app:${m.tagName} xmlns:app='https://example.org/app'>); it would drop this one`,
      );
    const first = seen.get(m.namespaceURI);
    if (first) throw invalidAt(path(m), m.tagName, `libvirt keeps one element per namespace in <metadata>: ${path(first)} already uses ${m.namespaceURI}`);
    seen.set(m.namespaceURI, m);
  }
}

/** The children of <forward>: the pool's <interface> and <pf>; hostdev and NAT parts refused by name. */
function checkForward(forward: Element, live: boolean): void {
  // connections= on <forward> is netfd's own live total (libvirt's is on <network>).
  if (!live && forward.hasAttribute('connections')) throw invalidAt(`${path(forward)}/@connections`, attr(forward, 'connections'), LIVE_COUNT);
  checkAttributes(forward, ['dev', 'mode', 'connections'], FORWARD_REFUSED);
  if (live) count(forward);
  checkNoText(forward);
  for (const el of children(forward)) {
    if (el.namespaceURI) throw invalidAt(path(el), el.tagName, `libvirt's <forward> has no element <${el.tagName}>`);
    if (el.tagName === 'interface') {
      checkAttributes(el, live ? ['dev', 'connections'] : ['dev'], live ? new Map() : new Map([['connections', LIVE_COUNT]]));
      checkEmpty(el);
    } else if (el.tagName === 'pf') {
      checkAttributes(el, ['dev']);
      checkEmpty(el);
    } else {
      const why = FORWARD_REFUSED.get(el.tagName);
      if (why !== undefined) throw unsupportedElement(el, why);
      throw invalidAt(path(el), el.tagName, `libvirt's <forward> has no element <${el.tagName}>`);
    }
  }
}

/** A live connections= count (absent: 0). */
function count(el: Element): number {
  const c = attr(el, 'connections') ?? '0';
  if (!/^\d+$/.test(c)) throw bad(el, 'connections', c, 'expected a connection count');
  return Number(c);
}

function parseNetwork(doc: Document, o: NetworkParseOptions): NetworkDef {
  const root = doc.documentElement as Element;
  if (root.tagName !== 'network') throw invalidAt(path(root), root.tagName, `expected a libvirt <network> document, not <${root.tagName}>`);
  checkAttributes(root, [], NETWORK_ATTRIBUTES);
  checkNoText(root);
  const def: NetworkDef = { name: nameOf(root), mode: 'vepa', devices: [] };
  const uuid = uuidOf(root);
  if (uuid) def.uuid = uuid;

  const forward = child(root, 'forward');
  const mode = forwardMode(root, forward);
  def.mode = mode;
  for (const el of children(root)) checkNetworkChild(root, el);
  checkForward(forward as Element, o.live ?? false);
  const fwd = forward as Element;
  const F = path(fwd);

  const pfs = children(fwd, 'pf');
  if (pfs.length > 1) throw bad(pfs[1], 'dev', attr(pfs[1], 'dev') ?? '', 'only one <pf> is allowed in <forward>');
  const ifaces = children(fwd, 'interface');
  const dev = attr(fwd, 'dev');
  if (pfs.length) {
    const pf = attr(pfs[0], 'dev');
    if (pf === undefined) throw invalidAt(`${path(pfs[0])}/@dev`, '', "<pf> needs dev='PF' (the SR-IOV physical function whose VFs form the pool)");
    def.pf = checked(pfs[0], 'dev', pf, (x) => v.ifname(x, 'dev'));
    if (ifaces.length && !o.live) throw bad(ifaces[0], 'dev', attr(ifaces[0], 'dev') ?? '', "<pf> and a list of <interface> are mutually exclusive: the pool is either the PF's VFs or the list");
    if (dev !== undefined) throw bad(fwd, 'dev', dev, "<forward dev> cannot be combined with <pf>: the pool is the PF's VFs");
    if (!o.live) return def;
  }
  if (dev !== undefined) def.devices.push(checked(fwd, 'dev', dev, (x) => v.ifname(x, 'dev')));
  const seen = new Map<string, Element>();
  ifaces.forEach((el, i) => {
    const d = attr(el, 'dev');
    if (d === undefined) throw invalidAt(`${path(el)}/@dev`, '', "<interface> in <forward> needs dev='DEVICE'");
    const name = checked(el, 'dev', d, (x) => v.ifname(x, 'dev'));
    if (seen.has(name)) throw bad(el, 'dev', name, `device ${name} is listed twice`);
    seen.set(name, el);
    if (i === 0 && dev !== undefined) {
      // libvirt: <forward dev> names the first device of the list.
      if (name !== dev) throw bad(fwd, 'dev', dev, `<forward dev='${dev}'> must match the first <interface dev='${name}'/>`);
      return;
    }
    def.devices.push(name);
  });
  if (!def.devices.length && !def.pf) throw invalidAt(F, '', `<forward mode='${mode}'> needs a device pool: <forward dev>, <interface dev> elements or one <pf dev>`);
  if (o.live) def.connections = Object.fromEntries(ifaces.map((el) => [attr(el, 'dev') as string, count(el)]));
  return def;
}

/** Sets an attribute, a new one first (libvirt writes <forward dev> before mode=). */
function setFirstAttribute(el: Element, name: string, value: string): void {
  if (el.hasAttribute(name)) return el.setAttribute(name, value);
  const rest = attributesOf(el);
  for (const a of rest) el.removeAttribute(a.name);
  el.setAttribute(name, value);
  for (const a of rest) el.setAttribute(a.name, a.value);
}

/** A parsed <network>: the plain definition, the exact text, the DOM. */
export class NetworkXml {
  readonly def: NetworkDef;
  /** The config (inactive) XML: exactly the text that was parsed. */
  readonly text: string;
  readonly #doc: Document;

  private constructor(text: string, doc: Document, def: NetworkDef) {
    this.text = text;
    this.#doc = doc;
    this.def = def;
  }

  /** Parses and validates a `<network>`; errors name the XPath (INVALID_ARGUMENT, NOT_SUPPORTED, INVALID_XML). */
  static parse(xml: string, o: NetworkParseOptions = {}): NetworkXml {
    const doc = parseXml(xml, 'network XML');
    return new NetworkXml(xml, doc, parseNetwork(doc, o));
  }

  /** The definition as XML (what `net-dumpxml --inactive` prints). */
  serialize(): string {
    return serializeXml(this.#doc);
  }

  /** The text with <uuid> added after <name> (net-define gives every network one). */
  withUuid(uuid: string): string {
    const doc = parseXml(this.text, 'network XML');
    const root = doc.documentElement as Element;
    if (child(root, 'uuid')) return this.text;
    const name = child(root, 'name') as Element;
    addChild(root, 'uuid', children(root)[children(root).indexOf(name) + 1] ?? null).appendChild(doc.createTextNode(uuid));
    return serializeXml(doc);
  }

  /**
   * The live XML of the started network: the pool as <interface dev
   * connections> (for a <pf>, its expansion after the <pf> element, as
   * libvirt shows it), <forward connections='N'> and, without a <pf>,
   * <forward dev> naming the pool's first device: libvirt's formatter
   * writes dev= from the first pool interface unless the network has a PF.
   */
  live(pool: readonly PoolDevice[]): string {
    const doc = parseXml(this.serialize(), 'network XML');
    const forward = child(doc.documentElement as Element, 'forward') as Element;
    const want = new Map(pool.map((p) => [p.dev, p.connections]));
    // Listed devices keep their place; others go; the rest follow in pool order.
    const kept = new Set<string>();
    for (const el of children(forward, 'interface')) {
      const dev = attr(el, 'dev') as string;
      if (want.has(dev) && !kept.has(dev)) kept.add(dev);
      else removeChild(el);
    }
    for (const p of pool) if (!kept.has(p.dev)) addChild(forward, 'interface').setAttribute('dev', p.dev);
    const listed = children(forward, 'interface');
    for (const el of listed) el.setAttribute('connections', String(want.get(attr(el, 'dev') as string)));
    if (!this.def.pf && listed.length) setFirstAttribute(forward, 'dev', attr(listed[0], 'dev') as string);
    forward.setAttribute('connections', String(pool.reduce((n, p) => n + p.connections, 0)));
    return serializeXml(doc);
  }
}
