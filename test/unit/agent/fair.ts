// FairQueue: users take turns, one job at a time, the event loop served between jobs.
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
