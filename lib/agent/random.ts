// Random bytes for the agent's per-request choices (link groups, generated
// MACs): taken from a pool that crypto refills 4 KiB at a time, as one
// crypto call costs the event loop about as much as a system call, and a
// prepare makes two of them otherwise. The bytes are crypto's; none is
// handed out twice.
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let at = POOL_BYTES;

/** `n` random bytes (a copy of the pool's next `n`). */
export function pooledRandom(n: number): Buffer {
  if (n > POOL_BYTES) return randomFillSync(Buffer.alloc(n));
  if (at + n > POOL_BYTES) {
    randomFillSync(pool);
    at = 0;
  }
  const out = Buffer.from(pool.subarray(at, at + n));
  at += n;
  return out;
}
