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
  return check(t, err, want, message);
}

/** `refused` for a function that returns a promise, which must reject. */
export async function rejected(t: Asserts, fn: () => Promise<unknown>, want: Want, message?: RegExp): Promise<NetfdError | undefined> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  return check(t, err, want, message);
}

function check(t: Asserts, err: unknown, want: Want, message?: RegExp): NetfdError | undefined {
  if (!(err instanceof NetfdError)) {
    t.fail(`expected a NetfdError ${want.code} for ${want.field}, got ${err === undefined ? 'no error' : String(err)}`);
    return undefined;
  }
  t.strictSame({ code: err.code, field: err.field, value: err.value }, want, `${want.code} ${want.field} ${JSON.stringify(want.value)}`);
  if (message) t.match(err.message, message, 'the message says what is wrong');
  return err;
}
