// Taps through /dev/net/tun.
import { call, fromNative, NetfdError } from '../errors';
import { OwnsFds } from './fds';
import { deleteLink, netnsOf, Target } from './link';
import { native } from './native';
import * as v from '../validate';

/** A tap to create (`ip tuntap add mode tap …`) and open. */
export interface TapOptions extends Target {
  /** Exact name, e.g. 'vnet7'. */
  name?: string | undefined;
  /** Name template with one %d, e.g. 'vnet%d' (the default when no name is given). */
  template?: string | undefined;
  /** IFF_VNET_HDR + TUNSETVNETHDRSZ(12); default true. */
  vnetHdr?: boolean | undefined;
  /** N queues give N fds (IFF_MULTI_QUEUE when N > 1); default 1. */
  queues?: number | undefined;
  /** IFF_MULTI_QUEUE; default queues > 1. An existing device's flag must match. */
  multiQueue?: boolean | undefined;
  /**
   * Only create, never attach to an existing device of that name
   * (IFF_TUN_EXCL); an existing name gives EEXIST. Default false.
   */
  exclusive?: boolean | undefined;
  /** Keep the device after the fds are closed (TUNSETPERSIST). */
  persist?: boolean | undefined;
  owner?: number | undefined;
  group?: number | undefined;
  /** The tun device; default /dev/net/tun. */
  device?: string | undefined;
}

/**
 * A tap and its queue fds. `close()` closes the fds; a non-persistent tap
 * disappears with its last fd, a persistent one needs `destroy()`.
 * Equivalent to `ip tuntap add mode tap name NAME [multi_queue] [vnet_hdr]`.
 */
export class Tap extends OwnsFds {
  readonly name: string;
  readonly ifindex: number;
  readonly netns: string | undefined;
  readonly persist: boolean;

  private constructor(name: string, ifindex: number, fds: number[], netns: string | undefined, persist: boolean) {
    super(fds);
    this.name = name;
    this.ifindex = ifindex;
    this.netns = netns;
    this.persist = persist;
  }

  /**
   * Creates a tap and opens its queues (TUNSETIFF), equivalent to `ip tuntap add mode tap name N
   * [multi_queue] vnet_hdr` plus opening it; the fds are owned by the returned Tap.
   */
  static async create(o: TapOptions = {}): Promise<Tap> {
    if (o.name !== undefined && o.template !== undefined) throw new NetfdError('give either name or template, not both', { code: 'INVALID_ARGUMENT', field: 'name', value: o.name });
    const name = o.name !== undefined ? v.ifname(o.name, 'name') : v.ifname(o.template ?? 'vnet%d', 'template', { template: true });
    const queues = v.queues(o.queues ?? 1);
    const netns = netnsOf(o);
    const multiQueue = o.multiQueue ?? queues > 1;
    if (queues > 1 && !multiQueue) throw new NetfdError(`${queues} queues need multiQueue`, { code: 'INVALID_ARGUMENT', field: 'multiQueue', value: false });
    const req: Parameters<ReturnType<typeof native>['createTap']>[0] = { netns, name, queues, multiQueue, exclusive: o.exclusive ?? false, vnetHdr: o.vnetHdr ?? true, persist: o.persist ?? false };
    if (o.owner !== undefined) req.owner = v.id(o.owner, 'owner');
    if (o.group !== undefined) req.group = v.id(o.group, 'group');
    if (o.device !== undefined) req.device = v.devicePath(o.device, 'device');
    let r;
    try {
      r = await native().createTap(req);
    } catch (err) {
      // IFF_TUN_EXCL reports an existing device as EBUSY.
      if (req.exclusive && (err as { code?: string }).code === 'EBUSY' && !name.includes('%'))
        throw new NetfdError(`a link named ${name} already exists`, { code: 'EEXIST', errno: -17, syscall: 'ioctl', cause: err });
      throw fromNative(err);
    }
    return new Tap(r.name, r.ifindex, r.fds, netns, req.persist ?? false);
  }

  /** Closes the fds and deletes the device (needed when persistent). */
  async destroy(): Promise<void> {
    this.close();
    if (this.persist) await deleteLink(this.ifindex, { netns: this.netns });
  }
}

/** TUNGETFEATURES of the tun driver, as flag names. */
export async function tunFeatures(t: Target & { device?: string | undefined } = {}): Promise<{ flags: number; multiQueue: boolean; vnetHdr: boolean }> {
  const c = native().constants.tunFeatures;
  const flags = await call(native().tunFeatures({ netns: netnsOf(t), device: t.device === undefined ? undefined : v.devicePath(t.device, 'device') }));
  return { flags, multiQueue: (flags & c.IFF_MULTI_QUEUE) !== 0, vnetHdr: (flags & c.IFF_VNET_HDR) !== 0 };
}
