// MAC addresses as libvirt assigns them. Pure: randomness comes in as bytes.
const hex = (b: number) => b.toString(16).padStart(2, '0');

/** 52:54:00:xx:xx:xx, qemu's and libvirt's prefix, from three random bytes. */
export function generateMac(r: Uint8Array): string {
  if (r.length < 3) throw new RangeError('generateMac needs three random bytes');
  return ['52', '54', '00', hex(r[0]), hex(r[1]), hex(r[2])].join(':');
}

/** How many times a generated MAC is drawn again before the random source is taken to be broken. */
export const MAC_REDRAWS = 64;

/**
 * A generated MAC (generateMac) that `taken` does not claim: drawn again
 * while it does, at most MAC_REDRAWS times (`who` names the caller in the
 * error: a random source that keeps repeating itself).
 */
export function freshMac(random: (n: number) => Uint8Array, taken: (mac: string) => boolean, who: string): string {
  let mac = generateMac(random(3));
  for (let n = 0; taken(mac); n++) {
    if (n >= MAC_REDRAWS) throw new Error(`${who}: the random source keeps repeating itself`);
    mac = generateMac(random(3));
  }
  return mac;
}

/**
 * The MAC of the host side of a tap: the guest MAC with its first byte set to
 * 0xFE (0xFA when it already is 0xFE), so a bridge never takes the guest's
 * address as its own and the two ends always differ.
 */
export function tapHostMac(guestMac: string): string {
  const first = guestMac.slice(0, 2).toLowerCase() === 'fe' ? 'fa' : 'fe';
  return `${first}${guestMac.slice(2).toLowerCase()}`;
}
