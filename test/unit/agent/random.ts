// pooledRandom: each call gets bytes of its own, across refills of the pool.
import t from 'tap';
import { pooledRandom } from '../../../lib/agent/random';

t.test('calls get their own bytes, a copy, across refills; a request larger than the pool is served too', async (t) => {
  const seen = new Set<string>();
  let wrong = 0;
  // 3000 x 4 bytes: the 4 KiB pool is refilled twice on the way.
  for (let i = 0; i < 3000; i++) {
    const b = pooledRandom(4);
    if (b.length !== 4) wrong++;
    seen.add(b.toString('hex'));
  }
  t.equal(wrong, 0, 'each of 3000 calls got 4 bytes');
  t.ok(seen.size > 2990, `${seen.size} distinct values of 3000 (32 random bits each)`);
  const a = pooledRandom(3);
  const copy = Buffer.from(a);
  pooledRandom(4096);
  t.same(a, copy, 'a result is not overwritten when the pool refills');
  const big = pooledRandom(10_000);
  t.equal(big.length, 10_000);
  t.ok(new Set(big).size > 200, 'a large request is random bytes too');
});
