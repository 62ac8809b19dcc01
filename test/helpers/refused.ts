// Asserting a NetfdError by code, field and value (unit tests of bad input).
import t from 'tap';
import { NetfdError } from '../../lib/errors';

export type Asserts = Parameters<Parameters<typeof t.test>[0]>[0];

export interface Want {
  code: string;
  field: string;
  value: unknown;
}

/** Runs `fn`, which must throw a NetfdError with exactly this code, field and value. */
export function refused(t: Asserts, fn: () => unknown, want: Want, message?: RegExp): NetfdError | undefined {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  if (!(err instanceof NetfdError)) {
    t.fail(`expected a NetfdError ${want.code} for ${want.field}, got ${err === undefined ? 'no error' : String(err)}`);
    return undefined;
  }
  t.strictSame({ code: err.code, field: err.field, value: err.value }, want, `${want.code} ${want.field} ${JSON.stringify(want.value)}`);
  if (message) t.match(err.message, message, 'the message says what is wrong');
  return err;
}
