// vhost-net for an interface, as libvirt's qemuInterfaceOpenVhostNet: the
// device opened once per queue when the plan wants vhost. A failure to open
// is a probe result for the driver policy (lib/policy decides), not a throw.
import { FdSet } from '../sys/fds';
import type { InterfacePlan, VhostProbe } from '../policy';
import { checkVhost } from '../sys/vhost-usable';

/**
 * Opens the vhost device (<backend vhost>, else `device`) `plan.queues`
 * times, unless the plan wants no vhost. Returns the probe result and the
 * fds (none unless usable), owned by the caller; nothing stays open when
 * the device is not usable.
 */
export async function openVhost(plan: InterfacePlan, device: string | undefined): Promise<{ probe: VhostProbe | undefined; fds: FdSet }> {
  if (plan.vhost === 'off') return { probe: undefined, fds: new FdSet([]) };
  // The same check as `netfd probe`: on failure, the true reason.
  const c = await checkVhost({ device: plan.vhostDevice ?? device, count: plan.queues });
  if (!c.usable) return { probe: { usable: false, code: c.code, message: `${c.error.message}: ${c.why}` }, fds: new FdSet([]) };
  return { probe: { usable: true }, fds: new FdSet(c.fds.releaseFds()) };
}
