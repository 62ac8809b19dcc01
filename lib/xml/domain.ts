// libvirt <domain> documents: the subset netfd acts on, read into plain
// objects; everything else stays in the document untouched. The config
// (inactive) XML is kept as the exact text the user wrote; the live (status)
// XML is the same document plus what netfd decided.
import { NetfdError } from '../errors';
import { addChild, child, children, Document, Element, parseXml, removeChild, serializeXml, text } from './dom';
import { DomainDef, parseDomain } from './domain-def';
import { ActualDirect, DirectMode, DriverDef, InterfaceDef, InterfaceType, ParseOptions, PciAddress, RESERVED_PREFIXES } from './interface';

export type { ActualDirect, DirectMode, DriverDef, InterfaceDef, InterfaceType, ParseOptions, PciAddress };
export { RESERVED_PREFIXES };

export * from './domain-def';
export type { DiskCache, DiskDef, DiskErrorPolicy } from './disk';

/** What netfd decided for one interface, recorded in the live XML. */
export interface LiveInterface {
  /** 'vhost' | 'qemu' for virtio models; null: no driver recorded. */
  driver: 'vhost' | 'qemu' | null;
  /** The host device the interface runs on. */
  targetDev: string;
  /** The guest MAC (generated when the config had none). */
  mac: string;
  /** The qemu device id (netN or the user's ua- alias). */
  alias: string;
  /** type='network': the pool device and mode the network gave. */
  actual?: ActualDirect;
  /** Where qemu put the NIC (from query-pci once qemu runs): libvirt's <address type='pci'>. */
  pci?: PciAddress;
}

/** <address type='pci'> as libvirt writes it in the status XML: every part, in hex. */
function setPciAddress(el: Element, a: PciAddress): void {
  const hex = (n: number, w: number) => `0x${n.toString(16).padStart(w, '0')}`;
  const old = child(el, 'address');
  // As libvirt orders it: <address> after <alias> (and <rom>, <boot>), last.
  const address = old ?? addChild(el, 'address');
  const multifunction = address.getAttribute('multifunction');
  for (const name of ['type', 'domain', 'bus', 'slot', 'function', 'multifunction']) address.removeAttribute(name);
  address.setAttribute('type', 'pci');
  address.setAttribute('domain', '0x0000');
  address.setAttribute('bus', hex(a.bus, 2));
  address.setAttribute('slot', hex(a.slot, 2));
  address.setAttribute('function', hex(a.function, 1));
  if (multifunction) address.setAttribute('multifunction', multifunction);
}

/** An interface added to a live domain (attach-interface). */
export interface AddedInterface {
  /** The live document with the interface appended, parsed as live XML. */
  xml: DomainXml;
  /** The new interface (the last one of `xml.def.interfaces`). */
  iface: InterfaceDef;
}

const stripDeclaration = (s: string) => s.replace(/^\uFEFF?\s*<\?xml[^?]*\?>/, '');

/** Errors about `/domain/devices/interface[N]` named as in the user's own `<interface>` document. */
function asInterfaceError(err: unknown, prefix: string): unknown {
  const e = err as NetfdError;
  if (!(e instanceof NetfdError) || typeof e.field !== 'string' || !(e.field === prefix || e.field.startsWith(`${prefix}/`))) return err;
  const field = `/interface${e.field.slice(prefix.length)}`;
  return new NetfdError(e.message.split(prefix).join('/interface'), { code: e.code, field, value: e.value });
}

/** Options of {@link DomainXml.parse}. */
export interface DomainParseOptions extends ParseOptions {
  /**
   * The caller makes one live XML of this document and uses its DOM for
   * nothing else (the agent, parsing a request). Every live() edits the
   * parsed document itself rather than a copy (a copy costs about as much
   * as the parse); without singleUse the DOM's other methods parse `text`
   * again when they need the document after that, with singleUse they throw
   * (serialize, live, withInterface, withoutInterface), so an unexpected
   * second use shows. `def` and `text` stay as they were either way.
   */
  singleUse?: boolean | undefined;
}

/** A parsed <domain>: the plain definition, the user's exact text, and the DOM. */
export class DomainXml {
  readonly def: DomainDef;
  /** The config (inactive) XML: exactly the text that was parsed. */
  readonly text: string;
  #doc: Document;
  /** singleUse: a use of the document after live() throws instead of parsing `text` again. */
  readonly #singleUse: boolean;
  /** live() edited #doc: it is no longer the parsed text's. */
  #spent = false;

  private constructor(text: string, doc: Document, def: DomainDef, singleUse: boolean) {
    this.text = text;
    this.#doc = doc;
    this.def = def;
    this.#singleUse = singleUse;
  }

  /** Parses and validates; errors name the element, attribute and value. */
  static parse(xml: string, o: DomainParseOptions = {}): DomainXml {
    const doc = parseXml(xml, 'domain XML');
    return new DomainXml(xml, doc, parseDomain(doc, o), o.singleUse === true);
  }

  /** The parsed document, for reading or copying: parsed again after a live() edited it (never for singleUse). */
  #parsed(): Document {
    if (this.#spent) {
      if (this.#singleUse) throw new Error(`domain ${this.def.name}: its document was used up by live() (parsed singleUse)`);
      this.#doc = parseXml(this.text, 'domain XML');
      this.#spent = false;
    }
    return this.#doc;
  }

  /** The document serialised again, with nothing changed. */
  serialize(): string {
    return serializeXml(this.#parsed());
  }

  /**
   * The live (status) XML: the same document plus, per interface, the MAC,
   * the target dev and the driver choice. For non-virtio models the driver's
   * name and queues are dropped, as libvirt does.
   */
  live(ifaces: readonly LiveInterface[]): string {
    // The parsed document itself, edited: a deep copy costs about as much as
    // parsing the text again, which a later use of the document does instead.
    const doc = this.#parsed();
    this.#spent = true;
    const devices = child(doc.documentElement as Element, 'devices');
    const els = devices ? children(devices, 'interface') : [];
    if (els.length !== ifaces.length) throw new Error(`live(): ${ifaces.length} results for ${els.length} interfaces`);
    els.forEach((el, i) => {
      const r = ifaces[i];
      const firstEl = children(el)[0] ?? null;
      const mac = child(el, 'mac') ?? addChild(el, 'mac', firstEl);
      mac.setAttribute('address', r.mac);
      const target = child(el, 'target') ?? addChild(el, 'target', child(el, 'model') ?? child(el, 'driver') ?? child(el, 'alias'));
      target.setAttribute('dev', r.targetDev);
      const alias = child(el, 'alias') ?? addChild(el, 'alias', child(el, 'address'));
      alias.setAttribute('name', r.alias);
      if (r.actual) {
        // As libvirt's status XML: <actual type='direct'> right after <source>.
        const old = child(el, 'actual');
        if (old) removeChild(old);
        const source = child(el, 'source');
        const actual = addChild(el, 'actual', source ? (children(el)[children(el).indexOf(source) + 1] ?? null) : null);
        actual.setAttribute('type', 'direct');
        const src = addChild(actual, 'source');
        src.setAttribute('dev', r.actual.dev);
        src.setAttribute('mode', r.actual.mode);
      }
      if (r.pci) setPciAddress(el, r.pci);
      let driver = child(el, 'driver');
      if (r.driver) {
        driver ??= addChild(el, 'driver', child(el, 'alias'));
        driver.setAttribute('name', r.driver);
      } else if (driver) {
        driver.removeAttribute('name');
        driver.removeAttribute('queues');
        if (driver.attributes.length === 0 && children(driver).length === 0 && !text(driver)) removeChild(driver);
      }
    });
    return serializeXml(doc);
  }

  /** The live results already recorded in this (live) document. */
  recorded(): LiveInterface[] {
    return this.def.interfaces.map((i) => {
      if (!i.mac || !i.target?.dev) throw new NetfdError(`${i.path}: live XML without <mac> or <target dev>`, { code: 'INVALID_ARGUMENT', field: i.path, value: '' });
      const r: LiveInterface = { driver: i.driver?.name ?? null, targetDev: i.target.dev, mac: i.mac, alias: i.alias ?? `net${i.index}` };
      if (i.actual) r.actual = i.actual;
      if (i.pci) r.pci = { bus: i.pci.bus, slot: i.pci.slot, function: i.pci.function };
      return r;
    });
  }

  /**
   * A live XML netfd wrote (`dumpxml`), made a config again, as libvirt
   * reads a dumped status XML given to `virsh create`: what only describes
   * the running domain goes (target names netfd generated, its netN
   * aliases, a network's <actual> device); what the guest should keep stays
   * (the MACs, the driver choice, the PCI addresses, so each NIC returns to
   * its slot). Parsed and checked as live XML first, then as a config.
   */
  static fromLive(liveXml: string, o: Omit<ParseOptions, 'live'> = {}): DomainXml {
    DomainXml.parse(liveXml, { ...o, live: true });
    const doc = parseXml(liveXml, 'domain XML');
    const devices = child(doc.documentElement as Element, 'devices');
    for (const el of devices ? children(devices, 'interface') : []) {
      const actual = child(el, 'actual');
      if (actual) removeChild(actual);
      const alias = child(el, 'alias');
      if (alias && /^net\d+$/.test(alias.getAttribute('name') ?? '')) removeChild(alias);
      const target = child(el, 'target');
      const dev = target?.getAttribute('dev') ?? '';
      if (target && target.getAttribute('managed') !== 'no' && RESERVED_PREFIXES.some((p) => dev.startsWith(p))) {
        target.removeAttribute('dev');
        if (target.attributes.length === 0 && children(target).length === 0) removeChild(target);
      }
    }
    return DomainXml.parse(serializeXml(doc), o);
  }

  /**
   * This live document with one more <interface>, given as its own XML
   * document (as for virsh attach-device). The new interface is checked as
   * config (reserved names refused) and against the others (MAC, alias,
   * target dev); errors name fields inside it as /interface/...
   */
  withInterface(ifaceXml: string): AddedInterface {
    const own = parseXml(ifaceXml, 'interface XML');
    const el = own.documentElement as Element;
    if (el.tagName !== 'interface') throw new NetfdError(`/${el.tagName}: expected an <interface> document`, { code: 'INVALID_ARGUMENT', field: `/${el.tagName}`, value: el.tagName });
    const prefix = '/domain/devices/interface';
    try {
      DomainXml.parse(`<domain type='qemu'><name>i</name><memory>1</memory><devices>${stripDeclaration(ifaceXml)}</devices></domain>`);
    } catch (err) {
      throw asInterfaceError(err, prefix);
    }
    const doc = parseXml(this.serialize(), 'domain XML');
    const root = doc.documentElement as Element;
    const devices = child(root, 'devices') ?? addChild(root, 'devices');
    const ifaces = children(devices, 'interface');
    const last = ifaces[ifaces.length - 1];
    addChild(devices, el, last ? (children(devices)[children(devices).indexOf(last) + 1] ?? null) : null);
    const text = serializeXml(doc);
    const n = ifaces.length + 1;
    let xml: DomainXml;
    try {
      xml = DomainXml.parse(text, { live: true });
    } catch (err) {
      throw asInterfaceError(err, n === 1 ? '/domain/devices/interface' : `/domain/devices/interface[${n}]`);
    }
    return { xml, iface: xml.def.interfaces[n - 1] };
  }

  /** The document without its interface number `index` (from 0). */
  withoutInterface(index: number): string {
    // A deep copy of the parsed document (a second parse of its text costs twice as much).
    const doc = this.#parsed().cloneNode(true) as Document;
    const devices = child(doc.documentElement as Element, 'devices');
    const el = devices ? children(devices, 'interface')[index] : undefined;
    if (!el) throw new Error(`withoutInterface: no interface ${index}`);
    removeChild(el);
    return serializeXml(doc);
  }
}
