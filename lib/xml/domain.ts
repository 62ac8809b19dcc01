// libvirt <domain> documents: the subset netfd acts on, read into plain
// objects; everything else stays in the document untouched. The config
// (inactive) XML is kept as the exact text the user wrote; the live (status)
// XML is the same document plus what netfd decided.
import { NetfdError } from '../errors';
import { absPath, addChild, attr, bad, checked, child, children, Document, Element, intAttr, memoryKiB, nameOf, oneOf, onOff, parseXml, path, removeChild, serializeXml, text, uuidOf } from './dom';
import { ActualDirect, DirectMode, DriverDef, InterfaceDef, InterfaceType, ParseOptions, parseInterface, PciAddress, RESERVED_PREFIXES } from './interface';

export type { ActualDirect, DirectMode, DriverDef, InterfaceDef, InterfaceType, ParseOptions, PciAddress };
export { RESERVED_PREFIXES };

/** A `<serial>` netfd runs: file, pty or stdio. */
export interface SerialDef {
  type: 'file' | 'pty' | 'stdio';
  path?: string;
}

/** libvirt's <driver cache>, io, discard, detect_zeroes and error policies, as written. */
export type DiskCache = 'none' | 'writethrough' | 'writeback' | 'directsync' | 'unsafe';
/** libvirt's `<driver error_policy>` / `rerror_policy`. */
export type DiskErrorPolicy = 'stop' | 'report' | 'ignore' | 'enospace';

/** A `<disk>` netfd turns into `-drive`. */
export interface DiskDef {
  /**
   * The unit on its bus: from the target name (vda/hda 0, vdb/hdb 1, hdc 2 …),
   * or for an IDE disk from its <address type='drive'> (bus × 2 + unit).
   */
  index: number;
  /** 'file': an image file; 'block': a host block device (an LVM volume, a disk), qemu's host_device. */
  type: 'file' | 'block';
  /** <source file> (type='file') or <source dev> (type='block'). */
  source: string;
  bus: 'virtio' | 'ide';
  device: 'disk' | 'cdrom';
  format: string;
  readonly: boolean;
  target: string;
  /** <driver> attributes in libvirt's spellings; lib/qemu/argv.ts turns them into -drive options. */
  cache?: DiskCache;
  io?: 'threads' | 'native' | 'io_uring';
  discard?: 'unmap' | 'ignore';
  detectZeroes?: 'off' | 'on' | 'unmap';
  errorPolicy?: DiskErrorPolicy;
  rerrorPolicy?: Exclude<DiskErrorPolicy, 'enospace'>;
  copyOnRead?: boolean;
}

/** A `<domain>` as netfd read it. */
export interface DomainDef {
  /** kvm or qemu (TCG), as libvirt's <domain type>. */
  type: 'kvm' | 'qemu';
  name: string;
  uuid?: string;
  memoryKiB: number;
  vcpus: number;
  os: { arch?: string; machine?: string; kernel?: string; initrd?: string; cmdline?: string };
  /** <on_reboot>: 'destroy' ends qemu when the guest reboots (-no-reboot). */
  onReboot: 'restart' | 'destroy';
  emulator?: string;
  serials: SerialDef[];
  disks: DiskDef[];
  interfaces: InterfaceDef[];
  /** Elements under <devices> that netfd does not turn into qemu arguments. */
  ignoredDevices: string[];
  /** <qemu:commandline>: extra arguments (appended) and environment. */
  qemuArgs: string[];
  qemuEnv: Record<string, string>;
  /**
   * Parsed with `{ netOnly: true }`: only the type, name, uuid and interfaces
   * were read; the rest above is empty and makes no command line.
   */
  netOnly?: boolean;
}

/** libvirt's namespace for <qemu:commandline>. */
export const QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0';

const KNOWN_DEVICES = new Set(['interface', 'disk', 'serial', 'emulator', 'console']);

/** libvirt's character device types (virDomainChr): all valid <serial type>s. */
const CHR_TYPES = ['null', 'vc', 'pty', 'dev', 'file', 'pipe', 'stdio', 'udp', 'tcp', 'unix', 'spicevmc', 'spiceport', 'nmdm', 'qemu-vdagent', 'dbus'];

/** NOT_SUPPORTED naming the element or attribute, with a whole sentence of why. */
function unsupported(el: Element, attribute: string | null, value: unknown, message: string): NetfdError {
  const field = attribute === null ? path(el) : `${path(el)}/@${attribute}`;
  return new NetfdError(`${field}: ${message}`, { code: 'NOT_SUPPORTED', field, value });
}

/**
 * An attribute that must be one of `runs` (else `def`): another value libvirt
 * knows (`libvirt`) is NOT_SUPPORTED, anything else INVALID_ARGUMENT.
 */
function libvirtValue<T extends string>(el: Element, name: string, runs: readonly T[], libvirt: readonly string[], def: T | undefined, why: string): T | undefined {
  const x = attr(el, name);
  if (x === undefined) return def;
  if ((runs as readonly string[]).includes(x)) return x as T;
  if (libvirt.includes(x)) throw unsupported(el, name, x, `<${el.tagName} ${name}='${x}'> is not supported: ${why}`);
  throw bad(el, name, x, `expected one of ${libvirt.join(', ')}`);
}

/**
 * Refuses (NOT_SUPPORTED, by name) every attribute and child element of `el`
 * that is not in `attrs` / `kids`: what netfd reads it applies, and nothing
 * else passes silently. `why` gives the reason for a name, if it has one.
 */
function onlyApplied(el: Element, attrs: readonly string[], kids: readonly string[], why: (name: string) => string | undefined = () => undefined): void {
  const generic = 'netfd does not turn it into qemu arguments; remove it';
  for (let i = 0; i < el.attributes.length; i++) {
    const a = el.attributes.item(i);
    if (!a || attrs.includes(a.name) || a.name === 'xmlns' || a.name.startsWith('xmlns:')) continue;
    throw unsupported(el, a.name, a.value, `<${el.tagName} ${a.name}='${a.value}'> is not supported: ${why(`@${a.name}`) ?? generic}`);
  }
  for (const c of children(el)) if (!kids.includes(c.tagName)) throw unsupported(c, null, c.tagName, `<${c.tagName}> in <${el.tagName}> is not supported: ${why(c.tagName) ?? generic}`);
}

function parseSerial(el: Element): SerialDef {
  const type = libvirtValue(el, 'type', ['file', 'pty', 'stdio'] as const, CHR_TYPES, undefined, "netfd runs <serial type='file|pty|stdio'>");
  if (!type) throw bad(el, 'type', '', "netfd runs <serial type='file|pty|stdio'>");
  if (type !== 'file') return { type };
  const source = child(el, 'source');
  const p = source ? absPath(source, 'path') : undefined;
  if (!source || p === undefined) throw bad(source ?? el, source ? 'path' : null, '', "<serial type='file'> needs <source path='/ABSOLUTE/PATH'/>");
  return { type, path: p };
}

/** 'a' -> 0, 'z' -> 25, 'aa' -> 26, as libvirt's virDiskNameToIndex. */
function diskIndex(letters: string): number {
  let n = 0;
  for (const c of letters) n = n * 26 + (c.charCodeAt(0) - 96);
  return n - 1;
}

// libvirt's values (domaincommon.rng, virStorage/virDomainDisk* enums).
const DISK_TYPES = ['file', 'block', 'dir', 'network', 'volume', 'nvme', 'vhostuser', 'vhostvdpa'];
const DISK_DEVICES = ['disk', 'cdrom', 'floppy', 'lun'];
const DISK_BUSES = ['ide', 'fdc', 'scsi', 'virtio', 'xen', 'usb', 'uml', 'sata', 'sd'];
/** libvirt's bus for a target name without bus= (virDomainDiskDefPostParse). */
const BUS_OF_PREFIX: Record<string, string> = { hd: 'ide', sd: 'scsi', vd: 'virtio', xvd: 'xen', ubd: 'uml', fd: 'ide' };

const DRIVE_ONLY = 'netfd gives disks as -drive if=virtio|ide, where qemu makes the device itself';
const DISK_WHY: Record<string, string> = {
  boot: `a boot order is qemu's bootindex, a -device property; ${DRIVE_ONLY}`,
  serial: `a disk serial is a -device property (qemu 7.2 has no -drive serial=); ${DRIVE_ONLY}`,
  shareable: `libvirt shares a disk with share-rw=on, a -device property; ${DRIVE_ONLY}`,
  alias: `the alias is the -device id; ${DRIVE_ONLY}`,
  wwn: `a -device property; ${DRIVE_ONLY}`,
  vendor: `a -device property; ${DRIVE_ONLY}`,
  product: `a -device property; ${DRIVE_ONLY}`,
  geometry: `a -device property; ${DRIVE_ONLY}`,
  blockio: `a -device property; ${DRIVE_ONLY}`,
};
const VIRTIO_BLK_PROPS = ['ioeventfd', 'event_idx', 'iothread', 'queues', 'queue_size', 'iommu', 'ats', 'packed', 'page_per_vq'];
const DRIVER_APPLIED = ['name', 'type', 'cache', 'io', 'discard', 'detect_zeroes', 'error_policy', 'rerror_policy', 'copy_on_read'];

/** The -drive options of <driver>: each attribute applied or refused by name. */
function parseDiskDriver(el: Element, d: DiskDef): void {
  onlyApplied(el, DRIVER_APPLIED, [], (n) => (n.startsWith('@') && VIRTIO_BLK_PROPS.includes(n.slice(1)) ? `a virtio-blk -device property; ${DRIVE_ONLY}` : undefined));
  const name = attr(el, 'name');
  // libvirt's qemu driver refuses any other (CONFIG_UNSUPPORTED).
  if (name !== undefined && name !== 'qemu') throw unsupported(el, 'name', name, `<driver name='${name}'> is not supported: qemu runs disks with <driver name='qemu'>`);
  const format = attr(el, 'type');
  if (format !== undefined) {
    if (!/^[a-z0-9]+$/.test(format)) throw bad(el, 'type', format, 'expected an image format such as raw or qcow2');
    d.format = format === 'aio' ? 'raw' : format; // 'aio': libvirt's old spelling of raw
  }
  const cache = oneOf(el, 'cache', ['default', 'none', 'writethrough', 'writeback', 'directsync', 'unsafe'] as const);
  if (cache && cache !== 'default') d.cache = cache;
  const io = oneOf(el, 'io', ['threads', 'native', 'io_uring'] as const);
  if (io) d.io = io;
  if (io === 'native' && d.cache !== 'none' && d.cache !== 'directsync')
    throw bad(el, 'io', io, "native I/O needs cache='none' or cache='directsync' (libvirt refuses it otherwise; qemu's aio=native needs cache.direct=on)");
  const discard = oneOf(el, 'discard', ['unmap', 'ignore'] as const);
  if (discard) d.discard = discard;
  const detectZeroes = oneOf(el, 'detect_zeroes', ['off', 'on', 'unmap'] as const);
  if (detectZeroes) d.detectZeroes = detectZeroes;
  const errorPolicy = oneOf(el, 'error_policy', ['stop', 'report', 'ignore', 'enospace'] as const);
  if (errorPolicy) d.errorPolicy = errorPolicy;
  const rerrorPolicy = oneOf(el, 'rerror_policy', ['stop', 'report', 'ignore'] as const);
  if (rerrorPolicy) d.rerrorPolicy = rerrorPolicy;
  const cor = onOff(el, 'copy_on_read');
  if (cor !== undefined) d.copyOnRead = cor;
}

/**
 * An IDE disk's <address type='drive'>: its unit on qemu's one IDE
 * controller (bus × 2 + unit, the -drive if=ide index), as libvirt places hda
 * at 0.0.0, hdb 0.0.1, hdc 0.1.0, hdd 0.1.1.
 */
function driveAddress(el: Element, bus: DiskDef['bus']): number {
  const type = attr(el, 'type') ?? '';
  if (bus !== 'ide' || type !== 'drive') {
    const why = bus === 'virtio'
      ? 'qemu 7.2 has no -drive addr=, so netfd cannot place a virtio disk at a PCI address; remove the <address> (qemu takes a free slot)'
      : "netfd places an IDE disk by <address type='drive'> only";
    throw unsupported(el, 'type', type, `<address type='${type}'> on a ${bus} disk is not supported: ${why}`);
  }
  onlyApplied(el, ['type', 'controller', 'bus', 'target', 'unit'], []);
  const n = (name: string, max: number, why: string) => {
    const x = intAttr(el, name, () => null) ?? 0;
    if (x > max) throw unsupported(el, name, String(x), `<address ${name}='${x}'> is not supported: ${why}`);
    return x;
  };
  n('controller', 0, "-drive if=ide disks are on qemu's one IDE controller (controller='0')");
  n('target', 0, "IDE disks have target='0'");
  const b = n('bus', 1, "the IDE controller has buses 0 and 1");
  const u = n('unit', 1, "an IDE bus has units 0 and 1");
  return b * 2 + u;
}

function parseDisk(el: Element): DiskDef {
  const type = libvirtValue(el, 'type', ['file', 'block'] as const, DISK_TYPES, 'file', "netfd runs file and block disks (type='file' or 'block')") as DiskDef['type'];
  const device = libvirtValue(el, 'device', ['disk', 'cdrom'] as const, DISK_DEVICES, 'disk', 'netfd runs disk and cdrom devices') as DiskDef['device'];
  onlyApplied(el, ['type', 'device'], ['driver', 'source', 'target', 'readonly', 'address'], (n) => DISK_WHY[n]);
  // libvirt opens a host CD-ROM drive with host_cdrom after probing it (virFileIsCDROM); netfd does not probe.
  if (type === 'block' && device === 'cdrom') throw unsupported(el, 'device', device, "<disk type='block' device='cdrom'> (a host CD-ROM drive) is not supported; use a file (type='file') for an ISO image");
  const source = child(el, 'source');
  const srcAttr = type === 'block' ? 'dev' : 'file';
  const example = type === 'block' ? '/dev/VG/LV' : '/ABSOLUTE/PATH';
  if (!source && device === 'cdrom') throw unsupported(el, null, '', 'an empty cdrom drive (no <source>) is not supported');
  const src = source ? absPath(source, srcAttr) : undefined;
  if (!source || src === undefined) throw bad(source ?? el, source ? srcAttr : null, '', `a ${type} disk needs <source ${srcAttr}='${example}'/>`);
  onlyApplied(source, [srcAttr], []);
  const target = child(el, 'target');
  const dev = target ? attr(target, 'dev') : undefined;
  const m = dev ? /^(hd|sd|vd|xvd|ubd|fd)([a-z]{1,3})$/.exec(dev) : null;
  if (!target || !dev || !m) throw bad(target ?? el, target ? 'dev' : null, dev ?? '', "a disk needs <target dev='vda|hda...' bus='virtio|ide'/>");
  onlyApplied(target, ['dev', 'bus'], []);
  const busOf = BUS_OF_PREFIX[m[1]];
  if (attr(target, 'bus') === undefined && busOf !== 'virtio' && busOf !== 'ide')
    throw unsupported(target, 'dev', dev, `<target dev='${dev}'> without bus= is on the ${busOf} bus (as in libvirt), which netfd does not run: give bus='virtio' or bus='ide'`);
  const bus = libvirtValue(target, 'bus', ['virtio', 'ide'] as const, DISK_BUSES, busOf as DiskDef['bus'], 'netfd runs virtio and ide disks') as DiskDef['bus'];
  const readonly = child(el, 'readonly');
  if (readonly) onlyApplied(readonly, [], []);
  // qemu's ide-hd cannot be read-only ("Block node is read-only"); libvirt refuses it too.
  if (readonly && bus === 'ide' && device === 'disk') throw unsupported(readonly, null, 'readonly', "<readonly/> on an IDE disk is not supported: qemu's IDE hard disk cannot be read-only; use bus='virtio', or device='cdrom'");
  const d: DiskDef = { index: diskIndex(m[2]), type, source: src, bus, device, format: 'raw', readonly: readonly !== null || device === 'cdrom', target: dev };
  const driver = child(el, 'driver');
  if (driver) parseDiskDriver(driver, d);
  const address = child(el, 'address');
  if (address) d.index = driveAddress(address, bus);
  return d;
}

/** Everything but the interfaces: what makes the rest of the command line. */
function parseMachine(root: Element, def: DomainDef): void {
  const memory = child(root, 'memory');
  if (!memory) throw bad(root, null, '', "a domain needs <memory unit='MiB'>N</memory>");
  def.memoryKiB = memoryKiB(memory);

  const vcpu = child(root, 'vcpu');
  if (vcpu) {
    const t = text(vcpu);
    if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 4096) throw bad(vcpu, null, t, 'expected a vCPU count from 1 to 4096');
    def.vcpus = Number(t);
  }

  const os = child(root, 'os');
  if (os) {
    const t = child(os, 'type');
    if (t) {
      if (text(t) !== 'hvm') throw bad(t, null, text(t), "qemu guests are <type>hvm</type>");
      const arch = attr(t, 'arch');
      if (arch !== undefined) def.os.arch = checked(t, 'arch', arch, (x) => { if (!/^[a-z0-9_]+$/.test(x)) throw new Error('expected an architecture such as x86_64'); return x; });
      const machine = attr(t, 'machine');
      if (machine !== undefined) def.os.machine = checked(t, 'machine', machine, (x) => { if (!/^[A-Za-z0-9_.-]+$/.test(x)) throw new Error('expected a machine type such as pc or q35'); return x; });
    }
    for (const k of ['kernel', 'initrd'] as const) {
      const e = child(os, k);
      if (e) {
        const p = text(e);
        if (!p.startsWith('/')) throw bad(e, null, p, 'expected an absolute path');
        def.os[k] = p;
      }
    }
    const cmdline = child(os, 'cmdline');
    if (cmdline) def.os.cmdline = text(cmdline);
  }

  const onReboot = child(root, 'on_reboot');
  if (onReboot) {
    const t = text(onReboot);
    if (t !== 'restart' && t !== 'destroy') throw bad(onReboot, null, t, "netfd runs <on_reboot>restart</on_reboot> or <on_reboot>destroy</on_reboot>");
    def.onReboot = t;
  }

  const devices = child(root, 'devices');
  if (devices) {
    const emulator = child(devices, 'emulator');
    if (emulator) {
      const p = text(emulator);
      if (!p) throw bad(emulator, null, p, 'expected the path of the qemu binary');
      def.emulator = p;
    }
    for (const el of children(devices, 'serial')) def.serials.push(parseSerial(el));
    for (const el of children(devices, 'disk')) {
      const d = parseDisk(el);
      const clash = def.disks.find((o) => o.bus === d.bus && o.index === d.index);
      if (clash) throw bad(child(el, 'target') as Element, 'dev', d.target, `${clash.target} already takes that unit of the ${d.bus} bus`);
      def.disks.push(d);
    }
    for (const el of children(devices)) if (!KNOWN_DEVICES.has(el.tagName)) def.ignoredDevices.push(el.tagName);
  }

  for (const cl of children(root).filter((e) => e.namespaceURI === QEMU_NS && e.localName === 'commandline')) {
    for (const e of children(cl)) {
      if (e.namespaceURI !== QEMU_NS) continue;
      const value = attr(e, 'value');
      if (e.localName === 'arg') {
        if (value === undefined) throw bad(e, 'value', '', '<qemu:arg> needs value=');
        def.qemuArgs.push(value);
      } else if (e.localName === 'env') {
        const name = attr(e, 'name');
        if (name === undefined || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw bad(e, 'name', name ?? '', 'expected an environment variable name');
        def.qemuEnv[name] = value ?? '';
      }
    }
  }
}

function parseDomain(doc: Document, o: ParseOptions): DomainDef {
  const root = doc.documentElement as Element;
  if (root.tagName !== 'domain') throw bad(root, null, root.tagName, 'expected a libvirt <domain> document');
  const type = oneOf(root, 'type', ['kvm', 'qemu'] as const);
  if (!type) throw bad(root, 'type', '', "netfd runs <domain type='kvm'> or <domain type='qemu'> (TCG)");

  const name = nameOf(root);
  const def: DomainDef = { type, name, memoryKiB: 0, vcpus: 1, os: {}, onReboot: 'restart', serials: [], disks: [], interfaces: [], ignoredDevices: [], qemuArgs: [], qemuEnv: {} };

  const uuid = uuidOf(root);
  if (uuid) def.uuid = uuid;

  if (o.netOnly) def.netOnly = true;
  else parseMachine(root, def);

  const devices = child(root, 'devices');
  if (devices) children(devices, 'interface').forEach((el, i) => def.interfaces.push(parseInterface(el, i, o)));

  const macs = new Map<string, InterfaceDef>();
  for (const i of def.interfaces) {
    if (!i.mac) continue;
    const other = macs.get(i.mac);
    if (other) throw new NetfdError(`${i.path}/mac/@address: MAC ${i.mac} is also used by ${other.path}; each interface needs its own MAC`, { code: 'INVALID_ARGUMENT', field: `${i.path}/mac/@address`, value: i.mac });
    macs.set(i.mac, i);
  }
  const aliases = new Map<string, InterfaceDef>();
  for (const i of def.interfaces) {
    if (!i.alias) continue;
    const other = aliases.get(i.alias);
    if (other) throw new NetfdError(`${i.path}/alias/@name: alias ${i.alias} is also used by ${other.path}`, { code: 'INVALID_ARGUMENT', field: `${i.path}/alias/@name`, value: i.alias });
    aliases.set(i.alias, i);
  }
  const devs = new Map<string, InterfaceDef>();
  for (const i of def.interfaces) {
    const dev = i.target?.dev;
    if (!dev || dev.includes('%')) continue;
    const other = devs.get(dev);
    if (other) throw new NetfdError(`${i.path}/target/@dev: ${dev} is also the target of ${other.path}; each interface needs its own device`, { code: 'INVALID_ARGUMENT', field: `${i.path}/target/@dev`, value: dev });
    devs.set(dev, i);
  }
  return def;
}

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

/** A parsed <domain>: the plain definition, the user's exact text, and the DOM. */
export class DomainXml {
  readonly def: DomainDef;
  /** The config (inactive) XML: exactly the text that was parsed. */
  readonly text: string;
  readonly #doc: Document;

  private constructor(text: string, doc: Document, def: DomainDef) {
    this.text = text;
    this.#doc = doc;
    this.def = def;
  }

  /** Parses and validates; errors name the element, attribute and value. */
  static parse(xml: string, o: ParseOptions = {}): DomainXml {
    const doc = parseXml(xml, 'domain XML');
    return new DomainXml(xml, doc, parseDomain(doc, o));
  }

  /** The document serialised again, with nothing changed. */
  serialize(): string {
    return serializeXml(this.#doc);
  }

  /**
   * The live (status) XML: the same document plus, per interface, the MAC,
   * the target dev and the driver choice. For non-virtio models the driver's
   * name and queues are dropped, as libvirt does.
   */
  live(ifaces: readonly LiveInterface[]): string {
    const doc = parseXml(this.serialize(), 'domain XML');
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
    const doc = parseXml(this.serialize(), 'domain XML');
    const devices = child(doc.documentElement as Element, 'devices');
    const el = devices ? children(devices, 'interface')[index] : undefined;
    if (!el) throw new Error(`withoutInterface: no interface ${index}`);
    removeChild(el);
    return serializeXml(doc);
  }
}
