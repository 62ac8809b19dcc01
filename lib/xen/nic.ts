// One vif, as key/value pairs, to and from an XenInterface: shared by the
// xm/xl writer and parser (mac=..,bridge=..) and the s-expression ones
// ((mac '..')(bridge '..')). Pure.
import { NetfdError } from '../errors';
import { checks, invalidAt, unsupportedAt, validated, XenInterface } from './model';
import { modelFromVif, vifTypeModel, XenFormat } from './vif';

/** libvirt's DEFAULT_VIF_SCRIPT (vif-vnic on Solaris). */
export const DEFAULT_VIF_SCRIPT = 'vif-bridge';

export const VIF_KEYS = ['mac', 'bridge', 'script', 'ip', 'vifname', 'model', 'type'] as const;
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

/**
 * The pairs of a vif in libvirt's order. xm/xl write bridge, ip, script;
 * s-expressions write bridge, script, ip. A bridge always gets a script
 * (vif-bridge by default), as libvirt writes it.
 */
export function vifPairs(n: XenInterface, format: XenFormat, hvm: boolean, xendConfigVersion: number): VifOut[] {
  const out: VifOut[] = [];
  if (n.mac) out.push({ key: 'mac', value: n.mac });
  const ip: VifOut[] = n.ips.length ? [{ key: 'ip', value: n.ips.join(' ') }] : [];
  if (n.type === 'bridge') {
    out.push({ key: 'bridge', value: n.bridge as string, at: n.at.bridge });
    const script: VifOut = { key: 'script', value: n.script ?? DEFAULT_VIF_SCRIPT, at: n.at.script };
    out.push(...(format === 'xen-sxpr' ? [script, ...ip] : [...ip, script]));
  } else {
    if (n.script !== undefined) out.push({ key: 'script', value: n.script, at: n.at.script });
    out.push(...ip);
  }
  const tm = vifTypeModel(format, hvm, n.model, xendConfigVersion);
  if (format === 'xen-sxpr') {
    // libvirt: xend names vifs vifDOMID.N itself; such a name is not written
    if (n.vifname !== undefined && !n.vifname.startsWith('vif')) out.push({ key: 'vifname', value: n.vifname, at: n.at.vifname });
    if (tm.model !== undefined) out.push({ key: 'model', value: tm.model, at: n.at.model });
    if (tm.type !== undefined) out.push({ key: 'type', value: tm.type, at: n.at.model });
  } else {
    if (tm.model !== undefined) out.push({ key: 'model', value: tm.model, at: n.at.model });
    if (tm.type !== undefined) out.push({ key: 'type', value: tm.type, at: n.at.model });
    if (n.vifname !== undefined) out.push({ key: 'vifname', value: n.vifname, at: n.at.vifname });
  }
  return out;
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
  const bridge = take('bridge', checks.ifname);
  const n: XenInterface = { type: bridge === undefined ? 'ethernet' : 'bridge', ips: [], at: {} };
  const mac = take('mac', checks.mac);
  if (mac !== undefined) n.mac = mac;
  if (bridge !== undefined) n.bridge = bridge;
  const script = take('script', checks.script);
  if (script !== undefined) n.script = script;
  const ip = got.get('ip');
  if (ip) n.ips = ip.value.split(/\s+/).filter(Boolean).map((x) => validated(ip.field, x, checks.ip));
  const vifname = take('vifname', checks.ifname);
  if (vifname !== undefined) n.vifname = vifname;
  const model = take('model', checks.model);
  const type = got.get('type');
  const m = modelFromVif(format, type?.value, model);
  // every problem is about type= (an unknown spelling, or one that contradicts model=)
  if ('problem' in m) throw invalidAt((type as VifPair).field, (type as VifPair).value, m.problem);
  if (m.model !== undefined) n.model = m.model;
  return n;
}

/** Refuses a value that the target syntax cannot hold, naming where it came from. */
export function cannotHold(o: VifOut | { at?: string; value: string }, fallback: string, why: string): NetfdError {
  return unsupportedAt(o.at ?? fallback, o.value, why);
}
