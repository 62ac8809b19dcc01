// One vif, as key/value pairs, to and from an XenInterface: shared by the
// xm/xl writer and parser (mac=..,bridge=..) and the s-expression ones
// ((mac '..')(bridge '..')). Pure.
//
// xl's bridge= carries an Open vSwitch VLAN as libvirt's xen_common.c reads
// and writes it (xenParseVifBridge, xenFormatNet): bridge=BR.TAG is one tag,
// bridge=BR:T1:T2 a trunk, each with <virtualport type='openvswitch'/> and
// script vif-openvswitch by default. xm and xend have no such syntax: there
// a VLAN or an Open vSwitch port is refused, and so is a '.' in a bridge
// name, which libvirt would read back as a tag.
import { NetfdError } from '../errors';
import { checks, invalidAt, unsupportedAt, validated, XenInterface } from './model';
import { rateFromVif, rateToVif } from './rate';
import { modelFromVif, vifTypeModel, XenFormat } from './vif';

/** libvirt's DEFAULT_VIF_SCRIPT (vif-vnic on Solaris). */
export const DEFAULT_VIF_SCRIPT = 'vif-bridge';

/** The script libvirt writes for an Open vSwitch port that names none. */
export const OVS_VIF_SCRIPT = 'vif-openvswitch';

export const VIF_KEYS = ['mac', 'bridge', 'script', 'ip', 'vifname', 'model', 'type', 'rate'] as const;
export type VifKey = (typeof VIF_KEYS)[number];

/** A key=value of a vif entry as read, with the name to report it by (e.g. "line 7: vif[1].mac"). */
export interface VifPair {
  key: string;
  value: string;
  field: string;
}

/** A key/value of a vif to write, with the XML location it came from (for errors). */
export interface VifOut {
  key: VifKey;
  value: string;
  at?: string;
}

/** Where an interface feature came from in the XML, for an error about it. */
function where(n: XenInterface, key: 'vlan' | 'virtualport' | 'bridge' | 'vifname'): string {
  const base = n.at.interface ?? '/domain/devices/interface';
  return n.at[key] ?? (key === 'bridge' ? `${base}/source/@bridge` : key === 'vifname' ? `${base}/target/@dev` : `${base}/${key}`);
}

/** Refuses what a format's vif cannot say about the bridge: VLANs and Open vSwitch outside xl, a '.' that xl would read as a tag. */
function checkBridge(n: XenInterface, format: XenFormat): void {
  if (format !== 'xen-xl') {
    const why = `a ${format} vif has no VLAN or Open vSwitch syntax (xl's bridge=BR.TAG and BR:T1:T2); convert to xen-xl, or remove it`;
    if (n.vlan) throw unsupportedAt(where(n, 'vlan'), 'vlan', why);
    if (n.openvswitch) throw unsupportedAt(where(n, 'virtualport'), 'virtualport', why);
  } else if (n.vlan && !n.openvswitch) {
    throw unsupportedAt(where(n, 'vlan'), 'vlan', "an xl vif carries a VLAN for Open vSwitch only (bridge=BR.TAG, BR:T1:T2); add <virtualport type='openvswitch'/>");
  }
  if (format !== 'xen-sxpr' && n.bridge !== undefined && n.bridge.includes('.'))
    throw unsupportedAt(where(n, 'bridge'), n.bridge, `a '.' in a ${format} bridge= is read back as an Open vSwitch VLAN tag (libvirt, xl); a bridge so named cannot be written`);
}

/** bridge= with xl's VLAN suffix: .TAG for one tag, :T1:T2 for a trunk. */
function bridgeValue(n: XenInterface): string {
  const br = n.bridge as string;
  if (!n.vlan) return br;
  return n.vlan.trunk ? `${br}:${n.vlan.tags.join(':')}` : `${br}.${n.vlan.tags[0]}`;
}

/**
 * The pairs of a vif in libvirt's order. xm/xl write bridge, ip, script and
 * rate last; s-expressions write rate after mac, then bridge, script, ip. A
 * bridge always gets a script (vif-bridge, or vif-openvswitch for an Open
 * vSwitch port), as libvirt writes it. What the format cannot hold is
 * refused (NOT_SUPPORTED), naming the XML field.
 */
export function vifPairs(n: XenInterface, format: XenFormat, hvm: boolean, xendConfigVersion: number): VifOut[] {
  checkBridge(n, format);
  const out: VifOut[] = [];
  if (n.mac) out.push({ key: 'mac', value: n.mac });
  const rate: VifOut[] = n.rateKiB === undefined ? [] : [{ key: 'rate', value: rateToVif(n.rateKiB), at: n.at.rate }];
  if (format === 'xen-sxpr') out.push(...rate);
  const ip: VifOut[] = n.ips.length ? [{ key: 'ip', value: n.ips.join(' ') }] : [];
  if (n.type === 'bridge') {
    out.push({ key: 'bridge', value: bridgeValue(n), at: n.at.bridge });
    const script: VifOut = { key: 'script', value: n.script ?? (n.openvswitch ? OVS_VIF_SCRIPT : DEFAULT_VIF_SCRIPT), at: n.at.script };
    out.push(...(format === 'xen-sxpr' ? [script, ...ip] : [...ip, script]));
  } else {
    if (n.script !== undefined) out.push({ key: 'script', value: n.script, at: n.at.script });
    out.push(...ip);
  }
  const tm = vifTypeModel(format, hvm, n.model, xendConfigVersion);
  if (format === 'xen-sxpr') {
    // libvirt leaves a vifN.M name out: xend names vifs vifDOMID.N itself,
    // whatever the name says. netfd refuses rather than drop it.
    if (n.vifname !== undefined && n.vifname.startsWith('vif'))
      throw unsupportedAt(
        where(n, 'vifname'),
        n.vifname,
        `xend names a vif vifDOMID.N itself and libvirt leaves a name starting with "vif" out of the s-expression; remove <target> or choose another name`,
      );
    if (n.vifname !== undefined) out.push({ key: 'vifname', value: n.vifname, at: n.at.vifname });
    if (tm.model !== undefined) out.push({ key: 'model', value: tm.model, at: n.at.model });
    if (tm.type !== undefined) out.push({ key: 'type', value: tm.type, at: n.at.model });
  } else {
    if (tm.model !== undefined) out.push({ key: 'model', value: tm.model, at: n.at.model });
    if (tm.type !== undefined) out.push({ key: 'type', value: tm.type, at: n.at.model });
    if (n.vifname !== undefined) out.push({ key: 'vifname', value: n.vifname, at: n.at.vifname });
    out.push(...rate);
  }
  return out;
}

const TAG_RE = /^\d+$/;

/** Reads xl's bridge=BR, BR.TAG or BR:T1:T2 as libvirt does (xenParseVifBridge). */
function bridgeFromVif(p: VifPair, format: XenFormat, n: XenInterface): void {
  const v = p.value;
  const dot = v.indexOf('.');
  const colon = v.indexOf(':');
  if (format !== 'xen-xl' || (dot < 0 && colon < 0)) {
    if (format === 'xen-xm' && (dot >= 0 || colon >= 0))
      throw unsupportedAt(
        p.field,
        v,
        "bridge=BR.TAG and BR:T1:T2 are xl's Open vSwitch VLAN syntax, which libvirt reads from xm too but xend does not know (a '.' is part of a bridge name there); netfd converts it for xen-xl only",
      );
    n.bridge = validated(p.field, v, checks.ifname);
    return;
  }
  const tag = (t: string) => {
    if (!TAG_RE.test(t) || Number(t) > 4095) throw invalidAt(p.field, v, `invalid VLAN tag ${JSON.stringify(t)} in bridge=${v}: a tag is an integer from 0 to 4095 (BR.TAG, or BR:T1:T2 for a trunk)`);
    return Number(t);
  };
  if (dot >= 0) {
    // libvirt looks for '.' first and reads all after it as one tag
    if (colon > dot) throw unsupportedAt(p.field, v, `bridge=${v} gives a VLAN and trunks at once (BR.TAG:T1:T2): libvirt's <vlan> cannot hold that combination; use BR.TAG or BR:T1:T2`);
    n.bridge = validated(p.field, v.slice(0, dot), checks.ifname);
    n.vlan = { tags: [tag(v.slice(dot + 1))], trunk: false };
  } else {
    const [br, ...tags] = v.split(':');
    n.bridge = validated(p.field, br, checks.ifname);
    n.vlan = { tags: tags.map(tag), trunk: true };
  }
  n.openvswitch = true;
}

/**
 * Builds an interface from the pairs of one vif. Unknown keys are refused
 * (NOT_SUPPORTED), so that nothing about an interface is dropped on the way
 * to XML.
 */
export function nicFromPairs(pairs: VifPair[], format: XenFormat): XenInterface {
  const got = new Map<VifKey, VifPair>();
  for (const p of pairs) {
    if (!(VIF_KEYS as readonly string[]).includes(p.key))
      throw unsupportedAt(p.field, p.value, `unknown vif key ${JSON.stringify(p.key)}: netfd converts ${VIF_KEYS.join(', ')} and will not drop the rest; remove it to convert`);
    const key = p.key as VifKey;
    const first = got.get(key);
    if (first) throw invalidAt(p.field, p.value, `${key} is given twice in one vif (first ${JSON.stringify(first.value)})`);
    if (p.value === '') throw invalidAt(p.field, p.value, `${key} is empty`);
    got.set(key, p);
  }
  const take = <T>(key: VifKey, fn: (x: string) => T): T | undefined => {
    const p = got.get(key);
    return p === undefined ? undefined : validated(p.field, p.value, fn);
  };
  const bridge = got.get('bridge');
  const n: XenInterface = { type: bridge === undefined ? 'ethernet' : 'bridge', ips: [], at: {} };
  const mac = take('mac', checks.mac);
  if (mac !== undefined) n.mac = mac;
  if (bridge !== undefined) bridgeFromVif(bridge, format, n);
  const script = take('script', checks.script);
  if (script !== undefined) n.script = script;
  const ip = got.get('ip');
  if (ip)
    n.ips = ip.value
      .split(/\s+/)
      .filter(Boolean)
      .map((x) => validated(ip.field, x, checks.ip));
  const vifname = take('vifname', checks.ifname);
  if (vifname !== undefined) n.vifname = vifname;
  const model = take('model', checks.model);
  const type = got.get('type');
  const m = modelFromVif(format, type?.value, model);
  // every problem is about type= (an unknown spelling, or one that contradicts model=)
  if ('problem' in m) throw invalidAt((type as VifPair).field, (type as VifPair).value, m.problem);
  if (m.model !== undefined) n.model = m.model;
  const rate = got.get('rate');
  if (rate) n.rateKiB = rateFromVif(rate.value, rate.field);
  return n;
}

/** Refuses a value that the target syntax cannot hold, naming where it came from. */
export function cannotHold(o: VifOut | { at?: string; value: string }, fallback: string, why: string): NetfdError {
  return unsupportedAt(o.at ?? fallback, o.value, why);
}
