// What the connect functions share (lib/netdev/connect.ts): a template name
// that lost a race is tried again.
import t from 'tap';
import { NetfdError } from '../../../lib/errors';
import { FdSet } from '../../../lib/sys/fds';
import { closingOnError, withNameRetry } from '../../../lib/netdev/connect';

const eexist = () => new NetfdError('File exists', { code: 'EEXIST', errno: -17 });

t.test('a template name that met EEXIST is tried again; exact names are not', async (t) => {
  let calls = 0;
  t.equal(await withNameRetry('vnet%d', async () => (++calls < 3 ? Promise.reject(eexist()) : 'vnet7')), 'vnet7');
  t.equal(calls, 3, 'two lost races, then a name');
  calls = 0;
  await t.rejects(
    withNameRetry('mine0', async () => (calls++, Promise.reject(eexist()))),
    { code: 'EEXIST' },
  );
  t.equal(calls, 1, 'an exact name is not retried');
  calls = 0;
  await t.rejects(
    withNameRetry('vnet%d', async () => (calls++, Promise.reject(new NetfdError('x', { code: 'ENODEV' })))),
    { code: 'ENODEV' },
  );
  t.equal(calls, 1, 'other errors are not retried');
  calls = 0;
  await t.rejects(
    withNameRetry('vnet%d', async () => (calls++, Promise.reject(eexist()))),
    { code: 'EEXIST' },
  );
  t.equal(calls, 8, 'gives up after 8 attempts');
});

t.test('closingOnError closes the fds when the steps after opening them fail', async (t) => {
  const closed: string[] = [];
  const fake = (name: string) => ({ close: () => void closed.push(name) }) as unknown as FdSet;
  t.equal(await closingOnError(fake('ok'), async () => 'done'), 'done');
  t.same(closed, [], 'kept on success: the caller owns them');
  await t.rejects(
    closingOnError(fake('a'), async () => Promise.reject(new Error('step failed'))),
    /step failed/,
  );
  t.same(closed, ['a'], 'closed on failure');
  const failing = {
    close: () => {
      throw new Error('close failed');
    },
  } as unknown as FdSet;
  await t.rejects(
    closingOnError(failing, async () => Promise.reject(new Error('step failed'))),
    /step failed/,
    "the step's error is reported, not close's",
  );
});
