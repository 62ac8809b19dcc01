// lib/qemu/qmp/events.ts: the event log alone (numbering, since, close), and
// through a client against the fake monitor (test/helpers/fake-qmp.ts): the
// 'event' listener, the buffer of the newest 64, waiters and `since`.
import t from 'tap';
import { QmpEvent, EventLog } from '../../../../lib/qemu/qmp/events';
import { NetfdError } from '../../../../lib/errors';
import { connectFake } from '../../../helpers/fake-qmp';

t.test('the log alone: seq, since, cancel, close', async (t) => {
  const log = new EventLog();
  t.equal(log.lastSeq, 0);
  const ev = log.add('STOP', { event: 'STOP', data: [1], timestamp: { seconds: 5, microseconds: 'x' } });
  t.same(ev, { event: 'STOP', data: {}, timestamp: { seconds: 5, microseconds: 0 }, seq: 1 }, 'non-object data and non-number times read as empty');
  t.equal(log.lastSeq, 1);
  t.equal(await log.wait('STOP', () => true, 0, 0).promise, ev, 'a buffered one');
  const later = log.wait('STOP', () => true, 0, 1);
  const cancelled = log.wait('RESUME', () => true, 0, 0);
  cancelled.cancel();
  const ev2 = log.add('STOP', { data: { n: 2 } });
  t.equal(await later.promise, ev2, 'since 1: the next one');
  const waiting = log.wait('RESUME', () => true, 0, 0);
  log.close((what) => new NetfdError(`closed: ${what}`, { code: 'QMP_CLOSED' }));
  await t.rejects(waiting.promise, { code: 'QMP_CLOSED', message: 'closed: waiting for RESUME' });
  await t.rejects(log.wait('X', () => true, 0, 0).promise, { code: 'QMP_CLOSED', message: 'closed: waiting for X' }, 'and later waits');
  t.equal(await log.wait('STOP', (e) => e.seq === 2, 0, 0).promise, ev2, 'buffered ones are still found after close');
});

t.test('events: listener, buffer, waiters, since', async (t) => {
  const { f, q } = await connectFake(t);
  const all: QmpEvent[] = [];
  q.on('event', (ev) => all.push(ev));
  // The event arrives with the reply, before waitEvent is called.
  await q.execute('event-then-reply', { event: 'NIC_RX_FILTER_CHANGED', data: { name: 'nic0' } });
  const ev = await q.waitEvent('NIC_RX_FILTER_CHANGED', (e) => e.data.name === 'nic0', 100);
  t.match(ev, { event: 'NIC_RX_FILTER_CHANGED', data: { name: 'nic0' }, timestamp: { seconds: 1, microseconds: 2 }, seq: 1 });
  t.equal(q.lastEventSeq, 1);
  t.equal(all.length, 1);
  // ... but not when the caller says it is too old.
  await t.rejects(q.waitEvent('NIC_RX_FILTER_CHANGED', undefined, 80, q.lastEventSeq), { code: 'ETIMEDOUT', message: /no NIC_RX_FILTER_CHANGED event within 80 ms/ });
  // A waiter registered first, the event later; others with a predicate that does not match wait on.
  const mark = q.lastEventSeq;
  const w1 = q.waitEvent('WATCHDOG', (e) => e.data.action === 'reset', 1000, mark);
  const w2 = q.waitEvent('WATCHDOG', undefined, 1000, mark);
  await f.conn.event('WATCHDOG', { action: 'pause' });
  await f.conn.event('WATCHDOG', { action: 'reset' });
  t.equal((await w2).data.action, 'pause');
  t.equal((await w1).data.action, 'reset');
  t.equal(all.length, 3);
  // A throwing predicate rejects its waiter only.
  await t.rejects(
    q.waitEvent(
      'WATCHDOG',
      () => {
        throw new Error('bad predicate');
      },
      100,
    ),
    { message: 'bad predicate' },
  );
  // The buffer is bounded.
  for (let i = 0; i < 70; i++) await f.conn.event('SPAM', { i });
  await q.waitEvent('SPAM', (e) => e.data.i === 69, 1000);
  await t.rejects(
    q.waitEvent('SPAM', (e) => e.data.i === 0, 50),
    { code: 'ETIMEDOUT' },
    'the oldest were dropped',
  );
  t.ok(await q.waitEvent('SPAM', (e) => e.data.i === 10, 50), 'the newest 64 kept');
});
