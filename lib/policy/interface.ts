// The driver policy and the per-interface decisions, as pure functions:
// a definition in, a plan out; a vhost probe result in, a decision out.
// Every rule lives here once (see ARCHITECTURE.md, "The driver policy").
import { NetfdError, NetfdErrorCode } from '../errors';
import type { MacvlanMode } from '../validate';
import type { DomainDef } from '../xml/domain';
import type { ActualDirect, DriverDef, GuestOffload, HostOffload, InterfaceDef, IpDef, RateDef, RouteDef, VlanDef } from '../xml/interface';
import { freshMac, tapHostMac } from './mac';

/** libvirt's default NIC model for x86 guests when <model> is absent. */
export const DEFAULT_MODEL = 'rtl8139';
/** The name template of taps netfd creates (libvirt's). */
export const TAP_TEMPLATE = 'vnet%d';
/** The name template of macvtaps netfd creates (libvirt's). */
export const MACVTAP_TEMPLATE = 'macvtap%d';

const VIRTIO_DEVICES: Record<string, string> = {
  virtio: 'virtio-net-pci',
  'virtio-transitional': 'virtio-net-pci-transitional',
  'virtio-non-transitional': 'virtio-net-pci-non-transitional',
};
/** Models whose qemu device understands the virtio-net header on the tap. */
const VNET_HDR_MODELS = new Set([...Object.keys(VIRTIO_DEVICES), 'e1000e', 'igb', 'vmxnet3']);
const DIRECT_MODES: Record<string, MacvlanMode> = { vepa: 'vepa', bridge: 'bridge', private: 'private', passthrough: 'passthru' };

/** True for a virtio NIC model (`virtio`, `virtio-net-pci`, …). */
export const isVirtio = (model: string): boolean => model in VIRTIO_DEVICES;
/** True for models whose qemu device uses the vnet header (virtio, e1000e, igb, vmxnet3). */
export const usesVnetHdr = (model: string): boolean => VNET_HDR_MODELS.has(model);
/** The qemu -device name for a libvirt model (other names pass through). */
export const qemuDevice = (model: string): string => VIRTIO_DEVICES[model] ?? model;

/** What the host side of an interface is. */
export type LinkPlan =
  | { kind: 'tap'; name: string; bridge?: string; hostMac: string; tunDevice?: string }
  | { kind: 'macvtap'; name: string; parent: string; mode: MacvlanMode }
  | { kind: 'existing'; name: string; tunDevice?: string };

/** vhost wanted: 'require' (name='vhost'), 'auto' (omitted, virtio), 'off'. */
export type VhostWish = 'require' | 'auto' | 'off';

/** What to make for one `<interface>`, decided before any host change. */
export interface InterfacePlan {
  index: number;
  path: string;
  model: string;
  device: string;
  virtio: boolean;
  vnetHdr: boolean;
  /** Queues actually used: 1 for non-virtio models. */
  queues: number;
  /** mq=on,vectors=2N+2 when queues > 1. */
  vectors: number | null;
  vhost: VhostWish;
  /** An explicit vhost device (<backend vhost=>), else the global default. */
  vhostDevice?: string;
  mac: string;
  macGenerated: boolean;
  link: LinkPlan;
  /** type='network': the network and the pool device it gave. */
  network?: { name: string } & ActualDirect;
  netdevId: string;
  deviceId: string;
  /** Device properties in qemu's spelling: virtio options, boot index, option ROM. */
  deviceProps: [string, string][];
  /** The tap's send buffer (-netdev sndbuf=), from <tune><sndbuf>. */
  sndbuf?: number;
  /** What netdev sets on the host device after making it (libvirt's order: MTU, bridge, port flags, VLANs, coalescing, addresses, script). */
  host: HostConfig;
}

/** Host-side settings of an interface's device, beyond making it. */
export interface HostConfig {
  /** <mtu size>; unset on a tap in a bridge: the bridge's MTU, as libvirt does. */
  mtu?: number;
  /** <port isolated='yes'>: the bridge port flag. */
  isolated?: boolean;
  /** <vlan>: the port's VLAN entries on a VLAN-filtering bridge. */
  vlan?: VlanDef;
  /** <coalesce>: rx-frames on the tap. */
  coalesce?: { rxMaxFrames: number };
  /** type='ethernet' <source><ip>/<route>. */
  ip?: { addresses: IpDef[]; routes: RouteDef[] };
  /** <script path>, <downscript path>. */
  script?: string;
  downscript?: string;
  /** <bandwidth>, by the side of the host device that limits it; unset: noqueue root qdisc instead. */
  bandwidth?: BandwidthPlan;
}

/**
 * Where libvirt's virNetDevBandwidthSet puts each direction of <bandwidth>.
 * `from` is the XML element it came from. On a tap (libvirt's swapped case)
 * the guest receives what the tap transmits: <inbound> is shaped on the tap's
 * egress, <outbound> policed on its ingress. A macvtap shares the guest's
 * view: <outbound> is shaped on its egress, <inbound> policed on its ingress.
 */
export interface BandwidthPlan {
  /** htb root qdisc 1:, class 1:1 (rate, ceil=peak, burst, quantum), sfq 2:, fw filter. */
  egress?: RateDef & { from: 'inbound' | 'outbound' };
  /** ingress qdisc, u32 filter matching everything with police rate/burst/mtu 64kb/drop (peak refused by the parser). */
  ingress?: Omit<RateDef, 'peak'> & { from: 'inbound' | 'outbound' };
}

/** libvirt's <driver> offload attributes and the virtio-net-pci property each sets (qemu's names). */
const HOST_OFFLOAD_PROPS: Record<HostOffload, string> = { csum: 'csum', gso: 'gso', tso4: 'host_tso4', tso6: 'host_tso6', ecn: 'host_ecn', ufo: 'host_ufo', mrg_rxbuf: 'mrg_rxbuf' };
const GUEST_OFFLOAD_PROPS: Record<GuestOffload, string> = { csum: 'guest_csum', tso4: 'guest_tso4', tso6: 'guest_tso6', ecn: 'guest_ecn', ufo: 'guest_ufo' };
/** Other virtio <driver> options: DriverDef key, libvirt attribute, qemu property. */
const VIRTIO_OPTIONS: [keyof DriverDef, string, string][] = [
  ['rss', 'rss', 'rss'],
  ['rssHashReport', 'rss_hash_report', 'hash'],
  ['iommu', 'iommu', 'iommu_platform'],
  ['ats', 'ats', 'ats'],
  ['packed', 'packed', 'packed'],
  ['pagePerVq', 'page_per_vq', 'page-per-vq'],
];

function refuse(field: string, value: unknown, message: string, code: NetfdErrorCode = 'INVALID_ARGUMENT'): NetfdError {
  return new NetfdError(`${field}: ${message}`, { code, field, value });
}

/**
 * The plan for one interface with its (given or generated) guest MAC. A
 * type='network' interface needs `actual`, the pool device its network gave
 * (lib/network allocates it); it then runs as type='direct' on that device.
 * `kvm`: whether the guest runs on KVM. Without it (<domain type='qemu'>,
 * TCG) vhost-net is never opened, as libvirt does: it needs KVM's ioeventfd
 * and irqfd; an omitted driver name is userspace, name='vhost' is refused.
 */
export function planInterface(i: InterfaceDef, mac: string, macGenerated = false, actual: ActualDirect | undefined = i.actual, kvm = true, rootBus = 'pci.0'): InterfacePlan {
  const model = i.model ?? DEFAULT_MODEL;
  const virtio = isVirtio(model);
  const d = i.driver ?? {};
  if (i.type === 'network' && !actual) throw new Error(`planInterface: ${i.path} (network '${i.source.network}') has no device allocated from its network`);
  if (!virtio) {
    if (d.name === 'vhost') throw refuse(`${i.path}/driver/@name`, 'vhost', `<driver name='vhost'> needs a virtio model, not '${model}': use <model type='virtio'/> or drop the driver name`);
    const virtioOnly: [keyof typeof d, string][] = [
      ['txmode', 'txmode'],
      ['ioeventfd', 'ioeventfd'],
      ['eventIdx', 'event_idx'],
      ['rxQueueSize', 'rx_queue_size'],
      ['txQueueSize', 'tx_queue_size'],
      ...VIRTIO_OPTIONS.map(([k, a]) => [k, a] as [keyof DriverDef, string]),
    ];
    for (const [k, attrName] of virtioOnly) if (d[k] !== undefined) throw refuse(`${i.path}/driver/@${attrName}`, d[k], `${attrName} is only for virtio models, not '${model}'`);
    for (const side of ['host', 'guest'] as const) if (d[side] !== undefined) throw refuse(`${i.path}/driver/${side}`, side, `offloads (<${side}>) are only for virtio models, not '${model}'`);
  }
  const queues = virtio ? (d.queues ?? 1) : 1;
  if (virtio && d.name === 'vhost' && !kvm)
    throw refuse(
      `${i.path}/driver/@name`,
      'vhost',
      "<driver name='vhost'> but this guest runs without KVM (<domain type='qemu'>, or launch --accel tcg), and vhost-net needs KVM's ioeventfd and irqfd; refusing to start. Use <driver name='qemu'/> or omit the name (userspace virtio), or run the guest on KVM",
      'VHOST_UNAVAILABLE',
    );
  const vhost: VhostWish = !virtio || d.name === 'qemu' || !kvm ? 'off' : d.name === 'vhost' ? 'require' : 'auto';

  let link: LinkPlan;
  if (i.type === 'network') {
    const a = actual as ActualDirect;
    link = { kind: 'macvtap', name: i.target?.dev ?? MACVTAP_TEMPLATE, parent: a.dev, mode: DIRECT_MODES[a.mode] };
  } else if (i.type === 'direct') {
    link = { kind: 'macvtap', name: i.target?.dev ?? MACVTAP_TEMPLATE, parent: i.source.dev as string, mode: DIRECT_MODES[i.source.mode ?? 'vepa'] };
  } else if (i.target && !i.target.managed) {
    link = { kind: 'existing', name: i.target.dev as string };
    if (i.backend.tap) link.tunDevice = i.backend.tap;
  } else {
    link = { kind: 'tap', name: i.target?.dev ?? TAP_TEMPLATE, hostMac: tapHostMac(mac) };
    if (i.type === 'bridge') link.bridge = i.source.bridge;
    if (i.backend.tap) link.tunDevice = i.backend.tap;
  }

  const deviceProps: [string, string][] = [];
  if (d.rxQueueSize !== undefined) deviceProps.push(['rx_queue_size', String(d.rxQueueSize)]);
  if (d.txQueueSize !== undefined) deviceProps.push(['tx_queue_size', String(d.txQueueSize)]);
  if (d.txmode !== undefined) deviceProps.push(['tx', d.txmode === 'iothread' ? 'bh' : 'timer']);
  if (d.ioeventfd !== undefined) deviceProps.push(['ioeventfd', d.ioeventfd ? 'on' : 'off']);
  if (d.eventIdx !== undefined) deviceProps.push(['event_idx', d.eventIdx ? 'on' : 'off']);
  const onoff = (x: boolean) => (x ? 'on' : 'off');
  for (const [k, , prop] of VIRTIO_OPTIONS) if (d[k] !== undefined) deviceProps.push([prop, onoff(d[k] as boolean)]);
  for (const [k, x] of Object.entries(d.host ?? {})) deviceProps.push([HOST_OFFLOAD_PROPS[k as HostOffload], onoff(x as boolean)]);
  for (const [k, x] of Object.entries(d.guest ?? {})) deviceProps.push([GUEST_OFFLOAD_PROPS[k as GuestOffload], onoff(x as boolean)]);
  if (i.mtu !== undefined) {
    // libvirt tells virtio guests the MTU (host_mtu) and refuses it for other models.
    if (!virtio) throw refuse(`${i.path}/mtu/@size`, i.mtu, `<mtu> is only for virtio models, not '${model}' (qemu tells only virtio-net guests the MTU)`, 'NOT_SUPPORTED');
    deviceProps.push(['host_mtu', String(i.mtu)]);
  }
  // Any NIC: where it sits, its place in the boot order and its option ROM, as libvirt does.
  if (i.pci) {
    // Bus 0 is the machine's root bus; others are controllers named pci.N, as libvirt names them.
    deviceProps.push(['bus', i.pci.bus === 0 ? rootBus : `pci.${i.pci.bus}`], ['addr', `0x${i.pci.slot.toString(16)}${i.pci.function ? `.0x${i.pci.function.toString(16)}` : ''}`]);
    if (i.pci.multifunction !== undefined) deviceProps.push(['multifunction', i.pci.multifunction ? 'on' : 'off']);
  }
  if (i.bootOrder !== undefined) deviceProps.push(['bootindex', String(i.bootOrder)]);
  if (i.rom?.bar !== undefined) deviceProps.push(['rombar', i.rom.bar ? '1' : '0']);
  if (i.rom?.enabled === false) deviceProps.push(['romfile', '']);
  else if (i.rom?.file !== undefined) deviceProps.push(['romfile', i.rom.file]);

  const plan: InterfacePlan = {
    index: i.index,
    path: i.path,
    model,
    device: qemuDevice(model),
    virtio,
    vnetHdr: usesVnetHdr(model),
    queues,
    vectors: queues > 1 ? 2 * queues + 2 : null,
    vhost,
    mac,
    macGenerated,
    link,
    netdevId: i.alias ? `host${i.alias}` : `hostnet${i.index}`,
    deviceId: i.alias ?? `net${i.index}`,
    deviceProps,
    host: hostConfig(i, link),
  };
  if (i.backend.vhost && vhost !== 'off') plan.vhostDevice = i.backend.vhost;
  if (i.sndbuf !== undefined) plan.sndbuf = i.sndbuf;
  if (i.type === 'network') plan.network = { name: i.source.network as string, ...(actual as ActualDirect) };
  return plan;
}

/** The host-side settings an interface asks for (its XML already refused what does not fit its type). */
function hostConfig(i: InterfaceDef, link: LinkPlan): HostConfig {
  const h: HostConfig = {};
  if (i.mtu !== undefined) h.mtu = i.mtu;
  if (i.isolated !== undefined) h.isolated = i.isolated;
  if (i.vlan) h.vlan = i.vlan;
  if (i.coalesce) h.coalesce = i.coalesce;
  if (i.hostIp) h.ip = i.hostIp;
  if (i.script) h.script = i.script;
  if (i.downscript) h.downscript = i.downscript;
  if (i.bandwidth) h.bandwidth = bandwidthPlan(i.bandwidth, link.kind === 'tap');
  return h;
}

/** libvirt's direction rule (virNetDevBandwidthSet's `swapped`: true for taps, false for macvtaps). */
export function bandwidthPlan(b: NonNullable<InterfaceDef['bandwidth']>, tap: boolean): BandwidthPlan {
  const [shaped, policed] = tap ? (['inbound', 'outbound'] as const) : (['outbound', 'inbound'] as const);
  const p: BandwidthPlan = {};
  const s = b[shaped];
  if (s) p.egress = { from: shaped, ...s };
  const r = b[policed];
  if (r) p.ingress = { from: policed, average: r.average, ...(r.burst !== undefined ? { burst: r.burst } : {}) };
  return p;
}

/** A guest MAC and whether netfd generated it. */
export interface GuestMac {
  mac: string;
  generated: boolean;
}

/**
 * The guest MAC of every interface of a domain: interfaces without one get
 * a generated 52:54:00:xx:xx:xx, distinct from the others and from those
 * `taken` says are in use (the host's links, say); `random` supplies the
 * bytes (crypto.randomBytes in netdev, fixed in tests).
 */
export function domainMacs(def: DomainDef, random: (n: number) => Uint8Array, taken?: (mac: string) => boolean): GuestMac[] {
  const used = new Set(def.interfaces.map((i) => i.mac).filter((m): m is string => !!m));
  return def.interfaces.map((i) => {
    if (i.mac) return { mac: i.mac, generated: false };
    const mac = freshMac(random, (m) => used.has(m) || !!taken?.(m), 'domainMacs');
    used.add(mac);
    return { mac, generated: true };
  });
}

/**
 * Plans every interface of a domain with the MACs of `domainMacs` (or
 * those given); `actuals`
 * gives the allocated device of each type='network' interface (by position).
 */
export function planDomain(def: DomainDef, random: ((n: number) => Uint8Array) | readonly GuestMac[], actuals: readonly (ActualDirect | undefined)[] = [], accel?: Accel): InterfacePlan[] {
  const macs = typeof random === 'function' ? domainMacs(def, random) : random;
  const kvm = runsOnKvm(def, accel);
  return def.interfaces.map((i, n) => planInterface(i, macs[n].mac, macs[n].generated, actuals[n] ?? i.actual, kvm, rootBusOf(def)));
}

/** qemu's name for the root PCI bus of the domain's machine: pcie.0 on q35, pci.0 otherwise. */
export const rootBusOf = (def: Pick<DomainDef, 'os'>): string => (/q35/.test(def.os.machine ?? '') ? 'pcie.0' : 'pci.0');

/** An accelerator chosen at launch, over <domain type>. */
export type Accel = 'kvm' | 'tcg';

/** Whether the guest runs on KVM: the launch's accelerator, else <domain type='kvm'>. */
export const runsOnKvm = (def: Pick<DomainDef, 'type'>, accel?: Accel): boolean => (accel ?? (def.type === 'kvm' ? 'kvm' : 'tcg')) === 'kvm';

/** The outcome of opening the vhost device read-write. */
export type VhostProbe = { usable: true } | { usable: false; code: string; message: string };

/** The driver policy's answer for one interface: vhost or userspace virtio, and what the live XML records. */
export interface DriverDecision {
  /** vhost=on with vhost fds; otherwise vhost=off (always passed explicitly). */
  vhost: boolean;
  /** What the live XML records in <driver name>; null for non-virtio. */
  record: 'vhost' | 'qemu' | null;
}

/** The driver table. `probe` is needed whenever plan.vhost is not 'off'. */
export function decideDriver(plan: InterfacePlan, probe?: VhostProbe): DriverDecision {
  if (plan.vhost === 'off') return { vhost: false, record: plan.virtio ? 'qemu' : null };
  if (!probe) throw new Error(`decideDriver: ${plan.path} needs a vhost probe`);
  if (probe.usable) return { vhost: true, record: 'vhost' };
  if (plan.vhost === 'require')
    throw new NetfdError(
      `${plan.path}/driver/@name: <driver name='vhost'> but vhost-net is not usable here (${probe.code}: ${probe.message}); refusing to start. Use <driver name='qemu'/> or omit the name to fall back to userspace virtio`,
      {
        code: 'VHOST_UNAVAILABLE',
        field: `${plan.path}/driver/@name`,
        value: 'vhost',
      },
    );
  return { vhost: false, record: 'qemu' };
}
