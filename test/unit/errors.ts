// lib/errors.ts: the hint and the errors met while undoing are fields, never
// glued into a message; describeError joins them for people; the agent's
// protocol carries both.
import t from 'tap';
import { describeError, fromNative, NetfdError, suppress, suppressedText } from '../../lib/errors';
import { errorBody, replyError } from '../../lib/agent/protocol';

t.test('fromNative keeps the message and puts the hint in its own field', async (t) => {
  const raw = Object.assign(new Error('RTM_NEWLINK: File exists'), { code: 'EEXIST', errno: -17, syscall: 'RTM_NEWLINK', extack: 'x', extackOffset: 20 });
  const e = fromNative(raw);
  t.equal(e.message, 'RTM_NEWLINK: File exists', 'the message is what failed, nothing added');
  t.equal(e.hint, 'pick another name, or delete the existing link first');
  t.match(e, { code: 'EEXIST', errno: -17, syscall: 'RTM_NEWLINK', extack: 'x', extackOffset: 20 });
  t.equal(e.cause, raw);
  t.equal(fromNative(raw, 'do this instead').hint, 'do this instead', 'a caller hint wins');
  t.equal(fromNative(Object.assign(new Error('odd'), { code: 'EXDEV' })).hint, undefined, 'no hint when netfd has none');
  t.equal(describeError(e), 'RTM_NEWLINK: File exists — pick another name, or delete the existing link first');
});

t.test('suppress records the rollback failure; the first error is left as it was', async (t) => {
  const first = new NetfdError('creating vnet0 failed', { code: 'EEXIST', hint: 'pick another name' });
  const stack = first.stack;
  t.equal(suppress(first, new Error('EBUSY on delete'), 'undoing setup'), first);
  suppress(first, fromNative(Object.assign(new Error('no such device'), { code: 'ENODEV' })), 'releasing network devices');
  t.equal(first.message, 'creating vnet0 failed', 'message unchanged');
  t.equal(first.stack, stack, 'stack unchanged');
  t.same(
    first.suppressed?.map((s) => s.during),
    ['undoing setup', 'releasing network devices'],
  );
  t.equal(describeError(first), 'creating vnet0 failed — pick another name (undoing setup also failed: EBUSY on delete) (releasing network devices also failed: no such device)');
  t.equal(suppressedText(new Error('plain')), '', 'nothing suppressed: no text');
  const plain = new Error('a plain error');
  suppress(plain, new Error('second'), 'rolling back');
  t.equal(describeError(plain), 'a plain error (rolling back also failed: second)', 'any Error can carry them');
  t.equal(suppress(undefined, new Error('x'), 'y'), undefined, 'a non-object is returned as is');
  t.equal(describeError('text'), 'text');
});

t.test('the agent protocol carries hint and suppressed errors to the client', async (t) => {
  const e = new NetfdError('macvtap on eth9 failed', { code: 'ENODEV', hint: 'check the device name', field: 'source', value: 'eth9' });
  suppress(e, new NetfdError('x', { code: 'EIO', hint: 'h' }), 'releasing');
  const body = errorBody(e);
  t.same(body, { code: 'ENODEV', message: 'macvtap on eth9 failed', field: 'source', value: 'eth9', hint: 'check the device name', suppressed: [{ during: 'releasing', message: 'x — h' }] });
  const back = replyError(JSON.parse(JSON.stringify(body)));
  t.equal(back.message, e.message);
  t.equal(back.hint, e.hint);
  t.equal(describeError(back), describeError(e), 'the client prints what the agent would');
  t.notOk('hint' in errorBody(new Error('no hint')), 'no hint field without one');
});
