// A <domain> read into the plain definition netfd acts on: the machine
// (memory, os, vcpus, serials, disks, qemu:commandline) and the interfaces,
// with the cross-interface checks (MACs, aliases, target devices). Pure.
import { NetfdError } from '../errors';
import { absPath, attr, bad, checked, child, children, Document, Element, memoryKiB, nameOf, oneOf, text, uuidOf } from './dom';
import { InterfaceDef, ParseOptions, parseInterface } from './interface';
import { libvirtValue } from './applied';
import { DiskDef, parseDisk } from './disk';

/** A `<serial>` netfd runs: file, pty or stdio. */
export interface SerialDef {
  type: 'file' | 'pty' | 'stdio';
  path?: string;
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

function parseSerial(el: Element): SerialDef {
  const type = libvirtValue(el, 'type', ['file', 'pty', 'stdio'] as const, CHR_TYPES, undefined, "netfd runs <serial type='file|pty|stdio'>");
  if (!type) throw bad(el, 'type', '', "netfd runs <serial type='file|pty|stdio'>");
  if (type !== 'file') return { type };
  const source = child(el, 'source');
  const p = source ? absPath(source, 'path') : undefined;
  if (!source || p === undefined) throw bad(source ?? el, source ? 'path' : null, '', "<serial type='file'> needs <source path='/ABSOLUTE/PATH'/>");
  return { type, path: p };
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
      if (text(t) !== 'hvm') throw bad(t, null, text(t), 'qemu guests are <type>hvm</type>');
      const arch = attr(t, 'arch');
      if (arch !== undefined)
        def.os.arch = checked(t, 'arch', arch, (x) => {
          if (!/^[a-z0-9_]+$/.test(x)) throw new Error('expected an architecture such as x86_64');
          return x;
        });
      const machine = attr(t, 'machine');
      if (machine !== undefined)
        def.os.machine = checked(t, 'machine', machine, (x) => {
          if (!/^[A-Za-z0-9_.-]+$/.test(x)) throw new Error('expected a machine type such as pc or q35');
          return x;
        });
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
    if (t !== 'restart' && t !== 'destroy') throw bad(onReboot, null, t, 'netfd runs <on_reboot>restart</on_reboot> or <on_reboot>destroy</on_reboot>');
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

export function parseDomain(doc: Document, o: ParseOptions): DomainDef {
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
    if (other)
      throw new NetfdError(`${i.path}/mac/@address: MAC ${i.mac} is also used by ${other.path}; each interface needs its own MAC`, {
        code: 'INVALID_ARGUMENT',
        field: `${i.path}/mac/@address`,
        value: i.mac,
      });
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
    if (other)
      throw new NetfdError(`${i.path}/target/@dev: ${dev} is also the target of ${other.path}; each interface needs its own device`, {
        code: 'INVALID_ARGUMENT',
        field: `${i.path}/target/@dev`,
        value: dev,
      });
    devs.set(dev, i);
  }
  return def;
}
