// Fake sysfs trees with SR-IOV physical functions, laid out as Linux does, for
// the unit tests and the benchmarks (lib/network/pool.ts reads them):
//
//   ROOT/devices/pci0000:00/0000:00:01.0/            PCIe root port, one per PF
//     0000:01:00.0/                                  the PF
//       sriov_totalvfs  sriov_numvfs
//       net/eth0/device -> ../../../0000:01:00.0
//       virtfn0 -> ../0000:01:10.0  virtfn1 -> ../0000:01:10.2 ...
//     0000:01:10.0/                                  a VF
//       physfn -> ../0000:01:00.0
//       net/enp1s0f0v0/device -> ../../../0000:01:10.0   (if a driver is bound)
//   ROOT/class/net/eth0 -> ../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/net/eth0
//   ROOT/class/net/enp1s0f0v0 -> ../../devices/.../0000:01:10.0/net/enp1s0f0v0
//   ROOT/bus/pci/devices/0000:01:10.0 -> ../../../devices/.../0000:01:10.0  (each PF and VF)
//
// VF N sits at routing ID  PF + 0x80 + 2N  (the offset and stride of an Intel
// 82599), spilling onto the following buses for large N. Each PF gets its own
// root port and a bus range of its own, so several PFs share one ROOT.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const HOST_BRIDGE = 'pci0000:00';
const VF_OFFSET = 0x80;
const VF_STRIDE = 2;

const hex = (n, width) => n.toString(16).padStart(width, '0');
const parsePci = (pci) => {
  const m = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(pci);
  if (!m) throw new Error(`sriov-fixture: bad PCI address ${JSON.stringify(pci)} (want 0000:01:00.0)`);
  return { domain: parseInt(m[1], 16), bus: parseInt(m[2], 16), dev: parseInt(m[3], 16), fn: parseInt(m[4], 16) };
};
const formatRid = (domain, rid) => `${hex(domain, 4)}:${hex(rid >> 8, 2)}:${hex((rid >> 3) & 0x1f, 2)}.${rid & 7}`;

/** The PCI address of VF `n` of the PF at `pfPci`. */
function vfPci(pfPci, n) {
  const p = parsePci(pfPci);
  const rid = (p.bus << 8) + (p.dev << 3) + p.fn + VF_OFFSET + VF_STRIDE * n;
  if (rid > 0xffff) throw new Error(`sriov-fixture: VF ${n} of ${pfPci} falls beyond bus ff`);
  return formatRid(p.domain, rid);
}

/** systemd's predictable name for VF `n` of the PF at `pfPci`: enp1s0f0v3. */
function vfName(pfPci, n) {
  const p = parsePci(pfPci);
  return `enp${p.bus}s${p.dev}f${p.fn}v${n}`;
}

/** The next free root port and PF address in ROOT: after every bus in use. */
function allocate(root) {
  const top = path.join(root, 'devices', HOST_BRIDGE);
  const ports = fs.existsSync(top) ? fs.readdirSync(top).filter((d) => /^0000:00:[0-9a-f]{2}\.0$/.test(d)) : [];
  let maxBus = 0;
  for (const port of ports) for (const d of fs.readdirSync(path.join(top, port))) if (/^[0-9a-f]{4}:[0-9a-f]{2}:/.test(d)) maxBus = Math.max(maxBus, parsePci(d).bus);
  const slot = ports.length + 1;
  if (slot > 0x1f) throw new Error('sriov-fixture: no free root port left in this root (31 PFs at most)');
  return { port: `0000:00:${hex(slot, 2)}.0`, pci: `0000:${hex(maxBus + 1, 2)}:00.0` };
}

const write = (file, value) => fs.writeFileSync(file, `${value}\n`);

/** DIR/net/NAME with its device link back to DIR, and ROOT/class/net/NAME pointing at it. */
function addNetdev(root, pciDir, name) {
  const classNet = path.join(root, 'class', 'net');
  const link = path.join(classNet, name);
  if (lexists(link)) throw new Error(`sriov-fixture: ${link} exists already`);
  const netDir = path.join(pciDir, 'net', name);
  fs.mkdirSync(netDir, { recursive: true });
  fs.symlinkSync(`../../../${path.basename(pciDir)}`, path.join(netDir, 'device'));
  fs.mkdirSync(classNet, { recursive: true });
  fs.symlinkSync(path.relative(classNet, netDir), link);
}

const lexists = (p) => fs.lstatSync(p, { throwIfNoEntry: false }) !== undefined;

/**
 * Builds PF `o.pf` in the fake sysfs at `root`, with the VFs `o.vfs` (each
 * { n, netdev }: virtfnN, and its netdev or null for a VF with no network
 * driver). numVfs defaults to the number of VFs, totalVfs to max(64, numVfs);
 * either may be a string, written as is. With sriov: false the PF is a plain
 * PCI NIC: no sriov_* files, no virtfn links.
 * Returns { pf, pci, devices: the VF netdevs expected from expandPf, in order,
 * vfs: [{ index, pci, netdev }] }.
 */
/** ROOT/bus/pci/devices/PCI -> ../../../devices/HOST_BRIDGE/PORT/PCI, as Linux links every PCI device. */
function busLink(root, port, pci) {
  const dir = path.join(root, 'bus', 'pci', 'devices');
  fs.mkdirSync(dir, { recursive: true });
  fs.symlinkSync(path.join('..', '..', '..', 'devices', HOST_BRIDGE, port, pci), path.join(dir, pci));
}

function makePf(root, o) {
  const pf = o.pf;
  const sriov = o.sriov !== false;
  const want = sriov ? [...(o.vfs || [])].sort((a, b) => a.n - b.n) : [];
  const { port, pci: freePci } = allocate(root);
  const pci = o.pci || freePci;
  parsePci(pci);
  const portDir = path.join(root, 'devices', HOST_BRIDGE, port);
  const pfDir = path.join(portDir, pci);
  if (fs.existsSync(pfDir)) throw new Error(`sriov-fixture: ${pfDir} exists already`);
  fs.mkdirSync(pfDir, { recursive: true });
  busLink(root, port, pci);
  write(path.join(pfDir, 'vendor'), '0x8086');
  addNetdev(root, pfDir, pf);
  const vfs = [];
  if (sriov) {
    const numVfs = o.numVfs ?? want.length;
    write(path.join(pfDir, 'sriov_totalvfs'), o.totalVfs ?? Math.max(64, typeof numVfs === 'number' ? numVfs : 0));
    write(path.join(pfDir, 'sriov_numvfs'), numVfs);
    for (const { n, netdev } of want) {
      const addr = vfPci(pci, n);
      const vfDir = path.join(portDir, addr);
      fs.mkdirSync(vfDir);
      busLink(root, port, addr);
      write(path.join(vfDir, 'vendor'), '0x8086');
      fs.symlinkSync(`../${pci}`, path.join(vfDir, 'physfn'));
      fs.symlinkSync(`../${addr}`, path.join(pfDir, `virtfn${n}`));
      if (netdev !== null) addNetdev(root, vfDir, netdev);
      vfs.push({ index: n, pci: addr, netdev });
    }
  }
  return { pf, pci, devices: vfs.filter((f) => f.netdev !== null).map((f) => f.netdev), vfs };
}

/** VFs 0..n-1 (or the given indexes), each with its predictable netdev unless listed in `without`. */
function range(n) {
  return Array.from({ length: n }, (_, i) => i);
}
function build(root, pf, indexes, without = []) {
  // The netdev names follow the PF's address, known only once it is placed.
  const { pci } = allocate(root);
  return makePf(root, { pf, pci, vfs: indexes.map((n) => ({ n, netdev: without.includes(n) ? null : vfName(pci, n) })) });
}

/** eth0 with 64 VFs, netdevs enp1s0f0v0..enp1s0f0v63 (in an empty root). */
const pf64 = (root, pf = 'eth0') => build(root, pf, range(64));
/** eth1 whose virtfn numbers have gaps: 0, 1, 2, 5, 9, 10. */
const pfGaps = (root, pf = 'eth1') => build(root, pf, [0, 1, 2, 5, 9, 10]);
/** eth2 with 8 VFs, of which 3 and 6 have no netdev (bound to vfio-pci). */
const pfNoNetdev = (root, pf = 'eth2') => build(root, pf, range(8), [3, 6]);
/** eth3 with 4 VFs, none with a netdev. */
const pfAllNoNetdev = (root, pf = 'eth3') => build(root, pf, range(4), range(4));
/** eth4, a PCI NIC without SR-IOV. */
const pfNotSriov = (root, pf = 'eth4') => makePf(root, { pf, sriov: false });
/** `pf` (default eth5) with `n` VFs, all with netdevs. */
const pfN = (root, n, pf = 'eth5') => build(root, pf, range(n));

module.exports = { makePf, vfPci, vfName, pf64, pfGaps, pfNoNetdev, pfAllNoNetdev, pfNotSriov, pfN };
