// The networks' store (lib/network/) with the host's half wired in: a dead
// connection's devices deleted and a passthrough device's MAC restored
// (./reclaim.ts). Domains reach it through ./network.ts, which loads this
// module only when a domain uses a network.
import { NetworkOptions, NetworkStore } from '../network/store';
import { connectionUndo } from './reclaim';

/**
 * libvirt-style `<network>`s over a device pool: define, start, list,
 * allocate and release connections (the `net-*` verbs); connections whose
 * process died before their domain was recorded are undone on the host.
 */
export class Networks extends NetworkStore {
  /** Reads nothing yet: every operation reads the files it needs. */
  constructor(o: NetworkOptions = {}) {
    super(o, connectionUndo);
  }
}
