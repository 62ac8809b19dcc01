/**
 * libvirt `<domain type='xen'>` XML to and from Xen's native formats (xm, xl,
 * xend s-expressions): a domain's basics and its vif lines, as
 * `virsh domxml-to-native` / `domxml-from-native` convert them.
 *
 * @module
 */
// libvirt <domain type='xen'> XML to and from Xen's native config formats,
// for a domain's basics (name, uuid, HVM or PV, memory, vCPUs maximum and
// online) and its interfaces (with rate=, and in xl Open vSwitch VLANs).
// Equivalent to `virsh domxml-to-native xen-xm dom.xml` and
// `virsh domxml-from-native xen-xl guest.cfg`. Pure: strings in, strings out.
//
//   xen-xm    xm's /etc/xen/GUEST config (Python-like key = value)
//   xen-xl    xl's config, same syntax (xl.cfg(5)); the PV-only vif type is
//             spelled type=vif instead of type=netfront, an emulated model is
//             model=X alone (libvirt's xl writer), and bridge= may carry an
//             Open vSwitch VLAN (BR.TAG, BR:T1:T2)
//   xen-sxpr  xend's s-expression, (vm (name 'guest')...(device (vif ...)))
//
// Only the subset travels: other domain elements (disks, graphics, ...) and
// other native keys are left out. Interfaces and vCPUs are converted whole or
// not at all: an interface feature no vif can hold, or a vif key netfd does
// not know, is refused (NOT_SUPPORTED, naming the XML path or the native
// `line N: vif[K].key`) rather than dropped.
import { NetfdError } from '../errors';
import { domainFromConf, domainToConf } from './conf';
import { readDomainXml, writeDomainXml, XenDomain } from './model';
import { domainFromSexpr, domainToSexpr } from './sexpr';
import { DEFAULT_XEND_CONFIG_VERSION, XEN_FORMATS, XenFormat } from './vif';

export { DEFAULT_XEND_CONFIG_VERSION, XEND_CONFIG_MAX_VERS_NET_TYPE_IOEMU, XEN_FORMATS, XenFormat, VifType, VifTypeModel, vifTypeModel, modelFromVif, pvOnlyType, NETFRONT } from './vif';
export { DEFAULT_VIF_SCRIPT } from './nic';
export { XenDomain, XenInterface } from './model';

/** Options of the Xen conversions. */
export interface XenOptions {
  /**
   * xend's config format version (xend_config_format): 1 = Xen 3.0.2,
   * 2 = 3.0.3, 3 = 3.0.4, 4 = 3.1.0 and later. Up to 3, an HVM interface
   * without a model gets type=ioemu in xm and sexpr (xl has no xend and
   * ignores it). Default DEFAULT_XEND_CONFIG_VERSION (4).
   */
  xendConfigVersion?: number | undefined;
}

function format(f: unknown): XenFormat {
  if (!(XEN_FORMATS as readonly unknown[]).includes(f))
    throw new NetfdError(`invalid format ${JSON.stringify(f)}: expected one of ${XEN_FORMATS.join(', ')}`, { code: 'INVALID_ARGUMENT', field: 'format', value: f });
  return f as XenFormat;
}

function version(o: XenOptions | undefined): number {
  const x = o?.xendConfigVersion ?? DEFAULT_XEND_CONFIG_VERSION;
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 1)
    throw new NetfdError(`invalid xendConfigVersion ${JSON.stringify(x)}: a positive integer (1 = Xen 3.0.2, 2 = 3.0.3, 3 = 3.0.4, 4 = 3.1.0 and later)`, {
      code: 'INVALID_ARGUMENT',
      field: 'xendConfigVersion',
      value: x,
    });
  return x;
}

function text(x: unknown, what: string): string {
  if (typeof x !== 'string') throw new NetfdError(`${what} must be a string`, { code: 'INVALID_ARGUMENT', field: what, value: x });
  return x;
}

/** The domain in one of the native formats, from its parsed subset. */
export function formatNative(d: XenDomain, f: XenFormat, o?: XenOptions): string {
  const v = version(o);
  return format(f) === 'xen-sxpr' ? domainToSexpr(d, v) : domainToConf(d, f as 'xen-xm' | 'xen-xl', v);
}

/** The subset of a native config, parsed. */
export function parseNative(t: string, f: XenFormat): XenDomain {
  return format(f) === 'xen-sxpr' ? domainFromSexpr(text(t, 'native config')) : domainFromConf(text(t, 'native config'), f as 'xen-xm' | 'xen-xl');
}

/**
 * Libvirt domain XML to a native config. Equivalent to
 * `virsh domxml-to-native xen-xm dom.xml`. Errors: INVALID_XML,
 * INVALID_ARGUMENT (a bad value, named by its XML path), NOT_SUPPORTED (an
 * interface feature the native formats cannot hold, e.g. type='direct').
 */
export function domainToNative(xml: string, f: XenFormat, o?: XenOptions): string {
  format(f);
  version(o);
  return formatNative(readDomainXml(text(xml, 'domain XML')), f, o);
}

/**
 * A native config to libvirt domain XML (<domain type='xen'>). Equivalent to
 * `virsh domxml-from-native xen-xl guest.cfg`. Errors name the line:
 * field 'line 7' for syntax, 'line 7: vif[1].mac' for a value (vif entries
 * count from 0, as Python does), with the offending text as the value.
 * `o.xendConfigVersion` is accepted for symmetry; reading does not depend on it.
 */
export function domainFromNative(t: string, f: XenFormat, o?: XenOptions): string {
  version(o);
  return writeDomainXml(parseNative(t, f));
}
