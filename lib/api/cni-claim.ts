// A pod's claim of its CNI attachment's fds from the agent (op cni-claim,
// decided by the caller's network namespace): what `netfd cni-claim` calls,
// and what a launcher on the library may call.
import { AgentClient } from '../agent/client';

/** What a claim gives besides the fds (the reply's result). */
export interface Claim {
  containerId: string;
  ifname: string;
  /** 'tap' or 'macvtap'. */
  kind?: string;
  ifindex?: number;
  /** The device's own MAC (a tap's is the host side's). */
  mac?: string | null;
  /** The guest's MAC when the agent knows it (a macvtap's own; a tap's from its configuration). */
  guestMac?: string | null;
  mtu?: number;
  vnetHdr?: boolean;
  /** How many of the fds are queues (first), then vhost-net fds. */
  tapFds: number;
  vhostFds: number;
  /** Why there are no vhost-net fds, when the configuration asked for them. */
  vhostUnavailable?: string;
}

/**
 * Claims the attachment `ifname` of `containerId` at the agent's `socket`
 * (default /run/netfd/agent.sock); the connection is closed before this
 * returns. The caller owns the fds: queues first, then vhost-net fds.
 */
export async function claimAttachment(containerId: string, ifname: string, socket?: string): Promise<{ claim: Claim; fds: number[] }> {
  const client = await AgentClient.connect(socket);
  try {
    const r = await client.request<Claim>('cni-claim', { containerId, ifname });
    return { claim: r.result as Claim, fds: r.fds };
  } finally {
    client.close();
  }
}
