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
  /**
   * Set on the new tap in the same native call (one trip to a worker thread
   * where setRootQdisc and setLink after it would be two more): the root
   * qdisc `qdisc` while the tap is still down, so the kernel never attaches
   * its default one at up (a failure is in `Tap.qdiscError`, not thrown),
   * then the link changes in one RTM_SETLINK (`ip link set dev TAP [address
   * MAC] [mtu N] [master BR] [group G] [up]`). When those fail the tap is
   * gone (deleted, when persistent) and the call throws their error.
   */
  setup?: TapSetup | undefined;
}

/** What Tap.create sets on the new tap (TapOptions.setup). */
export interface TapSetup {
  qdisc?: 'noqueue' | undefined;
  up?: boolean | undefined;
  mac?: string | undefined;
  mtu?: number | undefined;
  master?: string | number | undefined;
  group?: number | undefined;
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
  /** Why `setup.qdisc` was not set (the kernel's words); undefined when it was, or not asked. */
  readonly qdiscError: string | undefined;

  private constructor(name: string, ifindex: number, fds: number[], netns: string | undefined, persist: boolean, qdiscError?: string) {
    super(fds);
    this.name = name;
    this.ifindex = ifindex;
    this.netns = netns;
    this.persist = persist;
    this.qdiscError = qdiscError;
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
    if (o.setup) req.setup = tapSetup(o.setup);
    let r;
    try {
      r = await native().createTap(req);
    } catch (err) {
      // IFF_TUN_EXCL reports an existing device as EBUSY (TUNSETIFF's, not the setup's).
      const e = err as { code?: string; syscall?: string };
      if (req.exclusive && e.code === 'EBUSY' && e.syscall === 'ioctl' && !name.includes('%'))
        throw new NetfdError(`a link named ${name} already exists`, { code: 'EEXIST', errno: -17, syscall: 'ioctl', cause: err });
      throw fromNative(err);
    }
    return new Tap(r.name, r.ifindex, r.fds, netns, req.persist ?? false, r.qdiscError);
  }

  /** Closes the fds and deletes the device (needed when persistent). */
  async destroy(): Promise<void> {
    this.close();
    if (this.persist) await deleteLink(this.ifindex, { netns: this.netns });
  }
}

/** TapOptions.setup, checked as setLink and setRootQdisc check theirs. */
function tapSetup(s: TapSetup): NonNullable<Parameters<ReturnType<typeof native>['createTap']>[0]['setup']> {
  const out: ReturnType<typeof tapSetup> = {};
  if (s.qdisc !== undefined) {
    if (s.qdisc !== 'noqueue') throw new NetfdError(`setup.qdisc must be 'noqueue', not ${JSON.stringify(s.qdisc)}`, { code: 'INVALID_ARGUMENT', field: 'setup.qdisc', value: s.qdisc });
    out.qdisc = s.qdisc;
  }
  if (s.up !== undefined) out.up = s.up;
  if (s.mac !== undefined) out.mac = v.mac(s.mac, 'setup.mac');
  if (s.mtu !== undefined) out.mtu = v.mtu(s.mtu, 'setup.mtu');
  if (s.master !== undefined) out.master = v.linkRef(s.master, 'setup.master');
  if (s.group !== undefined) out.group = v.linkGroup(s.group, 'setup.group');
  return out;
}

/** TUNGETFEATURES of the tun driver, as flag names. */
export async function tunFeatures(t: Target & { device?: string | undefined } = {}): Promise<{ flags: number; multiQueue: boolean; vnetHdr: boolean }> {
  const c = native().constants.tunFeatures;
  const flags = await call(native().tunFeatures({ netns: netnsOf(t), device: t.device === undefined ? undefined : v.devicePath(t.device, 'device') }));
  return { flags, multiQueue: (flags & c.IFF_MULTI_QUEUE) !== 0, vnetHdr: (flags & c.IFF_VNET_HDR) !== 0 };
}
