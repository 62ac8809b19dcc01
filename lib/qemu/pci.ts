// Where qemu put each device, from QMP query-pci, in libvirt's terms: the
// <address type='pci' bus slot function> that puts a device back at the same
// place (lib/policy/interface.ts turns it into -device bus= and addr=).
import type { PciAddress } from '../xml/interface';
import { Qmp } from './qmp/commands';

interface PciDeviceInfo {
  slot?: unknown;
  function?: unknown;
  qdev_id?: unknown;
  pci_bridge?: { devices?: unknown };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSlot = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0x1f;
const isFunction = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 7;

/**
 * The PCI address of every device with a qdev id in a query-pci reply, as
 * libvirt writes it. libvirt's bus number is its controller index, which is
 * qemu's bus id, not the PCI bus number (the guest's firmware numbers bridges,
 * and not before the vCPUs run): the machine's root bus (PCI bus 0) is bus 0;
 * a device behind a bridge or root port whose id is `pci.N` (libvirt's name
 * for controller N, whose bus qemu names the same) is on bus N. Devices
 * behind other bridges, or on another root bus (pxb), have no address libvirt
 * could give and are left out.
 */
export function pciAddresses(reply: unknown): Map<string, PciAddress> {
  const out = new Map<string, PciAddress>();
  const walk = (devices: unknown, bus: number | null) => {
    if (!Array.isArray(devices)) return;
    for (const d of devices as PciDeviceInfo[]) {
      if (!isObject(d)) continue;
      const id = typeof d.qdev_id === 'string' ? d.qdev_id : '';
      if (bus !== null && id && isSlot(d.slot) && isFunction(d.function)) out.set(id, { bus, slot: d.slot, function: d.function });
      if (isObject(d.pci_bridge)) {
        const m = /^pci\.(\d{1,3})$/.exec(id);
        const n = m ? Number(m[1]) : NaN;
        walk(d.pci_bridge.devices, n >= 1 && n <= 0xff ? n : null);
      }
    }
  };
  if (Array.isArray(reply)) for (const root of reply) if (isObject(root) && root.bus === 0) walk(root.devices, 0);
  return out;
}

/** query-pci over `qmp`: the addresses of the devices with a qdev id. */
export async function queryPciAddresses(qmp: Qmp, timeoutMs?: number): Promise<Map<string, PciAddress>> {
  return pciAddresses(await qmp.queryPci(timeoutMs === undefined ? {} : { timeoutMs }));
}

/** libvirt's spelling: 0000:00:03.0 style numbers, as in `<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>`. */
export function formatPci(a: PciAddress): string {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${hex(a.bus, 2)}:${hex(a.slot, 2)}.${hex(a.function, 1)}`;
}

/** The inverse of formatPci ("BB:SS.F", hex), or null when it is not one. */
export function parsePci(s: string): PciAddress | null {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(s);
  if (!m) return null;
  const a = { bus: Number.parseInt(m[1], 16), slot: Number.parseInt(m[2], 16), function: Number(m[3]) };
  return isSlot(a.slot) ? a : null;
}
