// The vhost-net device: opened in netfd, so the decision is made before qemu
// starts (QEMU 7.2 aborts on vhost=on when the device is unusable).
import { fromNative } from '../errors';
import { OwnsFds } from './fds';
import { native } from './native';
import * as v from '../validate';

/** The vhost-net device unless `vhostDevice` or NETFD_VHOST_DEVICE says otherwise. */
export const DEFAULT_VHOST_DEVICE = '/dev/vhost-net';

/** The device path: the explicit option, else NETFD_VHOST_DEVICE, else /dev/vhost-net. */
export function vhostDevicePath(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit !== undefined) return v.devicePath(explicit, 'vhostDevice');
  if (env.NETFD_VHOST_DEVICE) return v.devicePath(env.NETFD_VHOST_DEVICE, 'NETFD_VHOST_DEVICE');
  return DEFAULT_VHOST_DEVICE;
}

const hints: Record<string, (p: string) => string> = {
  ENOENT: (p) => `${p} does not exist: load the vhost_net module (modprobe vhost_net) or use <driver name='qemu'/>`,
  EACCES: (p) => `no permission to open ${p}: run as root or add the user to the device's group`,
  EPERM: (p) => `no permission to open ${p}: run as root or add the user to the device's group`,
  ENODEV: (p) => `${p} has no driver behind it: load the vhost_net module`,
  ENXIO: (p) => `${p} has no driver behind it: load the vhost_net module`,
};

/** vhost fds; `features` is VHOST_GET_FEATURES when the device answered it. */
export class VhostFds extends OwnsFds {
  readonly device: string;
  readonly features: bigint | null;

  private constructor(device: string, fds: number[], features: bigint | null) {
    super(fds);
    this.device = device;
    this.features = features;
  }

  /**
   * Opens the device read-write `count` times. Errors keep their errno code:
   * ENOENT (no device), EACCES/EPERM (permission), ENODEV/ENXIO (no driver).
   */
  static async open(o: { device?: string | undefined; count?: number | undefined } = {}): Promise<VhostFds> {
    const path = vhostDevicePath(o.device);
    const count = v.queues(o.count ?? 1, 'count');
    try {
      const r = await native().openVhost({ path, count });
      return new VhostFds(path, r.fds, r.features);
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      throw fromNative(err, hints[code]?.(path));
    }
  }
}

/** Opens and closes the device once: null when usable, else the error. */
export async function vhostUsable(device?: string): Promise<null | Error> {
  try {
    (await VhostFds.open({ device })).close();
    return null;
  } catch (err) {
    return err as Error;
  }
}
