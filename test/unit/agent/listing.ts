// SharedRun: callers who ask while no call has begun share one; each gets a result begun after it asked.
import t from 'tap';
import { SharedRun } from '../../../lib/agent/listing';

/** A run whose calls the test settles by hand: `begun` counts them, `settle(k, v)` settles call k. */
function manual() {
  const calls: { resolve: (v: number) => void; reject: (e: Error) => void }[] = [];
  const run = new SharedRun<number>(
    () =>
      new Promise<number>((resolve, reject) => {
        calls.push({ resolve, reject });
      }),
  );
  const tick = () => new Promise((r) => setImmediate(r));
  return { run, calls, tick };
}

t.test('nothing running: a call begins at once; those asking meanwhile share the next, begun once it settles', async (t) => {
  const { run, calls, tick } = manual();
  const a = run.get();
  t.equal(calls.length, 1, 'the first caller begins a call');
  const b = run.get();
  const c = run.get();
  t.equal(calls.length, 1, 'callers arriving while it runs do not begin one of their own');
  t.equal(b, c, 'they share the one waiting');
  calls[0].resolve(1);
  t.equal(await a, 1, 'the first gets its own');
  await tick();
  t.equal(calls.length, 2, 'the waiting call begins after the running one settled (not before: it would be older than its callers)');
  const d = run.get();
  t.not(d, b, 'a caller arriving once the shared call has begun waits for a later one');
  calls[1].resolve(2);
  t.same([await b, await c], [2, 2]);
  await tick();
  t.equal(calls.length, 3);
  calls[2].resolve(3);
  t.equal(await d, 3);
  await tick();
  t.equal(calls.length, 3, 'nobody asking: nothing runs');
  const e = run.get();
  t.equal(calls.length, 4, 'idle again: the next caller begins at once');
  calls[3].resolve(4);
  t.equal(await e, 4);
});

t.test('a failed call rejects its callers only; the waiting one still begins', async (t) => {
  const { run, calls, tick } = manual();
  const a = run.get();
  const b = run.get();
  calls[0].reject(new Error('dump failed'));
  await t.rejects(a, /dump failed/);
  await tick();
  t.equal(calls.length, 2, 'the waiting call began after the failure');
  calls[1].resolve(7);
  t.equal(await b, 7);
});

t.test('a hundred callers at once: two calls, not a hundred', async (t) => {
  let n = 0;
  const run = new SharedRun(async () => {
    n++;
    await new Promise((r) => setTimeout(r, 5));
    return n;
  });
  const got = await Promise.all(Array.from({ length: 100 }, () => run.get()));
  t.equal(n, 2);
  t.equal(got[0], 1, 'the first began the first call');
  t.ok(
    got.slice(1).every((x) => x === 2),
    'the others shared the second',
  );
});
