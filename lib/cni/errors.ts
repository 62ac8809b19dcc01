// CNI errors: the spec's well-known codes (0-99), netfd's own codes (100+)
// mapped from NetfdError codes by one table, and the error object a plugin
// prints, {cniVersion, code, msg, details}. Pure.
import { isNetfdCode, NETFD_CODES, NetfdCode } from '../errors';

/** The spec's well-known error codes (CNI 1.1.0, "Error codes"). */
export const CNI_CODES = {
  /** Incompatible CNI version. */
  INCOMPATIBLE_VERSION: 1,
  /** Unsupported field in the network configuration; the message names its key and value. */
  UNSUPPORTED_FIELD: 2,
  /** Container unknown or does not exist (the runtime need not clean up). */
  UNKNOWN_CONTAINER: 3,
  /** Invalid necessary environment variables; the message names them. */
  INVALID_ENVIRONMENT: 4,
  /** I/O failure. */
  IO_FAILURE: 5,
  /** Failed to decode content (the configuration is not JSON, …). */
  DECODING_FAILURE: 6,
  /** Invalid network configuration. */
  INVALID_CONFIG: 7,
  /** Try again later (a transient condition). */
  TRY_AGAIN_LATER: 11,
  /** STATUS: the plugin cannot serve ADD now. */
  NOT_AVAILABLE: 50,
  /** STATUS: the plugin cannot serve ADD now, and existing containers may have limited connectivity. */
  NOT_AVAILABLE_LIMITED: 51,
} as const;

/**
 * netfd's own CNI codes (100 and up), one per NetfdError code that has no
 * well-known equivalent. Every code of NETFD_CODES is in {@link NETFD_TO_CNI}
 * (a unit test keeps it total), so a new netfd code needs a line here.
 */
export const NETFD_TO_CNI: Readonly<Record<NetfdCode, number>> = {
  INVALID_ARGUMENT: CNI_CODES.INVALID_CONFIG,
  INVALID_XML: CNI_CODES.DECODING_FAILURE,
  NOT_SUPPORTED: CNI_CODES.UNSUPPORTED_FIELD,
  RATE_LIMITED: CNI_CODES.TRY_AGAIN_LATER,
  VHOST_UNAVAILABLE: 100,
  SCRIPT_FAILED: 101,
  NOT_BRIDGE_PORT: 102,
  TC_UNAVAILABLE: 103,
  TC_FAILED: 104,
  QEMU_FAILED: 105,
  QMP_CLOSED: 106,
  QMP_PROTOCOL: 107,
  QMP_ERROR: 108,
  QMP_FD_UNSUPPORTED: 109,
  NO_DEVICE: 110,
  NO_VFS: 111,
  NOT_SRIOV: 112,
  NETWORK_INACTIVE: 113,
  CORRUPT_STATE: 114,
  NATIVE_MISSING: 115,
  ACL_INVALID: 116,
  ACCESS_DENIED: 117,
  LIMIT_EXCEEDED: 118,
  ACCOUNT_LOOKUP_FAILED: 119,
  BAD_REQUEST: 120,
  UNKNOWN_OP: 121,
  UNSUPPORTED_VERSION: 122,
  REQUEST_TOO_LARGE: 123,
  REPLY_TOO_LARGE: 124,
  PROTOCOL_ERROR: 125,
};

/**
 * System errors (errno names) with a code of their own; any other errno
 * name is an I/O failure (5). EAGAIN and EBUSY are transient (11).
 */
export const ERRNO_TO_CNI: Readonly<Record<string, number>> = {
  EAGAIN: CNI_CODES.TRY_AGAIN_LATER,
  EBUSY: CNI_CODES.TRY_AGAIN_LATER,
  EEXIST: 130,
  ENOENT: 131,
  ENODEV: 132,
  EPERM: 133,
  EACCES: 134,
  EINVAL: 135,
  EADDRINUSE: 136,
};

/** CHECK: the attachment is not as ADD left it (kind, name, MAC, MTU or state differ, or it is gone). */
export const CHECK_FAILED = 140;

/** A CNI error: the code and the texts a plugin prints. */
export class CniError extends Error {
  readonly cniCode: number;
  readonly details: string | undefined;
  constructor(cniCode: number, msg: string, details?: string) {
    super(msg);
    this.name = 'CniError';
    this.cniCode = cniCode;
    this.details = details;
  }
}

/** The error object a plugin prints on stdout (exit status 1). */
export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

/** Code 2: the field `key` with `value` is not something netfd applies (the message names both). */
export function unsupportedField(key: string, value: unknown, why: string): CniError {
  return new CniError(CNI_CODES.UNSUPPORTED_FIELD, `unsupported field ${key}=${JSON.stringify(value)}: ${why}`);
}

/** Code 7: the field `key` has an invalid value. */
export function invalidConfig(key: string, value: unknown, expected: string): CniError {
  return new CniError(CNI_CODES.INVALID_CONFIG, `invalid ${key} ${JSON.stringify(value)}: ${expected}`);
}

/** The CNI code of a NetfdError code (or an errno name); anything unknown is 5 (I/O failure). */
export function cniCodeOf(code: unknown): number {
  if (isNetfdCode(code)) return NETFD_TO_CNI[code];
  if (typeof code === 'string' && Object.hasOwn(ERRNO_TO_CNI, code)) return ERRNO_TO_CNI[code];
  return CNI_CODES.IO_FAILURE;
}

/**
 * Any thrown value as a CNI error object. A CniError keeps its code and
 * texts; a NetfdError (or a system error) gets its code from the tables
 * above, `msg` its message and `details` its code, field, value and hint.
 */
export function errorJson(cniVersion: string, err: unknown): CniErrorJson {
  if (err instanceof CniError) {
    const out: CniErrorJson = { cniVersion, code: err.cniCode, msg: err.message };
    if (err.details !== undefined) out.details = err.details;
    return out;
  }
  const e = err as { code?: unknown; message?: unknown; field?: unknown; value?: unknown; hint?: unknown };
  const code = typeof e?.code === 'string' ? e.code : 'EUNKNOWN';
  const msg = typeof e?.message === 'string' ? e.message : String(err);
  const parts = [`netfd ${code}`];
  if (isNetfdCode(code)) parts.push(NETFD_CODES[code]);
  if (typeof e?.field === 'string') parts.push(`field ${e.field}=${JSON.stringify(e.value ?? null)}`);
  if (typeof e?.hint === 'string') parts.push(e.hint);
  return { cniVersion, code: cniCodeOf(code), msg, details: parts.join('; ') };
}
