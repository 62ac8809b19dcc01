// How a libvirt <model type> becomes a Xen vif's type= and model= (and
// back), in one table. xm and xend follow the four scenarios of libvirt's
// "Support for interface model='netfront'" (Jiri Denemark); xl follows
// libvirt's xl writer (xenFormatNet with vif_typename "vif", and no xend
// config version: xl has no xend). Pure; the parsers and writers of the
// three formats all go through these two functions.
//
//   guest  <model type>   xm, sexpr: to native                 xl: to native   from native (all)
//   HVM    (none)         type=ioemu if xend <= 3, else        nothing         type=ioemu or nothing
//                         nothing
//   PV     any            model=X as is, no type               same            model=X kept
//   HVM    netfront       type=netfront, no model=             type=vif        type=netfront (xl: vif)
//                                                                              and no model=
//   HVM    other X        model=X and type=ioemu               model=X only    model=X (type=ioemu)
//
// In xl, type=ioemu is the default for HVM (an emulated NIC the guest may
// trade for the PV one), so model=X alone says the same; in xend 3.1 and
// later, type=ioemu hides the PV interface, which the seed's rule accepts
// for a guest that asked for an emulated model.

/** A Xen native format: xm config, xl config, or xend s-expression. */
export type XenFormat = 'xen-xm' | 'xen-xl' | 'xen-sxpr';
/** Every Xen native format. */
export const XEN_FORMATS: readonly XenFormat[] = ['xen-xm', 'xen-xl', 'xen-sxpr'];

/**
 * libvirt's XEND_CONFIG_MAX_VERS_NET_TYPE_IOEMU: up to this xend config
 * version (3 = Xen 3.0.4) an HVM guest's emulated NIC needs type=ioemu; newer
 * xend treats type=ioemu as "emulated only", which hides the PV interface.
 */
export const XEND_CONFIG_MAX_VERS_NET_TYPE_IOEMU = 3;

/**
 * The xend config version assumed when none is given: 4, libvirt's
 * XEND_CONFIG_VERSION_3_1_0, the "latest xend config format" its libxl driver
 * hard-codes for domxml-from-native xen-sxpr (its xm conversions pass Xen's
 * major version, 4 on Xen 4.x; xend 3.1 and later report 4). libvirt's enum:
 * 1 = Xen 3.0.2, 2 = 3.0.3, 3 = 3.0.4, 4 = 3.1.0. Its xm tests mostly run at
 * 2 (old xend), which is why their HVM goldens carry type=ioemu.
 */
export const DEFAULT_XEND_CONFIG_VERSION = 4;

/** The type= of a vif: ioemu (emulated, plus PV on old xend), or PV only. */
export type VifType = 'ioemu' | 'netfront' | 'vif';

/** What goes into a vif entry for a model: either may be absent. */
export interface VifTypeModel {
  type?: VifType;
  model?: string;
}

/** The model that asks for a PV-only interface on an HVM guest. */
export const NETFRONT = 'netfront';

/** The type= value meaning "paravirtual only" in each format (xl calls it vif). */
export function pvOnlyType(format: XenFormat): VifType {
  return format === 'xen-xl' ? 'vif' : 'netfront';
}

/** The type= values each format knows. */
export function vifTypes(format: XenFormat): readonly VifType[] {
  return ['ioemu', pvOnlyType(format)];
}

/**
 * The type= and model= for an interface whose XML <model type> is `model`
 * (undefined when the XML has none): the four scenarios for xm and sexpr,
 * libvirt's xl writer for xl (which ignores the xend config version).
 */
export function vifTypeModel(format: XenFormat, hvm: boolean, model: string | undefined, xendConfigVersion: number): VifTypeModel {
  if (!hvm) return model === undefined ? {} : { model }; // 2: PV, passed as is
  if (format === 'xen-xl') return model === undefined ? {} : model === NETFRONT ? { type: 'vif' } : { model }; // libvirt's xl writer
  if (model === undefined) return xendConfigVersion <= XEND_CONFIG_MAX_VERS_NET_TYPE_IOEMU ? { type: 'ioemu' } : {}; // 1
  if (model === NETFRONT) return { type: pvOnlyType(format) }; // 3
  return { model, type: 'ioemu' }; // 4
}

/**
 * The XML <model type> for a vif entry's type= and model= (either may be
 * undefined), or a sentence saying why the pair cannot be expressed. The
 * type is checked against the format's spelling (xm and sexpr say
 * netfront, xl says vif).
 */
export function modelFromVif(format: XenFormat, type: string | undefined, model: string | undefined): { model?: string } | { problem: string } {
  if (type !== undefined && !(vifTypes(format) as readonly string[]).includes(type)) return { problem: `type=${type} is not a ${format} vif type; expected ${vifTypes(format).join(' or ')}` };
  const pvOnly = type === pvOnlyType(format);
  if (pvOnly && model !== undefined) return { problem: `type=${type} (paravirtual only) contradicts model=${model} (an emulated NIC); keep one of them` };
  if (model !== undefined) return { model };
  // type=ioemu alone is scenario 1. type=netfront means nothing to Xen on a
  // PV guest, and libvirt reads it as model netfront there all the same.
  if (pvOnly) return { model: NETFRONT };
  return {};
}
