// libvirt <network> XML for direct (macvtap) connections: forward modes
// passthrough, private, vepa and bridge over a pool of host devices, given
// as a list of <interface dev> or as one SR-IOV <pf dev>. Validated as
// libvirt does; the config text is kept exactly, the live XML adds the
// expanded pool and connection counts.
import * as v from '../validate';
import { NetfdError } from '../errors';
import { addChild, attr, bad, checked, child, children, Document, Element, nameOf, oneOf, parseXml, path, removeChild, serializeXml, uuidOf } from './dom';

export type ForwardMode = 'passthrough' | 'private' | 'vepa' | 'bridge';
export const FORWARD_MODES: readonly ForwardMode[] = ['passthrough', 'private', 'vepa', 'bridge'];

/** Elements that belong to routed/NAT networks, never to a direct pool. */
const NOT_IN_DIRECT = ['ip', 'mac', 'dns', 'domain', 'bridge'] as const;
/** libvirt network features netfd does not apply: refused, never ignored. */
const NOT_APPLIED: Record<string, string> = {
  virtualport: 'netfd does not associate port profiles (802.1Qbg/802.1Qbh need lldpad or the NIC firmware, openvswitch a switch)',
  portgroup: 'netfd has no portgroups',
  vlan: 'netfd does not set VLAN tags on pool devices',
  bandwidth: 'netfd does not shape traffic',
  mtu: 'netfd does not change the pool devices\' MTU',
};

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

export interface NetworkParseOptions {
  /** Live XML netfd wrote: a <pf> comes with its expansion and counts. */
  live?: boolean;
}

/** One device of a started network's pool and the guests using it. */
export interface PoolDevice {
  dev: string;
  connections: number;
  /** A device no longer in the pool (a VF gone since) that still carries connections. */
  outside?: boolean;
}

function parseNetwork(doc: Document, o: NetworkParseOptions): NetworkDef {
  const root = doc.documentElement as Element;
  if (root.tagName !== 'network') throw bad(root, null, root.tagName, 'expected a libvirt <network> document');
  const def: NetworkDef = { name: nameOf(root), mode: 'vepa', devices: [] };
  const uuid = uuidOf(root);
  if (uuid) def.uuid = uuid;

  const forward = child(root, 'forward');
  if (!forward) throw bad(root, null, '', `netfd runs direct networks: <forward mode='${FORWARD_MODES.join('|')}'> with a device pool`);
  const mode = oneOf(forward, 'mode', FORWARD_MODES);
  if (!mode) throw bad(forward, 'mode', attr(forward, 'mode') ?? '', `netfd runs <forward mode='${FORWARD_MODES.join('|')}'> (macvtap over a device pool)`);
  def.mode = mode;
  for (const tag of NOT_IN_DIRECT) {
    const el = child(root, tag);
    if (el) throw bad(el, null, tag, `<${tag}> is not allowed in a network with <forward mode='${mode}'>: guests connect directly to the pool's devices`);
  }

  for (const [tag, why] of Object.entries(NOT_APPLIED)) {
    const el = child(root, tag) ?? child(forward, tag);
    if (el) throw new NetfdError(`${path(el)}: <${tag}> is not supported: ${why}; remove it`, { code: 'NOT_SUPPORTED', field: path(el), value: tag });
  }

  const pfs = children(forward, 'pf');
  if (pfs.length > 1) throw bad(pfs[1], 'dev', attr(pfs[1], 'dev') ?? '', 'only one <pf> is allowed in <forward>');
  const ifaces = children(forward, 'interface');
  const dev = attr(forward, 'dev');
  if (pfs.length) {
    const pf = attr(pfs[0], 'dev');
    if (pf === undefined) throw bad(pfs[0], 'dev', '', "<pf> needs dev='PF'");
    def.pf = checked(pfs[0], 'dev', pf, (x) => v.ifname(x, 'dev'));
    if (ifaces.length && !o.live) throw bad(ifaces[0], 'dev', attr(ifaces[0], 'dev') ?? '', '<pf> and a list of <interface> are mutually exclusive: the pool is either the PF\'s VFs or the list');
    if (dev !== undefined) throw bad(forward, 'dev', dev, "<forward dev> cannot be combined with <pf>: the pool is the PF's VFs");
    if (!o.live) return def;
  }
  if (dev !== undefined) def.devices.push(checked(forward, 'dev', dev, (x) => v.ifname(x, 'dev')));
  const seen = new Map<string, Element>();
  ifaces.forEach((el, i) => {
    const d = attr(el, 'dev');
    if (d === undefined) throw bad(el, 'dev', '', "<interface> needs dev='DEVICE'");
    const name = checked(el, 'dev', d, (x) => v.ifname(x, 'dev'));
    if (seen.has(name)) throw bad(el, 'dev', name, `device ${name} is listed twice`);
    seen.set(name, el);
    if (i === 0 && dev !== undefined) {
      // libvirt: <forward dev> names the first device of the list.
      if (name !== dev) throw bad(forward, 'dev', dev, `<forward dev='${dev}'> must match the first <interface dev='${name}'/>`);
      return;
    }
    def.devices.push(name);
  });
  if (!def.devices.length && !def.pf) throw bad(forward, null, '', `<forward mode='${mode}'> needs a device pool: <forward dev>, <interface dev> elements or one <pf dev>`);
  if (o.live) {
    const count = (el: Element) => {
      const c = attr(el, 'connections') ?? '0';
      if (!/^\d+$/.test(c)) throw bad(el, 'connections', c, 'expected a connection count');
      return Number(c);
    };
    def.connections = Object.fromEntries(ifaces.map((el) => [attr(el, 'dev') as string, count(el)]));
  }
  return def;
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

  static parse(xml: string, o: NetworkParseOptions = {}): NetworkXml {
    const doc = parseXml(xml, 'network XML');
    return new NetworkXml(xml, doc, parseNetwork(doc, o));
  }

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
   * The live XML of the started network: <forward connections='N'> and the
   * pool as <interface dev connections> (for a <pf>, its expansion after the
   * <pf> element, as libvirt shows it).
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
    for (const el of children(forward, 'interface')) el.setAttribute('connections', String(want.get(attr(el, 'dev') as string)));
    forward.setAttribute('connections', String(pool.reduce((n, p) => n + p.connections, 0)));
    return serializeXml(doc);
  }

}
