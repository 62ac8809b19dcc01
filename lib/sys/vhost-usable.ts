// Whether vhost-net can be used, and if not, why: the one answer both
// `netfd probe` and the driver policy's auto-detection use. The device is
// opened (that is the proof); a failure is explained from the kernel's
// config, the loaded modules and the error itself.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NetfdError } from '../errors';
import { VhostFds, vhostDevicePath } from './vhost';

/** Where the host's /proc, /sys and /boot are (fake trees in tests). */
export interface HostRoots {
  procRoot?: string | undefined;
  sysfsRoot?: string | undefined;
  bootRoot?: string | undefined;
}

export type VhostReason = 'NOT_BUILT' | 'MODULE_NOT_LOADED' | 'NO_NODE' | 'PERMISSION' | 'NO_DRIVER' | 'OTHER';

export type VhostCheck =
  { usable: true; device: string; fds: VhostFds; features: bigint | null } | { usable: false; device: string; code: string; reason: VhostReason; why: string; fix: string; error: NetfdError };

/** How the running kernel was built with `option`: 'y', 'm', 'n' (not set), or null when no config is readable. */
export function kernelConfig(option: string, r: HostRoots = {}): { value: 'y' | 'm' | 'n'; source: string } | null {
  const proc = r.procRoot ?? '/proc';
  const release = readText(path.join(proc, 'sys/kernel/osrelease'))?.trim() ?? os.release();
  const candidates: [string, () => string | null][] = [
    [
      path.join(proc, 'config.gz'),
      () => {
        const gz = readBytes(path.join(proc, 'config.gz'));
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- node:zlib only when a config.gz is read
        return gz ? (require('node:zlib') as typeof import('node:zlib')).gunzipSync(gz).toString('utf8') : null;
      },
    ],
    [path.join(r.bootRoot ?? '/boot', `config-${release}`), () => readText(path.join(r.bootRoot ?? '/boot', `config-${release}`))],
  ];
  for (const [source, read] of candidates) {
    let text: string | null;
    try {
      text = read();
    } catch {
      continue; // unreadable or corrupt: try the next
    }
    if (text === null) continue;
    const m = new RegExp(`^${option}=([ym])$`, 'm').exec(text);
    return { value: m ? (m[1] as 'y' | 'm') : 'n', source };
  }
  return null;
}

/** Whether kernel module `name` is loaded (/sys/module/NAME, else /proc/modules). */
export function moduleLoaded(name: string, r: HostRoots = {}): boolean {
  if (fs.existsSync(path.join(r.sysfsRoot ?? '/sys', 'module', name))) return true;
  const modules = readText(path.join(r.procRoot ?? '/proc', 'modules'));
  return modules !== null && new RegExp(`^${name} `, 'm').test(modules);
}

/**
 * Opens the vhost device `count` times. Usable: the fds (the caller owns
 * them) and VHOST_GET_FEATURES when the device answered it. Not usable: the
 * error, the reason found and the fix.
 */
export async function checkVhost(o: HostRoots & { device?: string; count?: number } = {}): Promise<VhostCheck> {
  const device = vhostDevicePath(o.device);
  try {
    const fds = await VhostFds.open({ device, count: o.count ?? 1 });
    return { usable: true, device, fds, features: fds.features };
  } catch (err) {
    const e = err as NetfdError;
    if (e.code === 'INVALID_ARGUMENT') throw e;
    return { usable: false, device, code: e.code ?? 'EUNKNOWN', error: e, ...explainVhost(e.code ?? '', device, o) };
  }
}

const FALLBACK = "guests get userspace virtio meanwhile (omit <driver name> or use name='qemu')";

/** Why opening the vhost device failed with `code`, and what fixes it. */
export function explainVhost(code: string, device: string, r: HostRoots = {}): { reason: VhostReason; why: string; fix: string } {
  if (code === 'EACCES' || code === 'EPERM')
    return { reason: 'PERMISSION', why: `no permission to open ${device}`, fix: `run as root, or give the VM manager's user access to ${device} (its group, or an ACL)` };
  if (code !== 'ENOENT' && code !== 'ENODEV' && code !== 'ENXIO') return { reason: 'OTHER', why: `opening ${device} failed (${code})`, fix: FALLBACK };
  const config = kernelConfig('CONFIG_VHOST_NET', r);
  if (config?.value === 'n')
    return {
      reason: 'NOT_BUILT',
      why: `vhost-net is not built into this kernel (CONFIG_VHOST_NET is not set in ${config.source})`,
      fix: `use a kernel built with CONFIG_VHOST_NET=m or =y; ${FALLBACK}`,
    };
  const loaded = moduleLoaded('vhost_net', r);
  if (config?.value === 'm' && !loaded)
    return {
      reason: 'MODULE_NOT_LOADED',
      why: `the vhost_net module is not loaded (CONFIG_VHOST_NET=m in ${config.source})`,
      fix: 'modprobe vhost_net (and add vhost_net to /etc/modules-load.d/ to keep it)',
    };
  if (config === null && !loaded && code === 'ENOENT')
    return {
      reason: 'MODULE_NOT_LOADED',
      why: `${device} does not exist and no vhost_net module is loaded (the kernel config is not readable, so whether it is built is unknown)`,
      fix: `modprobe vhost_net; ${FALLBACK}`,
    };
  if (code === 'ENOENT')
    return {
      reason: 'NO_NODE',
      why: `vhost-net is in the kernel (${config ? `CONFIG_VHOST_NET=${config.value}` : 'module loaded'}) but ${device} does not exist (no udev, or a container's /dev)`,
      fix: `mknod ${device} c 10 238, or bind-mount the host's ${device} into the container`,
    };
  return { reason: 'NO_DRIVER', why: `${device} exists but no driver answers it (${code})`, fix: 'modprobe vhost_net, or check that the node is char 10:238' };
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function readBytes(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch {
    return null;
  }
}
