// Types for scripts/sriov-fixture.js (used by the unit tests and the benchmarks).

export interface FixtureVf {
  /** N of virtfnN. */
  n: number;
  /** The VF's netdev, or null for a VF with no network driver (e.g. vfio-pci). */
  netdev: string | null;
}

export interface MakePfOptions {
  pf: string;
  /** The PF's PCI address; by default the next free bus in this root, e.g. 0000:01:00.0. */
  pci?: string;
  /** Written to sriov_totalvfs as is; default max(64, numVfs). */
  totalVfs?: number | string;
  /** Written to sriov_numvfs as is; default the number of VFs. */
  numVfs?: number | string;
  vfs?: FixtureVf[];
  /** false: a plain PCI NIC, no sriov_* files and no virtfn links. Default true. */
  sriov?: boolean;
}

export interface FixturePf {
  pf: string;
  pci: string;
  /** The VF netdevs expandPf should return, in virtfn order. */
  devices: string[];
  /** Every VF created, in virtfn order. */
  vfs: Array<{ index: number; pci: string; netdev: string | null }>;
}

export function makePf(root: string, o: MakePfOptions): FixturePf;
/** The PCI address of VF n of the PF at pfPci (offset 0x80, stride 2). */
export function vfPci(pfPci: string, n: number): string;
/** systemd's predictable name of VF n of the PF at pfPci, e.g. enp1s0f0v3. */
export function vfName(pfPci: string, n: number): string;

/** eth0 with 64 VFs, netdevs enp1s0f0v0..enp1s0f0v63 in an empty root. */
export function pf64(root: string, pf?: string): FixturePf;
/** eth1 whose virtfn numbers have gaps: 0, 1, 2, 5, 9, 10. */
export function pfGaps(root: string, pf?: string): FixturePf;
/** eth2 with 8 VFs, of which 3 and 6 have no netdev. */
export function pfNoNetdev(root: string, pf?: string): FixturePf;
/** eth3 with 4 VFs, none with a netdev. */
export function pfAllNoNetdev(root: string, pf?: string): FixturePf;
/** eth4, a PCI NIC without SR-IOV. */
export function pfNotSriov(root: string, pf?: string): FixturePf;
/** pf (default eth5) with n VFs, all with netdevs. */
export function pfN(root: string, n: number, pf?: string): FixturePf;
