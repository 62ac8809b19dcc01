// FairQueue: users take turns, one job at a time, the event loop served between jobs (or between slices of back-to-back jobs).
import t from 'tap';
import { FairQueue } from '../../../lib/agent/fair';

t.test('jobs run one at a time, users taking turns in the order they first asked', async (t) => {
  const q = new FairQueue(1);
  const ran: string[] = [];
  const jobs: Promise<string>[] = [];
  // User 1 floods 5 jobs, then users 2 and 3 ask once each.
  for (let i = 0; i < 5; i++) jobs.push(q.run(1, () => (ran.push(`1.${i}`), `1.${i}`)));
  jobs.push(q.run(2, () => (ran.push('2.0'), '2.0')));
  jobs.push(q.run(3, async () => (ran.push('3.0'), '3.0')));
  t.equal(q.waiting, 6, 'the first has started');
  t.same(await Promise.all(jobs), ['1.0', '1.1', '1.2', '1.3', '1.4', '2.0', '3.0'], 'each caller gets its own result');
  t.same(ran, ['1.0', '1.1', '2.0', '3.0', '1.2', '1.3', '1.4'], "users 2 and 3 wait for the running job and one more of user 1's, not all five");
  t.equal(q.waiting, 0);
});

t.test('a failing job rejects its caller only; the event loop runs between jobs', async (t) => {
  const q = new FairQueue(1);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  const spin = (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end);
  };
  const a = q.run(1, () => spin(20));
  const b = q.run(1, () => {
    throw new Error('boom');
  });
  const c = q.run(1, () => spin(20));
  await a;
  await t.rejects(b, /boom/);
  const before = ticks;
  await c;
  clearInterval(timer);
  t.ok(ticks > before || ticks > 0, 'timers ran between the jobs');
});

t.test('concurrency 2 runs two at once', async (t) => {
  const q = new FairQueue(2);
  let now = 0;
  let most = 0;
  const job = async () => {
    most = Math.max(most, ++now);
    await new Promise((r) => setTimeout(r, 10));
    now--;
  };
  await Promise.all([1, 2, 3, 4].map((k) => q.run(k, job)));
  t.equal(most, 2);
});

t.test('with a slice, jobs run back to back until the turn has lasted that long, then the loop turns', async (t) => {
  const q = new FairQueue(1, 30);
  // A tick per turn of the event loop: the jobs record the turn they ran in.
  let turn = 0;
  let done = false;
  const tick = () => {
    turn++;
    if (!done) setImmediate(tick);
  };
  setImmediate(tick);
  const spin = (ms: number) => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  };
  const turns: number[] = [];
  const started: number[] = [];
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < 40; i++)
    jobs.push(
      q.run(i % 3, () => {
        turns.push(turn);
        started.push(performance.now());
        spin(2);
      }),
    );
  t.equal(turns.length, 0, 'no job runs inside the caller');
  await Promise.all(jobs);
  done = true;
  const sizes = new Map<number, number>();
  for (const k of turns) sizes.set(k, (sizes.get(k) ?? 0) + 1);
  t.ok(Math.max(...sizes.values()) > 1, `jobs share a turn (${[...sizes.values()].join(' ')} jobs per turn)`);
  t.ok(sizes.size > 1, 'the loop turned between slices');
  // Within a turn, a job starts only while the turn has lasted less than the slice (its first job began it).
  let span = 0;
  for (let k = 1; k < turns.length; k++) span = Math.max(span, started[k] - started[turns.indexOf(turns[k])]);
  t.ok(span < 30 + 1, `the last job of a turn started ${span.toFixed(1)} ms into it (slice 30 ms)`);
});
