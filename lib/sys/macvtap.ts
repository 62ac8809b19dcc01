// macvtap links and their character devices.
import { call, NetfdError } from '../errors';
import { OwnsFds } from './fds';
import { deleteLink, LinkInfo, netnsOf, Target, toLinkInfo } from './link';
import { native } from './native';
import * as v from '../validate';

/** A macvtap (or macvlan) to create: `ip link add link LINK name N type macvtap mode M`. */
export interface MacvtapCreateOptions extends Target {
  /** The parent (lower) device, by name or ifindex. */
  link: string | number;
  /** vepa (libvirt's default), bridge, private, passthru / passthrough. */
  mode: string;
  /** Exact name; or use `template`. Default template: macvtap%d. */
  name?: string | undefined;
  template?: string | undefined;
  mac?: string | undefined;
  /** 'macvtap' (default) or 'macvlan'. */
  kind?: 'macvtap' | 'macvlan' | undefined;
  /** The link group it is created in (`group G`); default group 0. */
  group?: number | undefined;
  /**
   * Another network namespace to make it in (a name under /run/netns or a path), the parent staying
   * in `netns`: a macvtap in a container on a device of the host. Needs an exact `name`.
   */
  into?: string | undefined;
}

/**
 * Creates a macvtap (or macvlan).
 * Equivalent to `ip link add link LINK name NAME [address MAC] [group G] [netns INTO] type macvtap mode MODE`.
 */
export async function createMacvtap(o: MacvtapCreateOptions): Promise<LinkInfo> {
  if (o.name !== undefined && o.template !== undefined) throw new NetfdError('give either name or template, not both', { code: 'INVALID_ARGUMENT', field: 'name', value: o.name });
  const kind = o.kind ?? 'macvtap';
  if (kind !== 'macvtap' && kind !== 'macvlan') throw new NetfdError(`invalid kind ${JSON.stringify(kind)}: macvtap or macvlan`, { code: 'INVALID_ARGUMENT', field: 'kind', value: kind });
  const name = o.name !== undefined ? v.ifname(o.name, 'name') : v.ifname(o.template ?? `${kind}%d`, 'template', { template: true });
  const mode = native().constants.macvlanModes[v.macvlanMode(o.mode)];
  const req: Parameters<ReturnType<typeof native>['createMacvtap']>[0] = { netns: netnsOf(o), kind, parent: v.linkRef(o.link, 'link'), mode, name };
  if (o.mac !== undefined) req.mac = v.mac(o.mac);
  if (o.group !== undefined) req.group = v.linkGroup(o.group);
  if (o.into !== undefined) {
    if (o.name === undefined) throw new NetfdError('into needs an exact name (a link made in another namespace is found by it)', { code: 'INVALID_ARGUMENT', field: 'name', value: null });
    req.into = v.netns(o.into, 'into');
  }
  return toLinkInfo(await call(native().createMacvtap(req)));
}

/** How to open a macvtap's character device. */
export interface MacvtapOpenOptions extends Target {
  /** Number of queues (fds); default 1. */
  queues?: number | undefined;
  /** IFF_VNET_HDR on every fd; default true. */
  vnetHdr?: boolean | undefined;
  /** Where the shared device nodes live; default /dev. */
  devDir?: string | undefined;
}

/**
 * The open character device of a macvtap (what qemu gets as `fd=`/`fds=`).
 * The device number is read from the link's sysfs entry inside the link's own
 * namespace; /dev/tap<ifindex> is used only when it is that device (ifindex
 * is unique only per namespace), otherwise a private node is made.
 */
export class MacvtapFds extends OwnsFds {
  readonly name: string;
  readonly ifindex: number;
  readonly major: number;
  readonly minor: number;
  /** The node opened, or null when a private node was used. */
  readonly node: string | null;

  private constructor(r: { name: string; ifindex: number; major: number; minor: number; node: string | null; fds: number[] }) {
    super(r.fds);
    this.name = r.name;
    this.ifindex = r.ifindex;
    this.major = r.major;
    this.minor = r.minor;
    this.node = r.node;
  }

  /** Opens the character device of macvtap `link` (name or ifindex), `queues` times. */
  static async open(link: string | number, o: MacvtapOpenOptions = {}): Promise<MacvtapFds> {
    const req: Parameters<ReturnType<typeof native>['openMacvtap']>[0] = {
      netns: netnsOf(o),
      link: v.linkRef(link, 'link'),
      queues: v.queues(o.queues ?? 1),
      vnetHdr: o.vnetHdr ?? true,
    };
    if (o.devDir !== undefined) req.devDir = v.devicePath(o.devDir, 'devDir');
    return new MacvtapFds(await call(native().openMacvtap(req)));
  }
}

/** A macvtap link with its fds: create + open, and delete on destroy(). */
export class Macvtap extends OwnsFds {
  readonly link: LinkInfo;
  readonly netns: string | undefined;

  private constructor(link: LinkInfo, netns: string | undefined, fds: MacvtapFds) {
    super(fds.releaseFds());
    this.link = link;
    this.netns = netns;
  }

  /** Creates the link and opens `queues` fds; on failure nothing is left. */
  static async create(o: MacvtapCreateOptions & MacvtapOpenOptions): Promise<Macvtap> {
    const link = await createMacvtap({ ...o, kind: 'macvtap' });
    try {
      const fds = await MacvtapFds.open(link.index, o);
      return new Macvtap(link, netnsOf(o), fds);
    } catch (err) {
      await deleteLink(link.index, o).catch(() => undefined);
      throw err;
    }
  }

  /** The macvtap's name. */
  get name(): string {
    return this.link.name;
  }

  /** Closes the fds and deletes the link. */
  async destroy(): Promise<void> {
    this.close();
    await deleteLink(this.link.index, { netns: this.netns });
  }
}
