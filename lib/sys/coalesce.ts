// Interrupt coalescing through SIOCETHTOOL (ETHTOOL_GCOALESCE /
// ETHTOOL_SCOALESCE, struct ethtool_coalesce), as libvirt's
// virNetDevSetCoalesce applies `<coalesce>`. Each names its ethtool equivalent.
import { call } from '../errors';
import { netnsOf, Target } from './link';
import { native } from './native';
import * as v from '../validate';

/** A device's interrupt coalescing, as `ethtool -c` shows it (the part netfd sets). */
export interface Coalesce {
  /** rx_max_coalesced_frames (`ethtool -c`: rx-frames) */
  rxMaxFrames: number;
}

/** Coalescing to set (`ethtool -C DEV rx-frames N`). */
export interface CoalesceChanges extends Target {
  /** `rx-frames N`: libvirt's `<coalesce><rx><frames max='N'/></rx></coalesce>`. */
  rxMaxFrames?: number | undefined;
}

/**
 * `ethtool -C LINK rx-frames N`: reads the settings (ETHTOOL_GCOALESCE),
 * changes the fields given, writes them (ETHTOOL_SCOALESCE) and returns what
 * the driver kept (read again): tun clamps rx-frames to 64. Drivers without
 * coalescing (macvtap) give EOPNOTSUPP. Runs in the link's namespace.
 */
export async function setCoalesce(link: string | number, c: CoalesceChanges): Promise<Coalesce> {
  const ref = v.linkRef(link);
  const req: Parameters<ReturnType<typeof native>['setCoalesce']>[0] = { netns: netnsOf(c), link: ref };
  if (c.rxMaxFrames !== undefined) req.rxMaxFrames = v.u32(c.rxMaxFrames, 'rxMaxFrames');
  return call(native().setCoalesce(req));
}

/** `ethtool -c LINK` (ETHTOOL_GCOALESCE) */
export async function getCoalesce(link: string | number, t: Target = {}): Promise<Coalesce> {
  const ref = v.linkRef(link);
  return call(native().getCoalesce({ netns: netnsOf(t), link: ref }));
}
