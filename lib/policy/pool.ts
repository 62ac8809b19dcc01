// Which device of a network's pool a new guest connection gets (libvirt's
// networkAllocateActualDevice for direct networks), as a pure function.
import { NetfdError } from '../errors';
import type { ForwardMode } from '../xml/network';

/** One device of a pool and the guest connections it carries. */
export interface PoolSlot {
  dev: string;
  connections: number;
}

/**
 * Whether a connection needs a device to itself: passthrough always (the
 * guest's MAC becomes the device's); private only with an 802.1Qbh port
 * profile (the profile is per device). netfd refuses <virtualport> in
 * networks today, so `virtualport` is undefined in practice.
 */
export function needsExclusive(mode: ForwardMode, virtualport?: string): boolean {
  return mode === 'passthrough' || (mode === 'private' && virtualport === '802.1Qbh');
}

/**
 * The device for one more connection: exclusive modes take the first device
 * with no connection; the others the least-used device, the first of equals
 * in pool order.
 */
export function pickDevice(network: string, mode: ForwardMode, pool: readonly PoolSlot[], virtualport?: string): string {
  if (!pool.length) throw new NetfdError(`network '${network}' has no devices in its pool`, { code: 'NO_DEVICE', field: 'network', value: network });
  if (needsExclusive(mode, virtualport)) {
    const free = pool.find((s) => s.connections === 0);
    if (!free) throw new NetfdError(`network '${network}' requires exclusive access to interfaces, but none are available`, { code: 'NO_DEVICE', field: 'network', value: network });
    return free.dev;
  }
  let best = pool[0];
  for (const s of pool) if (s.connections < best.connections) best = s;
  return best.dev;
}
