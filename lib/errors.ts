// One error class for everything netfd reports. Programs branch on `code`
// ('EEXIST', 'ENOENT', 'INVALID_ARGUMENT', 'VHOST_UNAVAILABLE', ...); system
// errors also carry `errno` (negative, as Node's own), `syscall` and, for
// netlink, the kernel's extended-ack text in `extack`.

export interface NetfdErrorOptions {
  code: string;
  errno?: number;
  syscall?: string;
  extack?: string;
  field?: string;
  value?: unknown;
  cause?: unknown;
}

export class NetfdError extends Error {
  readonly code: string;
  readonly errno?: number;
  readonly syscall?: string;
  readonly extack?: string;
  /** For INVALID_ARGUMENT: the option that was wrong and its value. */
  readonly field?: string;
  readonly value?: unknown;

  constructor(message: string, o: NetfdErrorOptions) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.name = 'NetfdError';
    this.code = o.code;
    if (o.errno !== undefined) this.errno = o.errno;
    if (o.syscall !== undefined) this.syscall = o.syscall;
    if (o.extack !== undefined) this.extack = o.extack;
    if (o.field !== undefined) this.field = o.field;
    if (o.field !== undefined) this.value = o.value;
  }
}

/** An input error naming the field and the value, thrown before any syscall. */
export function invalid(field: string, value: unknown, expected: string): NetfdError {
  return new NetfdError(`invalid ${field} ${JSON.stringify(value)}: ${expected}`, { code: 'INVALID_ARGUMENT', field, value });
}

// What to do next, for the errors users meet most.
const hints: Record<string, string> = {
  EPERM: 'netfd needs root or CAP_NET_ADMIN for this',
  EACCES: 'permission denied: run as root or grant access to the device',
  EEXIST: 'pick another name, or delete the existing link first',
  EBUSY: 'the device is in use (a passthru macvtap or another owner holds it)',
};

/** Turns an error from the addon into a NetfdError, adding a hint. */
export function fromNative(err: unknown, hint?: string): NetfdError {
  if (err instanceof NetfdError) return err;
  const e = err as { message?: string; code?: string; errno?: number; syscall?: string; extack?: string };
  const code = typeof e?.code === 'string' ? e.code : 'EUNKNOWN';
  const extra = hint ?? hints[code];
  const message = `${e?.message ?? String(err)}${extra ? ` — ${extra}` : ''}`;
  return new NetfdError(message, { code, errno: e?.errno, syscall: e?.syscall, extack: e?.extack, cause: err });
}

/** Awaits a native promise and rethrows its failure as a NetfdError. */
export async function call<T>(p: Promise<T>, hint?: string): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw fromNative(err, hint);
  }
}
