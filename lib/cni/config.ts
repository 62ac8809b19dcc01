// A netfd network configuration as a runtime hands it over (stdin): `type:
// "netfd"` with either `interface`, one libvirt <interface> document
// verbatim, or JSON shorthands mapped onto one; the fields the runtime
// injects (name, cniVersion, runtimeConfig, prevResult); `ipam` kept for
// delegation. Anything netfd does not apply is refused by name (2), bad JSON
// is 6, bad values are 7. Pure.
import { isNetfdCode, NetfdError } from '../errors';
import * as v from '../validate';
import { addChild, attr, child, children, Element, parseXml, path, serializeXml } from '../xml/dom';
import { InterfaceDef, parseInterface } from '../xml/interface';
import { CNI_CODES, CniError, cniCodeOf, invalidConfig, unsupportedField } from './errors';
import type { CniCommand } from './env';
import { compareVersions, CniVersion, selectVersion } from './version';

/** A container attachment: what GC's valid attachments name. */
export interface Attachment {
  containerID: string;
  ifname: string;
}

/** A configuration, checked. */
export interface CniConfig {
  cniVersion: CniVersion;
  name: string;
  type: 'netfd';
  /** The <interface> document in force (the verbatim one, or the one the shorthands make), with runtimeConfig's MAC in it. */
  xml: string;
  /** What netfd read of it. */
  iface: InterfaceDef;
  /** The IPAM plugin's configuration, for delegation (its `type` is the plugin's name). */
  ipam?: { type: string } & Record<string, unknown>;
  /** `dns` as given, copied into the result. */
  dns?: Record<string, unknown>;
  runtimeConfig: { mac?: string; deviceID?: string };
  /** The previous result (CHECK, DEL, chained ADD), as given. */
  prevResult?: Record<string, unknown>;
  /** `args`: the runtime's extra arguments (ignored unless understood, as the spec says). */
  args?: Record<string, unknown>;
  capabilities?: Record<string, boolean>;
  /** The agent's socket the plugin talks to (the plugin reads it; the default is /run/netfd/agent.sock). */
  socket?: string;
  /** GC: the attachments to keep (cni.dev/valid-attachments). */
  validAttachments?: Attachment[];
}

/** Top-level fields of the spec netfd reads (others of the spec are refused if set, see below). */
const SPEC_FIELDS = [
  'cniVersion',
  'name',
  'type',
  'args',
  'capabilities',
  'runtimeConfig',
  'prevResult',
  'ipam',
  'dns',
  'ipMasq',
  'networkScaling',
  'cni.dev/valid-attachments',
  'cni.dev/attachments',
];
/** netfd's own fields. */
const NETFD_FIELDS = ['interface', 'master', 'mode', 'bridge', 'network', 'queues', 'vhost', 'mtu', 'socket'];
/** The shorthands (each mapped onto the <interface> document). */
const SHORTHANDS = ['master', 'mode', 'bridge', 'network', 'queues', 'vhost', 'mtu'] as const;
/** The runtimeConfig keys (capabilities) netfd applies. */
const RUNTIME_KEYS = ['mac', 'deviceID'];
/** A network name, as the spec says. */
const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** A PCI address as device plugins give deviceID (DDDD:BB:SS.F). */
const PCI_ID = /^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;
/** The commands each version has. */
const SINCE: Readonly<Record<CniCommand, string>> = { ADD: '0.1.0', DEL: '0.1.0', VERSION: '0.1.0', CHECK: '0.4.0', GC: '1.1.0', STATUS: '1.1.0' };
/** The most queues netfd opens for one tap (its driver's limit is 256). */
export const MAX_QUEUES = 256;

/**
 * What a CNI attachment applies of <interface>: the device's kind, MAC, MTU
 * and queues, and the model and driver its launcher is told. Anything else
 * is the guest's side (qemu's, which the plugin does not run) or the
 * container runtime's (the device's name is CNI_IFNAME): refused with 2.
 */
const CNI_ELEMENTS: Readonly<Record<string, readonly string[]>> = {
  mac: ['address'],
  model: ['type'],
  driver: ['name', 'queues'],
  source: ['bridge', 'dev', 'mode', 'network'],
  mtu: ['size'],
  link: ['state'],
};
const WHY_NOT: Readonly<Record<string, string>> = {
  target: 'the device is named by the runtime (CNI_IFNAME)',
  script: 'a CNI plugin runs no scripts; chain a plugin after netfd instead',
  downscript: 'a CNI plugin runs no scripts; chain a plugin after netfd instead',
  bandwidth: "chain the reference 'bandwidth' plugin after netfd",
  vlan: "chain the reference 'vlan' plugin, or use a VLAN device as master",
  backend: 'the plugin opens the devices itself',
};

type Json = Record<string, unknown>;
const typeName = (x: unknown): string => (x === null ? 'null' : Array.isArray(x) ? 'array' : typeof x);
const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);

/** A netfd error from the XML layer as a CNI error: NOT_SUPPORTED is 2 naming the XPath and value, the rest by the table. */
function fromXml(err: unknown): CniError {
  if (err instanceof CniError) return err;
  const e = err as NetfdError;
  if (!isNetfdCode(e?.code)) throw err;
  const key = typeof e.field === 'string' ? `interface${e.field.replace(/^\/interface/, '')}` : 'interface';
  if (e.code === 'NOT_SUPPORTED') return new CniError(CNI_CODES.UNSUPPORTED_FIELD, `unsupported field ${key}=${JSON.stringify(e.value ?? null)}: ${e.message}`);
  const code = e.code === 'INVALID_XML' ? CNI_CODES.DECODING_FAILURE : cniCodeOf(e.code);
  return new CniError(code, `invalid ${key}: ${e.message}`);
}

/** Refuses (2) what a CNI attachment does not apply of the document, naming it. */
function checkCniShape(el: Element): void {
  for (const c of children(el)) {
    const allowed = CNI_ELEMENTS[c.tagName];
    const where = `interface${path(c).replace(/^\/interface/, '')}`;
    if (!allowed)
      throw unsupportedField(
        where,
        c.tagName,
        WHY_NOT[c.tagName] ??
          `a CNI attachment applies only ${Object.keys(CNI_ELEMENTS)
            .map((x) => `<${x}>`)
            .join(', ')}`,
      );
    for (let i = 0; i < c.attributes.length; i++) {
      const a = c.attributes[i];
      if (!allowed.includes(a.name)) throw unsupportedField(`${where}/@${a.name}`, a.value, `a CNI attachment applies only ${allowed.join(', ')} of <${c.tagName}>`);
    }
    for (const g of children(c)) throw unsupportedField(`interface${path(g).replace(/^\/interface/, '')}`, g.tagName, `a CNI attachment applies no children of <${c.tagName}>`);
  }
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/</g, '&lt;');

/** Refuses (7) a master, bridge or network with runtimeConfig.deviceID (which names the master). */
function notWithDevice(c: Json): void {
  const other = (['master', 'bridge', 'network'] as const).find((k) => c[k] !== undefined);
  if (other) throw invalidConfig(other, c[other], "runtimeConfig.deviceID names the VF that is the macvtap's master: give no master, bridge or network with it");
}

/** The <interface> document the shorthands stand for; `vf`: the netdev of runtimeConfig.deviceID, the master (passthrough unless `mode` says otherwise). */
export function shorthandXml(c: Json, vf?: string): string {
  if (vf !== undefined) {
    notWithDevice(c);
    c = { ...c, master: vf, mode: c.mode ?? 'passthrough' };
  }
  const master = c.master;
  const bridge = c.bridge;
  const network = c.network;
  const given = (['master', 'bridge', 'network'] as const).filter((k) => c[k] !== undefined);
  if (given.length > 1) throw invalidConfig(given[1], c[given[1]], `give one of master, bridge and network, not ${given.join(' and ')}`);
  const str = (k: string, x: unknown, check: (s: string) => unknown): string => {
    if (typeof x !== 'string') throw invalidConfig(k, x, `a string, not ${typeName(x)}`);
    try {
      check(x);
    } catch (e) {
      throw invalidConfig(k, x, (e as Error).message.replace(/^invalid \S+ "[^"]*": /, ''));
    }
    return esc(x);
  };
  const lines: string[] = [];
  let type = 'ethernet';
  if (master !== undefined) {
    type = 'direct';
    const mode = c.mode === undefined ? 'bridge' : str('mode', c.mode, (m) => v.macvlanMode(m));
    lines.push(`  <source dev='${str('master', master, (m) => v.ifname(m, 'master'))}' mode='${mode === 'passthru' ? 'passthrough' : mode}'/>`);
  } else if (c.mode !== undefined) throw invalidConfig('mode', c.mode, 'mode is the macvtap mode of a master; give master too');
  if (bridge !== undefined) {
    type = 'bridge';
    lines.push(`  <source bridge='${str('bridge', bridge, (b) => v.ifname(b, 'bridge'))}'/>`);
  }
  if (network !== undefined) {
    type = 'network';
    lines.push(
      `  <source network='${str('network', network, (n) => {
        if (!NETWORK_NAME.test(n) || n.length > 200) throw new Error('a network name: letters, digits, _ . -, up to 200');
      })}'/>`,
    );
  }
  const driver: string[] = [];
  if (c.vhost !== undefined) {
    if (typeof c.vhost !== 'boolean') throw invalidConfig('vhost', c.vhost, `true or false, not ${typeName(c.vhost)}`);
    driver.push(`name='${c.vhost ? 'vhost' : 'qemu'}'`);
  }
  if (c.queues !== undefined) {
    if (typeof c.queues !== 'number' || !Number.isInteger(c.queues) || c.queues < 1 || c.queues > MAX_QUEUES) throw invalidConfig('queues', c.queues, `an integer from 1 to ${MAX_QUEUES}`);
    driver.push(`queues='${c.queues}'`);
  }
  if (driver.length) lines.push(`  <driver ${driver.join(' ')}/>`);
  if (c.mtu !== undefined) {
    if (typeof c.mtu !== 'number' || !Number.isInteger(c.mtu) || c.mtu < 68 || c.mtu > 65535) throw invalidConfig('mtu', c.mtu, 'an integer from 68 to 65535');
    lines.push(`  <mtu size='${c.mtu}'/>`);
  }
  return lines.length ? `<interface type='${type}'>\n${lines.map((l) => `${l}\n`).join('')}</interface>\n` : `<interface type='${type}'/>\n`;
}

/** The <interface> document of `text` with `mac` in it, read and checked for CNI. */
function readInterface(text: string, mac: string | undefined): { xml: string; iface: InterfaceDef } {
  try {
    const doc = parseXml(text, 'interface');
    const root = doc.documentElement as Element;
    if (root.tagName !== 'interface') throw invalidConfig('interface', root.tagName, 'one libvirt <interface> document');
    checkCniShape(root);
    const m = child(root, 'mac');
    if (mac !== undefined) {
      const written = m ? attr(m, 'address') : undefined;
      if (written !== undefined && written.toLowerCase() !== mac) throw invalidConfig('runtimeConfig.mac', mac, `the <interface> document says <mac address='${written}'>: give the MAC in one place`);
      if (!m) addChild(root, 'mac').setAttribute('address', mac);
    }
    const iface = parseInterface(root, 0, {});
    if (iface.driver?.queues !== undefined && iface.driver.queues > MAX_QUEUES) throw invalidConfig('interface/driver/@queues', iface.driver.queues, `at most ${MAX_QUEUES}`);
    return { xml: mac !== undefined && !m ? serializeXml(doc) : text, iface };
  } catch (e) {
    throw fromXml(e);
  }
}

function parseRuntimeConfig(x: unknown): CniConfig['runtimeConfig'] {
  if (x === undefined) return {};
  if (!isObject(x)) throw invalidConfig('runtimeConfig', x, `an object, not ${typeName(x)}`);
  const out: CniConfig['runtimeConfig'] = {};
  for (const [k, val] of Object.entries(x)) {
    if (!RUNTIME_KEYS.includes(k)) throw unsupportedField(`runtimeConfig.${k}`, val, `netfd applies the capabilities ${RUNTIME_KEYS.join(' and ')} only`);
    if (k === 'mac') {
      try {
        out.mac = v.mac(val, 'runtimeConfig.mac');
      } catch (e) {
        throw invalidConfig('runtimeConfig.mac', val, (e as Error).message.replace(/^invalid \S+ "[^"]*": /, ''));
      }
    } else {
      if (typeof val !== 'string' || !PCI_ID.test(val)) throw invalidConfig('runtimeConfig.deviceID', val, 'a PCI address DDDD:BB:SS.F');
      out.deviceID = val.toLowerCase();
    }
  }
  return out;
}

function parseAttachments(key: string, x: unknown): Attachment[] {
  if (!Array.isArray(x)) throw invalidConfig(key, x, 'a list of {containerID, ifname}');
  return x.map((a, i) => {
    if (!isObject(a) || typeof a.containerID !== 'string' || typeof a.ifname !== 'string') throw invalidConfig(`${key}[${i}]`, a, '{"containerID": "...", "ifname": "..."}');
    return { containerID: a.containerID, ifname: a.ifname };
  });
}

/**
 * Reads the configuration of a call of `command` from its stdin text. A
 * runtimeConfig.deviceID (a device plugin's VF, with the shorthands only)
 * becomes the macvtap's master: `deviceMaster` gives its netdev.
 * Throws CniError: 6 for text that is not JSON, 1 for a version netfd does
 * not speak (or one without the command), 2 for a field netfd does not
 * apply (naming key and value), 7 for an invalid value.
 */
export function parseConfig(text: string, command: CniCommand, o: { deviceMaster?: (deviceID: string) => string } = {}): CniConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CniError(CNI_CODES.DECODING_FAILURE, `the network configuration is not JSON: ${(e as Error).message}`);
  }
  if (!isObject(raw)) throw invalidConfig('configuration', typeName(raw), 'a JSON object');
  const c = raw;
  const cniVersion = selectVersion(c.cniVersion);
  if (compareVersions(cniVersion, SINCE[command]) < 0) throw new CniError(CNI_CODES.INCOMPATIBLE_VERSION, `CNI ${cniVersion} has no ${command} (it came with ${SINCE[command]})`);
  for (const k of Object.keys(c)) if (!SPEC_FIELDS.includes(k) && !NETFD_FIELDS.includes(k)) throw unsupportedField(k, c[k], `netfd reads ${[...SPEC_FIELDS, ...NETFD_FIELDS].join(', ')}`);
  if (c.type !== 'netfd') throw invalidConfig('type', c.type, 'this plugin is "netfd"');
  if (typeof c.name !== 'string' || !NETWORK_NAME.test(c.name)) throw invalidConfig('name', c.name, "a network name: an alphanumeric character, then alphanumerics, '_', '.' or '-'");
  for (const k of ['ipMasq', 'networkScaling'] as const) {
    if (c[k] === undefined || c[k] === false) continue;
    if (c[k] === true) throw unsupportedField(k, true, k === 'ipMasq' ? 'netfd sets up no masquerade; chain a plugin that does' : 'netfd sets up no RPS/RFS');
    throw invalidConfig(k, c[k], 'true or false');
  }
  const runtimeConfig = parseRuntimeConfig(c.runtimeConfig);
  let doc: { xml: string; iface: InterfaceDef };
  if (c.interface !== undefined) {
    const mixed = SHORTHANDS.find((k) => c[k] !== undefined);
    if (mixed) throw invalidConfig(mixed, c[mixed], 'give either interface (an <interface> document) or the shorthands, not both');
    if (typeof c.interface !== 'string') throw invalidConfig('interface', c.interface, `an <interface> document as a string, not ${typeName(c.interface)}`);
    if (runtimeConfig.deviceID !== undefined)
      throw unsupportedField('runtimeConfig.deviceID', runtimeConfig.deviceID, "with an <interface> document name the VF's netdev in <source dev>: deviceID applies to the shorthands");
    doc = readInterface(c.interface, runtimeConfig.mac);
  } else {
    const id = runtimeConfig.deviceID;
    if (id !== undefined && !o.deviceMaster) throw new TypeError('parseConfig: runtimeConfig.deviceID needs deviceMaster');
    if (id !== undefined) notWithDevice(c);
    doc = readInterface(shorthandXml(c, id === undefined ? undefined : o.deviceMaster?.(id)), runtimeConfig.mac);
  }
  const out: CniConfig = { cniVersion, name: c.name, type: 'netfd', xml: doc.xml, iface: doc.iface, runtimeConfig };
  if (c.ipam !== undefined) {
    if (!isObject(c.ipam) || typeof c.ipam.type !== 'string' || !NETWORK_NAME.test(c.ipam.type)) throw invalidConfig('ipam', c.ipam, 'an object with the IPAM plugin in "type"');
    if (Object.keys(c.ipam).length > 0) out.ipam = c.ipam as CniConfig['ipam'];
  }
  if (c.dns !== undefined) {
    if (!isObject(c.dns)) throw invalidConfig('dns', c.dns, 'an object');
    out.dns = c.dns;
  }
  if (c.prevResult !== undefined) {
    if (!isObject(c.prevResult)) throw invalidConfig('prevResult', c.prevResult, 'the previous result, an object');
    out.prevResult = c.prevResult;
  }
  if (c.args !== undefined) {
    if (!isObject(c.args)) throw invalidConfig('args', c.args, 'an object');
    out.args = c.args;
  }
  if (c.capabilities !== undefined) {
    if (!isObject(c.capabilities) || !Object.values(c.capabilities).every((x) => typeof x === 'boolean')) throw invalidConfig('capabilities', c.capabilities, 'an object of true/false');
    out.capabilities = c.capabilities as Record<string, boolean>;
  }
  if (c.socket !== undefined) {
    if (typeof c.socket !== 'string' || !c.socket.startsWith('/') || c.socket.includes('\0')) throw invalidConfig('socket', c.socket, "the agent socket's absolute path");
    out.socket = c.socket;
  }
  const keep = c['cni.dev/valid-attachments'] ?? c['cni.dev/attachments'];
  const keyOf = c['cni.dev/valid-attachments'] !== undefined ? 'cni.dev/valid-attachments' : 'cni.dev/attachments';
  if (keep !== undefined) out.validAttachments = parseAttachments(keyOf, keep);
  return out;
}
