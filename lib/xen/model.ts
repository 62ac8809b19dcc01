// The part of a libvirt <domain type='xen'> the Xen native formats carry:
// name, uuid, HVM or PV, memory, vCPUs (maximum and online) and the
// interfaces. Read from XML (refusing interface features no native format can
// hold) and written back as XML in libvirt's layout. Whether one format can
// hold a feature (a VLAN in xm, say) is the writers' business (nic.ts). Pure.
import { isIP } from 'node:net';
import { NetfdError } from '../errors';
import * as v from '../validate';
import { attr, bad, checked, child, children, Element, isObjectName, memoryKiB, nameOf, parseXml, path, text, uuidOf } from '../xml/dom';

/** One vif line, as netfd reads and writes it. */
export interface XenInterface {
  type: 'bridge' | 'ethernet';
  mac?: string;
  bridge?: string;
  script?: string;
  ips: string[];
  /** <target dev>: the host side's name (vifname=). */
  vifname?: string;
  /** <model type>, as in the XML (netfront included). */
  model?: string;
  /** <vlan>: its tags, and whether it is a trunk (several tags, or trunk='yes'). xl: bridge=BR.TAG or BR:T1:T2. */
  vlan?: { tags: number[]; trunk: boolean };
  /** <virtualport type='openvswitch'/>: the bridge is an Open vSwitch one. */
  openvswitch?: boolean;
  /** <bandwidth><outbound average>: what the guest may send, in KiB/s (vif rate=). */
  rateKiB?: number;
  /** Where each value was read from in the XML, to name it when a format cannot hold it. */
  at: Partial<Record<'interface' | 'script' | 'vifname' | 'model' | 'bridge' | 'vlan' | 'virtualport' | 'rate', string>>;
}

/** The part of a Xen domain that converts: basics and vifs. */
export interface XenDomain {
  name: string;
  uuid?: string;
  hvm: boolean;
  /** <memory>: the maximum (maxmem in the native formats). */
  memoryKiB: number;
  /** <currentMemory>: the balloon target (memory in the native formats). */
  currentMemoryKiB: number;
  /** <vcpu>: the maximum (maxvcpus in xm/xl, (vcpus N) in sexpr). */
  vcpus: number;
  /** <vcpu current>, only when fewer than `vcpus` are online (vcpus in xm/xl, (vcpu_avail MASK) in sexpr). */
  currentVcpus?: number;
  interfaces: XenInterface[];
}

/** Characters libvirt allows in <model type> (NET_MODEL_CHARS). */
const MODEL_RE = /^[A-Za-z0-9_-]+$/;

export function invalidAt(field: string, value: unknown, why: string): NetfdError {
  return new NetfdError(`${field}: ${why}`, { code: 'INVALID_ARGUMENT', field, value });
}

export function unsupportedAt(field: string, value: unknown, why: string): NetfdError {
  return new NetfdError(`${field}: ${why}`, { code: 'NOT_SUPPORTED', field, value });
}

/** Runs a validate.ts check and reports its failure under `field`, without the generic prefix. */
export function validated<T>(field: string, value: string, fn: (x: string) => T): T {
  try {
    return fn(value);
  } catch (err) {
    throw invalidAt(field, value, `invalid value ${JSON.stringify(value)}: ${(err as Error).message.replace(/^invalid \S+ "[^"]*": /, '')}`);
  }
}

// The checks each value gets, whichever side it comes from.
export const checks = {
  mac: (x: string) => v.mac(x),
  ifname: (x: string) => v.ifname(x),
  ip: (x: string) => {
    if (!isIP(x)) throw new Error('expected an IPv4 or IPv6 address');
    return x;
  },
  model: (x: string) => {
    if (!MODEL_RE.test(x)) throw new Error("a model is letters, digits, '_' and '-' (e.g. e1000, rtl8139, netfront)");
    return x;
  },
  script: (x: string) => {
    if (!x || /[\0\r\n]/.test(x) || x.trim() !== x) throw new Error('a script is a path or name on one line, without leading or trailing blanks (e.g. vif-bridge)');
    return x;
  },
  name: (x: string) => {
    if (!isObjectName(x)) throw new Error('a domain name is 1-200 bytes, no whitespace or /');
    return x;
  },
  uuid: (x: string) => {
    const h = x.replace(/-/g, '').toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(h)) throw new Error('expected a UUID such as c7a5fdb2-cdaf-9455-926a-d65c16db1809');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  },
};

function unsupportedElement(el: Element, why: string): NetfdError {
  return new NetfdError(`${path(el)}: <${el.tagName}> is not supported: ${why}`, { code: 'NOT_SUPPORTED', field: path(el), value: el.tagName });
}

/** Refuses attributes other than `allowed`: the native formats would drop them. */
function onlyAttributes(el: Element, allowed: readonly string[], why: string): void {
  for (let i = 0; i < el.attributes.length; i++) {
    const a = el.attributes[i];
    if (!allowed.includes(a.name)) throw unsupportedAt(`${path(el)}/@${a.name}`, a.value, `<${el.tagName} ${a.name}='${a.value}'> is not supported: ${why}`);
  }
}

const NATIVE = 'the Xen native formats have no place for it';

const VLAN_TAG = (x: string) => {
  if (!/^\d+$/.test(x) || Number(x) > 4095) throw new Error('a VLAN tag is an integer from 0 to 4095');
  return Number(x);
};

/** libvirt's <vlan>: one or more <tag id>, a trunk when trunk='yes' or when there are several tags. */
function readVlan(el: Element): { tags: number[]; trunk: boolean } {
  onlyAttributes(el, ['trunk'], NATIVE);
  const tags: number[] = [];
  for (const c of children(el)) {
    if (c.tagName !== 'tag') throw unsupportedElement(c, 'a <vlan> holds <tag id/> elements only');
    onlyAttributes(c, ['id'], "a Xen vif's bridge=BR.TAG or BR:T1:T2 carries tag ids only (no native VLAN)");
    const id = attr(c, 'id');
    if (id === undefined) throw bad(c, 'id', '', "<tag> needs id='N' (0 to 4095)");
    tags.push(checked(c, 'id', id, VLAN_TAG));
  }
  if (!tags.length) throw bad(el, null, '', "a <vlan> needs at least one <tag id='N'/>");
  const trunkAttr = attr(el, 'trunk');
  let trunk = tags.length > 1;
  if (trunkAttr !== undefined) {
    // libvirt compares case-insensitively and discards trunk='no' on a single tag
    const t = trunkAttr.toLowerCase();
    if (t !== 'yes' && t !== 'no') throw bad(el, 'trunk', trunkAttr, 'expected yes or no');
    if (t === 'no' && tags.length > 1) throw bad(el, 'trunk', trunkAttr, "trunk='yes' is needed for more than one tag");
    trunk = t === 'yes';
  }
  return { tags, trunk };
}

/** libvirt's <bandwidth>: a vif rate= holds <outbound average> only; its absence, or average='0', is no limit. */
function readBandwidth(el: Element): number | undefined {
  onlyAttributes(el, [], NATIVE);
  let rate: number | undefined;
  const seen = new Set<string>();
  for (const c of children(el)) {
    if (c.tagName !== 'outbound') {
      const why = c.tagName === 'inbound' ? 'a vif rate= limits only what the guest sends (<outbound>); Xen has no limit on what it receives' : 'a <bandwidth> holds <inbound> and <outbound> only';
      throw unsupportedElement(c, why);
    }
    if (seen.has(c.tagName)) throw bad(c, null, c.tagName, '<outbound> may appear only once in <bandwidth>');
    seen.add(c.tagName);
    onlyAttributes(c, ['average'], 'a vif rate= is an average rate only (no peak, burst or floor)');
    const a = attr(c, 'average');
    if (a === undefined) throw bad(c, 'average', '', "<outbound> needs average='KIB_PER_SEC' (the vif rate=)");
    const kib = checked(c, 'average', a, (x) => {
      if (!/^\d+$/.test(x) || !Number.isSafeInteger(Number(x))) throw new Error('expected a whole number of KiB/s');
      return Number(x);
    });
    if (kib > 0) rate = kib;
  }
  return rate;
}

function readInterface(el: Element): XenInterface {
  const type = attr(el, 'type');
  if (type === undefined) throw bad(el, 'type', '', "an interface needs type='bridge' or type='ethernet'");
  if (type !== 'bridge' && type !== 'ethernet')
    throw unsupportedAt(`${path(el)}/@type`, type, `<interface type='${type}'> is not supported by the Xen native formats: use type='bridge' (vif bridge=) or type='ethernet' (vif script=)`);
  onlyAttributes(el, ['type'], NATIVE);
  const nic: XenInterface = { type, ips: [], at: { interface: path(el) } };
  const seen = new Set<string>();
  for (const c of children(el)) {
    const tag = c.tagName;
    if (tag !== 'ip' && seen.has(tag)) throw bad(c, null, tag, `<${tag}> may appear only once in <interface>`);
    seen.add(tag);
    switch (tag) {
      case 'mac': {
        onlyAttributes(c, ['address'], NATIVE);
        const a = attr(c, 'address');
        if (a === undefined) throw bad(c, 'address', '', "<mac> needs address='00:16:3e:..'");
        nic.mac = checked(c, 'address', a, checks.mac);
        break;
      }
      case 'source': {
        if (type !== 'bridge') throw unsupportedElement(c, "a type='ethernet' vif has no source; use type='bridge' for bridge=");
        onlyAttributes(c, ['bridge'], NATIVE);
        const b = attr(c, 'bridge');
        if (b === undefined) throw bad(c, 'bridge', '', "<interface type='bridge'> needs <source bridge='BRIDGE'/>");
        nic.bridge = checked(c, 'bridge', b, checks.ifname);
        nic.at.bridge = `${path(c)}/@bridge`;
        break;
      }
      case 'script': {
        onlyAttributes(c, ['path'], NATIVE);
        const p = attr(c, 'path');
        if (p === undefined) throw bad(c, 'path', '', "<script> needs path='vif-bridge' (or another script)");
        nic.script = checked(c, 'path', p, checks.script);
        nic.at.script = `${path(c)}/@path`;
        break;
      }
      case 'ip': {
        onlyAttributes(c, ['address', 'family'], 'a vif ip= carries addresses only (no prefix or peer)');
        const a = attr(c, 'address');
        if (a === undefined) throw bad(c, 'address', '', "<ip> needs address='ADDRESS'");
        const ip = checked(c, 'address', a, checks.ip);
        const family = attr(c, 'family');
        const want = isIP(ip) === 4 ? 'ipv4' : 'ipv6';
        if (family !== undefined && family !== want) throw bad(c, 'family', family, `${ip} is ${want}`);
        nic.ips.push(ip);
        break;
      }
      case 'target': {
        onlyAttributes(c, ['dev'], NATIVE);
        const d = attr(c, 'dev');
        if (d === undefined) throw bad(c, 'dev', '', "<target> needs dev='NAME'");
        nic.vifname = checked(c, 'dev', d, checks.ifname);
        nic.at.vifname = `${path(c)}/@dev`;
        break;
      }
      case 'model': {
        onlyAttributes(c, ['type'], NATIVE);
        const m = attr(c, 'type');
        if (m === undefined) throw bad(c, 'type', '', "<model> needs type='MODEL'");
        nic.model = checked(c, 'type', m, checks.model);
        nic.at.model = `${path(c)}/@type`;
        break;
      }
      case 'vlan':
        if (type !== 'bridge') throw unsupportedElement(c, "a VLAN is part of a vif's bridge= (xl's Open vSwitch syntax); use type='bridge'");
        nic.vlan = readVlan(c);
        nic.at.vlan = path(c);
        break;
      case 'virtualport': {
        if (type !== 'bridge') throw unsupportedElement(c, "an Open vSwitch port is part of a vif's bridge= (xl); use type='bridge'");
        onlyAttributes(c, ['type'], NATIVE);
        const vt = attr(c, 'type');
        if (vt !== 'openvswitch')
          throw unsupportedAt(vt === undefined ? path(c) : `${path(c)}/@type`, vt ?? 'virtualport', "a Xen vif knows <virtualport type='openvswitch'/> only (xl: vif-openvswitch)");
        const p = children(c)[0];
        if (p) throw unsupportedElement(p, 'a Xen vif has no place for port parameters (interfaceid, profileid); remove them to convert');
        nic.openvswitch = true;
        nic.at.virtualport = path(c);
        break;
      }
      case 'bandwidth': {
        const r = readBandwidth(c);
        if (r !== undefined) nic.rateKiB = r;
        nic.at.rate = `${path(c)}/outbound/@average`;
        break;
      }
      default:
        throw unsupportedElement(c, `a Xen vif holds mac, bridge (with a VLAN), script, ip, vifname, model, type and rate only; remove <${tag}> to convert`);
    }
  }
  if (type === 'bridge' && nic.bridge === undefined) throw bad(el, null, '', "<interface type='bridge'> needs <source bridge='BRIDGE'/>");
  return nic;
}

/**
 * Reads the Xen subset of a <domain type='xen'>. Elements outside the subset
 * (disks, graphics, features, ...) are left out of the conversion; anything
 * inside an <interface> that a vif cannot hold is refused (NOT_SUPPORTED).
 */
export function readDomainXml(xml: string): XenDomain {
  const doc = parseXml(xml, 'domain XML');
  const root = doc.documentElement as Element;
  if (root.tagName !== 'domain') throw bad(root, null, root.tagName, 'expected a libvirt <domain> document');
  const type = attr(root, 'type');
  if (type !== 'xen') throw bad(root, 'type', type ?? '', "the Xen native formats convert <domain type='xen'>");
  const name = nameOf(root);
  const uuid = uuidOf(root);

  const os = child(root, 'os');
  const osType = os ? child(os, 'type') : null;
  if (!osType) throw new NetfdError('/domain/os/type: a Xen domain needs <os><type>hvm</type></os> (or xen for a PV guest)', { code: 'INVALID_ARGUMENT', field: '/domain/os/type', value: '' });
  const t = text(osType);
  if (t !== 'hvm' && t !== 'xen' && t !== 'linux') throw bad(osType, null, t, 'expected hvm (fully virtualized) or xen (paravirtualized; linux is the old spelling)');

  const memory = child(root, 'memory');
  if (!memory) throw new NetfdError("/domain/memory: a domain needs <memory unit='KiB'>N</memory>", { code: 'INVALID_ARGUMENT', field: '/domain/memory', value: '' });
  const memoryKiBv = memoryKiB(memory);
  const current = child(root, 'currentMemory');
  const currentKiB = current ? memoryKiB(current) : memoryKiBv;
  if (current && currentKiB > memoryKiBv) throw bad(current, null, text(current), `the current memory cannot exceed <memory> (${memoryKiBv} KiB)`);

  let vcpus = 1;
  let currentVcpus: number | undefined;
  const vcpu = child(root, 'vcpu');
  if (vcpu) {
    for (let i = 0; i < vcpu.attributes.length; i++) {
      const a = vcpu.attributes[i];
      if ((a.name === 'placement' && a.value === 'static') || a.name === 'current') continue;
      throw unsupportedAt(`${path(vcpu)}/@${a.name}`, a.value, `<vcpu ${a.name}='${a.value}'> is not supported: the conversion carries the vCPU counts only (maximum and current)`);
    }
    const n = text(vcpu);
    if (!/^\d+$/.test(n) || Number(n) < 1 || Number(n) > 4096) throw bad(vcpu, null, n, 'expected a vCPU count from 1 to 4096');
    vcpus = Number(n);
    const cur = attr(vcpu, 'current');
    if (cur !== undefined) {
      if (!/^\d+$/.test(cur) || Number(cur) < 1 || Number(cur) > vcpus) throw bad(vcpu, 'current', cur, `expected the number of vCPUs online, from 1 to the maximum (${vcpus})`);
      // libvirt writes no current= when all vCPUs are online
      if (Number(cur) < vcpus) currentVcpus = Number(cur);
    }
  }
  // <vcpus><vcpu id enabled/></vcpus> picks which vCPUs are online; the native formats count them only
  const perVcpu = child(root, 'vcpus');
  if (perVcpu) throw unsupportedElement(perVcpu, "the Xen native formats say how many vCPUs are online, not which; use <vcpu current='N'>");

  const devices = child(root, 'devices');
  const interfaces = devices ? children(devices, 'interface').map(readInterface) : [];
  const d: XenDomain = { name, hvm: t === 'hvm', memoryKiB: memoryKiBv, currentMemoryKiB: currentKiB, vcpus, interfaces };
  if (currentVcpus !== undefined) d.currentVcpus = currentVcpus;
  if (uuid) d.uuid = uuid;
  return d;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');

/** libvirt's layout of a <domain type='xen'>, for what the native formats carry. */
export function writeDomainXml(d: XenDomain): string {
  const out = ["<domain type='xen'>", `  <name>${esc(d.name)}</name>`];
  if (d.uuid) out.push(`  <uuid>${d.uuid}</uuid>`);
  out.push(`  <memory unit='KiB'>${d.memoryKiB}</memory>`, `  <currentMemory unit='KiB'>${d.currentMemoryKiB}</currentMemory>`);
  out.push(d.currentVcpus === undefined ? `  <vcpu>${d.vcpus}</vcpu>` : `  <vcpu current='${d.currentVcpus}'>${d.vcpus}</vcpu>`, '  <os>', `    <type>${d.hvm ? 'hvm' : 'xen'}</type>`, '  </os>');
  if (d.interfaces.length) {
    out.push('  <devices>');
    for (const n of d.interfaces) {
      out.push(`    <interface type='${n.type}'>`);
      if (n.mac) out.push(`      <mac address='${n.mac}'/>`);
      if (n.bridge !== undefined) out.push(`      <source bridge='${esc(n.bridge)}'/>`);
      // libvirt's order: vlan, virtualport, bandwidth, then the addresses
      if (n.vlan) out.push(`      <vlan${n.vlan.trunk ? " trunk='yes'" : ''}>`, ...n.vlan.tags.map((id) => `        <tag id='${id}'/>`), '      </vlan>');
      if (n.openvswitch) out.push("      <virtualport type='openvswitch'/>");
      if (n.rateKiB !== undefined) out.push('      <bandwidth>', `        <outbound average='${n.rateKiB}'/>`, '      </bandwidth>');
      for (const ip of n.ips) out.push(`      <ip address='${ip}' family='${isIP(ip) === 4 ? 'ipv4' : 'ipv6'}'/>`);
      if (n.script !== undefined) out.push(`      <script path='${esc(n.script)}'/>`);
      if (n.vifname !== undefined) out.push(`      <target dev='${esc(n.vifname)}'/>`);
      if (n.model !== undefined) out.push(`      <model type='${n.model}'/>`);
      out.push('    </interface>');
    }
    out.push('  </devices>');
  }
  out.push('</domain>', '');
  return out.join('\n');
}

/** Memory in the native formats is in MiB: libvirt rounds KiB up (VIR_DIV_UP). */
export const toMiB = (kib: number): number => Math.ceil(kib / 1024);
