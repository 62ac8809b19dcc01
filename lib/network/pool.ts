// SR-IOV physical-function expansion from sysfs, as libvirt does for a
// `<forward><pf dev='eth0'/></forward>` network: the PF's PCI device lists its
// virtual functions as virtfnN links, and each VF bound to a network driver has
// its netdev under virtfnN/net/. Equivalent to
//   ls /sys/class/net/eth0/device/virtfn*/net/
// Read-only and synchronous: sysfs lives in memory, 256 VFs take a few ms.
import fs from 'node:fs';
import path from 'node:path';
import { ErrnoCode, NetfdErrorCode, NetfdError } from '../errors';
import { directoryOption } from '../state/dirs';
import * as v from '../validate';

/** Where sysfs is unless `sysfsRoot` or NETFD_SYSFS_ROOT says otherwise. */
export const DEFAULT_SYSFS_ROOT = '/sys';

/**
 * The sysfs root: the option, else env NETFD_SYSFS_ROOT, else /sys. Must be
 * absolute (NetfdError INVALID_ARGUMENT, field 'sysfsRoot' or
 * 'NETFD_SYSFS_ROOT', value).
 */
export function sysfsRoot(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return directoryOption('sysfsRoot', explicit, 'NETFD_SYSFS_ROOT', env, DEFAULT_SYSFS_ROOT);
}

/** One SR-IOV virtual function of a PF. */
export interface VirtualFunction {
  /** N of virtfnN. */
  index: number;
  /** Basename of the virtfnN link target, e.g. 0000:01:10.2. */
  pci: string;
  /** The VF's network device, or null when none is bound (skipped). */
  netdev: string | null;
}

/** What a `<pf dev>` expands to: its VFs and their network devices. */
export interface PfExpansion {
  pf: string;
  /** The PF's PCI address, e.g. 0000:01:00.0. */
  pci: string;
  /** sriov_totalvfs: how many VFs the device supports. */
  totalVfs: number;
  /** sriov_numvfs: how many are enabled. */
  numVfs: number;
  /** Every virtfnN link, in numeric order, usable or not. */
  vfs: VirtualFunction[];
  /** Usable VF netdev names, in virtfn order: the network's device pool. */
  devices: string[];
  /** One line per skipped VF or oddity found. */
  warnings: string[];
}

// A PCI address as sysfs names it: domain:bus:device.function.
const PCI_ADDRESS = /^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;
const VIRTFN = /^virtfn(\d+)$/;

/**
 * The VFs of SR-IOV physical function `pf` and their netdevs, read from
 * ROOT/class/net/PF/device. Throws NetfdError (field 'pf', value pf):
 * ENODEV when there is no such network device, NOT_SRIOV when it is not a PCI
 * device or not SR-IOV capable, EIO when a sriov_* file does not hold an
 * integer, NO_VFS when no VF has a network device.
 */
export function expandPf(pf: string, o: { sysfsRoot?: string | undefined } = {}): PfExpansion {
  v.ifname(pf, 'pf');
  const root = sysfsRoot(o.sysfsRoot);
  const fail = (code: NetfdErrorCode, message: string) => new NetfdError(message, { code, field: 'pf', value: pf });

  const netDir = path.join(root, 'class', 'net', pf);
  if (!fs.statSync(netDir, { throwIfNoEntry: false })) throw fail('ENODEV', `no network device ${pf}: ${netDir} does not exist`);

  const deviceLink = path.join(netDir, 'device');
  let pciDir: string;
  try {
    pciDir = fs.realpathSync.native(deviceLink);
  } catch (e) {
    if (!isMissing(e)) throw sysError(e, pf, deviceLink);
    throw fail('NOT_SRIOV', `PF ${pf} is not a PCI device (no ${deviceLink} link), so it has no virtual functions`);
  }
  const pci = path.basename(pciDir);
  if (!PCI_ADDRESS.test(pci)) throw fail('NOT_SRIOV', `PF ${pf} is not a PCI device (its device is ${pci}), so it has no virtual functions`);

  const totalFile = path.join(pciDir, 'sriov_totalvfs');
  const totalVfs = readCount(totalFile, pf);
  if (totalVfs === undefined) throw fail('NOT_SRIOV', `PF ${pf} (PCI ${pci}) is not SR-IOV capable: no sriov_totalvfs in ${pciDir}`);
  const numFile = path.join(pciDir, 'sriov_numvfs');
  const numVfs = readCount(numFile, pf);
  if (numVfs === undefined) throw fail('EIO', `cannot read ${numFile}: it is missing although sriov_totalvfs exists`);

  const links: Array<{ index: number; name: string }> = [];
  for (const name of fs.readdirSync(pciDir)) {
    const m = VIRTFN.exec(name);
    if (m) links.push({ index: Number(m[1]), name });
  }
  links.sort((a, b) => a.index - b.index);

  const warnings: string[] = [];
  if (links.length !== numVfs && links.length > 0) warnings.push(`PF ${pf}: sriov_numvfs is ${numVfs} but ${links.length} virtfn links exist; using the links`);
  const vfs: VirtualFunction[] = [];
  const devices: string[] = [];
  for (const { index, name } of links) {
    const link = path.join(pciDir, name);
    const vfPci = path.basename(fs.readlinkSync(link));
    const vf = `PF ${pf}: VF ${index} (${vfPci})`;
    let nets: string[];
    try {
      nets = fs.readdirSync(path.join(link, 'net')).sort();
    } catch (e) {
      if (!isMissing(e)) throw sysError(e, pf, path.join(link, 'net'));
      nets = [];
    }
    const netdev = nets[0] ?? null;
    if (netdev === null) warnings.push(`${vf} has no network device (no driver bound, or bound to vfio-pci); skipped`);
    else {
      if (nets.length > 1) warnings.push(`${vf} has ${nets.length} network devices (${nets.join(', ')}); using ${netdev}`);
      devices.push(netdev);
    }
    vfs.push({ index, pci: vfPci, netdev });
  }

  if (devices.length === 0) {
    const why =
      links.length > 0
        ? `${links.length} VF${links.length === 1 ? '' : 's'}, none has a network device: bind them to their VF network driver, not vfio-pci`
        : numVfs === 0
          ? `sriov_numvfs is 0 of ${totalVfs}: echo N > ${numFile}`
          : `sriov_numvfs is ${numVfs} but ${pciDir} has no virtfn links`;
    throw fail('NO_VFS', `no usable VFs on PF ${pf} (${why})`);
  }
  return { pf, pci, totalVfs, numVfs, vfs, devices, warnings };
}

const isMissing = (e: unknown): boolean => {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};

/** A failure other than "missing" reading sysfs (EACCES, ...), with its code and errno. */
function sysError(e: unknown, pf: string, file: string): NetfdError {
  const err = e as NodeJS.ErrnoException;
  return new NetfdError(`cannot read ${file}: ${err.message}`, { code: (err.code ?? 'EIO') as ErrnoCode, errno: err.errno, syscall: err.syscall, field: 'pf', value: pf, cause: e });
}

/** A sriov_* count: a non-negative decimal integer, or undefined if the file is missing. */
function readCount(file: string, pf: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw sysError(e, pf, file);
  }
  const s = text.trim();
  if (!/^\d{1,9}$/.test(s)) throw new NetfdError(`malformed ${file}: ${JSON.stringify(text)} is not a non-negative integer`, { code: 'EIO', field: 'pf', value: pf });
  return Number(s);
}

/**
 * The network device of PCI device `pci` (a VF a device plugin gave, as its
 * `deviceID`): ROOT/bus/pci/devices/PCI/net/, the first name. Throws
 * NetfdError ENODEV (field `field`, value pci) when there is no such PCI
 * device or it has no network device (no driver bound, or vfio-pci).
 */
export function pciNetdev(pci: string, o: { sysfsRoot?: string | undefined; field?: string } = {}): string {
  const field = o.field ?? 'pci';
  if (!PCI_ADDRESS.test(pci)) throw new NetfdError(`invalid ${field} ${JSON.stringify(pci)}: a PCI address DDDD:BB:SS.F`, { code: 'INVALID_ARGUMENT', field, value: pci });
  const dir = path.join(sysfsRoot(o.sysfsRoot), 'bus', 'pci', 'devices', pci);
  if (!fs.statSync(dir, { throwIfNoEntry: false })) throw new NetfdError(`no PCI device ${pci} (${dir} does not exist)`, { code: 'ENODEV', field, value: pci });
  let nets: string[];
  try {
    nets = fs.readdirSync(path.join(dir, 'net')).sort();
  } catch (e) {
    if (!isMissing(e)) throw e;
    nets = [];
  }
  if (!nets.length) throw new NetfdError(`PCI device ${pci} has no network device (no driver bound, or bound to vfio-pci)`, { code: 'ENODEV', field, value: pci });
  return nets[0];
}
