// <disk>: the drives netfd gives qemu as -drive if=virtio|ide, read as
// libvirt reads them (virDomainDisk*), and refused by name where netfd
// would not apply what the user wrote. Pure.
import { absPath, attr, bad, child, Element, intAttr, oneOf, onOff } from './dom';
import { libvirtValue, onlyApplied, unsupported } from './applied';

/** libvirt's <driver cache>, io, discard, detect_zeroes and error policies, as written. */
export type DiskCache = 'none' | 'writethrough' | 'writeback' | 'directsync' | 'unsafe';
/** libvirt's `<driver error_policy>` / `rerror_policy`. */
export type DiskErrorPolicy = 'stop' | 'report' | 'ignore' | 'enospace';

/** A `<disk>` netfd turns into `-drive`. */
export interface DiskDef {
  /**
   * The unit on its bus: from the target name (vda/hda 0, vdb/hdb 1, hdc 2 …),
   * or for an IDE disk from its <address type='drive'> (bus × 2 + unit).
   */
  index: number;
  /** 'file': an image file; 'block': a host block device (an LVM volume, a disk), qemu's host_device. */
  type: 'file' | 'block';
  /** <source file> (type='file') or <source dev> (type='block'). */
  source: string;
  bus: 'virtio' | 'ide';
  device: 'disk' | 'cdrom';
  format: string;
  readonly: boolean;
  target: string;
  /** <driver> attributes in libvirt's spellings; lib/qemu/argv.ts turns them into -drive options. */
  cache?: DiskCache;
  io?: 'threads' | 'native' | 'io_uring';
  discard?: 'unmap' | 'ignore';
  detectZeroes?: 'off' | 'on' | 'unmap';
  errorPolicy?: DiskErrorPolicy;
  rerrorPolicy?: Exclude<DiskErrorPolicy, 'enospace'>;
  copyOnRead?: boolean;
}

/** 'a' -> 0, 'z' -> 25, 'aa' -> 26, as libvirt's virDiskNameToIndex. */
function diskIndex(letters: string): number {
  let n = 0;
  for (const c of letters) n = n * 26 + (c.charCodeAt(0) - 96);
  return n - 1;
}

// libvirt's values (domaincommon.rng, virStorage/virDomainDisk* enums).
const DISK_TYPES = ['file', 'block', 'dir', 'network', 'volume', 'nvme', 'vhostuser', 'vhostvdpa'];
const DISK_DEVICES = ['disk', 'cdrom', 'floppy', 'lun'];
const DISK_BUSES = ['ide', 'fdc', 'scsi', 'virtio', 'xen', 'usb', 'uml', 'sata', 'sd'];
/** libvirt's bus for a target name without bus= (virDomainDiskDefPostParse). */
const BUS_OF_PREFIX: Record<string, string> = { hd: 'ide', sd: 'scsi', vd: 'virtio', xvd: 'xen', ubd: 'uml', fd: 'ide' };

const DRIVE_ONLY = 'netfd gives disks as -drive if=virtio|ide, where qemu makes the device itself';
const DISK_WHY: Record<string, string> = {
  boot: `a boot order is qemu's bootindex, a -device property; ${DRIVE_ONLY}`,
  serial: `a disk serial is a -device property (qemu 7.2 has no -drive serial=); ${DRIVE_ONLY}`,
  shareable: `libvirt shares a disk with share-rw=on, a -device property; ${DRIVE_ONLY}`,
  alias: `the alias is the -device id; ${DRIVE_ONLY}`,
  wwn: `a -device property; ${DRIVE_ONLY}`,
  vendor: `a -device property; ${DRIVE_ONLY}`,
  product: `a -device property; ${DRIVE_ONLY}`,
  geometry: `a -device property; ${DRIVE_ONLY}`,
  blockio: `a -device property; ${DRIVE_ONLY}`,
};
const VIRTIO_BLK_PROPS = ['ioeventfd', 'event_idx', 'iothread', 'queues', 'queue_size', 'iommu', 'ats', 'packed', 'page_per_vq'];
const DRIVER_APPLIED = ['name', 'type', 'cache', 'io', 'discard', 'detect_zeroes', 'error_policy', 'rerror_policy', 'copy_on_read'];

/** The -drive options of <driver>: each attribute applied or refused by name. */
export function parseDiskDriver(el: Element, d: DiskDef): void {
  onlyApplied(el, DRIVER_APPLIED, [], (n) => (n.startsWith('@') && VIRTIO_BLK_PROPS.includes(n.slice(1)) ? `a virtio-blk -device property; ${DRIVE_ONLY}` : undefined));
  const name = attr(el, 'name');
  // libvirt's qemu driver refuses any other (CONFIG_UNSUPPORTED).
  if (name !== undefined && name !== 'qemu') throw unsupported(el, 'name', name, `<driver name='${name}'> is not supported: qemu runs disks with <driver name='qemu'>`);
  const format = attr(el, 'type');
  if (format !== undefined) {
    if (!/^[a-z0-9]+$/.test(format)) throw bad(el, 'type', format, 'expected an image format such as raw or qcow2');
    d.format = format === 'aio' ? 'raw' : format; // 'aio': libvirt's old spelling of raw
  }
  const cache = oneOf(el, 'cache', ['default', 'none', 'writethrough', 'writeback', 'directsync', 'unsafe'] as const);
  if (cache && cache !== 'default') d.cache = cache;
  const io = oneOf(el, 'io', ['threads', 'native', 'io_uring'] as const);
  if (io) d.io = io;
  if (io === 'native' && d.cache !== 'none' && d.cache !== 'directsync')
    throw bad(el, 'io', io, "native I/O needs cache='none' or cache='directsync' (libvirt refuses it otherwise; qemu's aio=native needs cache.direct=on)");
  const discard = oneOf(el, 'discard', ['unmap', 'ignore'] as const);
  if (discard) d.discard = discard;
  const detectZeroes = oneOf(el, 'detect_zeroes', ['off', 'on', 'unmap'] as const);
  if (detectZeroes) d.detectZeroes = detectZeroes;
  const errorPolicy = oneOf(el, 'error_policy', ['stop', 'report', 'ignore', 'enospace'] as const);
  if (errorPolicy) d.errorPolicy = errorPolicy;
  const rerrorPolicy = oneOf(el, 'rerror_policy', ['stop', 'report', 'ignore'] as const);
  if (rerrorPolicy) d.rerrorPolicy = rerrorPolicy;
  const cor = onOff(el, 'copy_on_read');
  if (cor !== undefined) d.copyOnRead = cor;
}

/**
 * An IDE disk's <address type='drive'>: its unit on qemu's one IDE
 * controller (bus × 2 + unit, the -drive if=ide index), as libvirt places hda
 * at 0.0.0, hdb 0.0.1, hdc 0.1.0, hdd 0.1.1.
 */
function driveAddress(el: Element, bus: DiskDef['bus']): number {
  const type = attr(el, 'type') ?? '';
  if (bus !== 'ide' || type !== 'drive') {
    const why =
      bus === 'virtio'
        ? 'qemu 7.2 has no -drive addr=, so netfd cannot place a virtio disk at a PCI address; remove the <address> (qemu takes a free slot)'
        : "netfd places an IDE disk by <address type='drive'> only";
    throw unsupported(el, 'type', type, `<address type='${type}'> on a ${bus} disk is not supported: ${why}`);
  }
  onlyApplied(el, ['type', 'controller', 'bus', 'target', 'unit'], []);
  const n = (name: string, max: number, why: string) => {
    const x = intAttr(el, name, () => null) ?? 0;
    if (x > max) throw unsupported(el, name, String(x), `<address ${name}='${x}'> is not supported: ${why}`);
    return x;
  };
  n('controller', 0, "-drive if=ide disks are on qemu's one IDE controller (controller='0')");
  n('target', 0, "IDE disks have target='0'");
  const b = n('bus', 1, 'the IDE controller has buses 0 and 1');
  const u = n('unit', 1, 'an IDE bus has units 0 and 1');
  return b * 2 + u;
}

export function parseDisk(el: Element): DiskDef {
  const type = libvirtValue(el, 'type', ['file', 'block'] as const, DISK_TYPES, 'file', "netfd runs file and block disks (type='file' or 'block')") as DiskDef['type'];
  const device = libvirtValue(el, 'device', ['disk', 'cdrom'] as const, DISK_DEVICES, 'disk', 'netfd runs disk and cdrom devices') as DiskDef['device'];
  onlyApplied(el, ['type', 'device'], ['driver', 'source', 'target', 'readonly', 'address'], (n) => DISK_WHY[n]);
  // libvirt opens a host CD-ROM drive with host_cdrom after probing it (virFileIsCDROM); netfd does not probe.
  if (type === 'block' && device === 'cdrom')
    throw unsupported(el, 'device', device, "<disk type='block' device='cdrom'> (a host CD-ROM drive) is not supported; use a file (type='file') for an ISO image");
  const source = child(el, 'source');
  const srcAttr = type === 'block' ? 'dev' : 'file';
  const example = type === 'block' ? '/dev/VG/LV' : '/ABSOLUTE/PATH';
  if (!source && device === 'cdrom') throw unsupported(el, null, '', 'an empty cdrom drive (no <source>) is not supported');
  const src = source ? absPath(source, srcAttr) : undefined;
  if (!source || src === undefined) throw bad(source ?? el, source ? srcAttr : null, '', `a ${type} disk needs <source ${srcAttr}='${example}'/>`);
  onlyApplied(source, [srcAttr], []);
  const target = child(el, 'target');
  const dev = target ? attr(target, 'dev') : undefined;
  const m = dev ? /^(hd|sd|vd|xvd|ubd|fd)([a-z]{1,3})$/.exec(dev) : null;
  if (!target || !dev || !m) throw bad(target ?? el, target ? 'dev' : null, dev ?? '', "a disk needs <target dev='vda|hda...' bus='virtio|ide'/>");
  onlyApplied(target, ['dev', 'bus'], []);
  const busOf = BUS_OF_PREFIX[m[1]];
  if (attr(target, 'bus') === undefined && busOf !== 'virtio' && busOf !== 'ide')
    throw unsupported(target, 'dev', dev, `<target dev='${dev}'> without bus= is on the ${busOf} bus (as in libvirt), which netfd does not run: give bus='virtio' or bus='ide'`);
  const bus = libvirtValue(target, 'bus', ['virtio', 'ide'] as const, DISK_BUSES, busOf as DiskDef['bus'], 'netfd runs virtio and ide disks') as DiskDef['bus'];
  const readonly = child(el, 'readonly');
  if (readonly) onlyApplied(readonly, [], []);
  // qemu's ide-hd cannot be read-only ("Block node is read-only"); libvirt refuses it too.
  if (readonly && bus === 'ide' && device === 'disk')
    throw unsupported(readonly, null, 'readonly', "<readonly/> on an IDE disk is not supported: qemu's IDE hard disk cannot be read-only; use bus='virtio', or device='cdrom'");
  const d: DiskDef = { index: diskIndex(m[2]), type, source: src, bus, device, format: 'raw', readonly: readonly !== null || device === 'cdrom', target: dev };
  const driver = child(el, 'driver');
  if (driver) parseDiskDriver(driver, d);
  const address = child(el, 'address');
  if (address) d.index = driveAddress(address, bus);
  return d;
}
