// One error class for everything netfd reports. Programs branch on `code`
// ('EEXIST', 'ENOENT', 'INVALID_ARGUMENT', 'VHOST_UNAVAILABLE', ...); system
// errors also carry `errno` (negative, as Node's own), `syscall` and, for
// netlink, the kernel's extended-ack text in `extack`.

/**
 * Every code netfd itself gives an error, and when. The README's table of
 * error codes is this table (a unit test keeps the two equal). System errors
 * keep the kernel's errno name instead (`EEXIST`, `ENOENT`, ...): see
 * {@link ErrnoCode}.
 */
export const NETFD_CODES = {
  INVALID_ARGUMENT: 'an input is wrong (an option, a name, a MAC, an XML attribute, a command-line value); thrown before any host change, with `field` and `value`',
  INVALID_XML: 'the XML text is not a string, not well-formed, or has no root element',
  NOT_SUPPORTED: 'valid libvirt XML that netfd does not apply (an element, attribute or type), named by its XPath; netfd never ignores it',
  VHOST_UNAVAILABLE: "`<driver name='vhost'>` but vhost-net cannot be used here (not built, not loaded, no permission, or no KVM); nothing is left behind",
  SCRIPT_FAILED: 'an interface `<script>` or `<downscript>` exited non-zero, was killed or ran over 30 s; carries its stderr',
  NOT_BRIDGE_PORT: 'a bridge-port setting on a device that is not in a bridge',
  TC_UNAVAILABLE: "`<bandwidth>` needs iproute2's `tc`, which is not installed (or NETFD_TC names no program)",
  TC_FAILED: "`tc` refused a command of `<bandwidth>` (e.g. a kernel without sch_htb, sch_sfq, cls_fw or act_police); the message has tc's own and the interface's setup is undone",
  QEMU_FAILED: "qemu did not start (bad argv, missing kernel or disk, exited before its QMP socket greeted); the message has qemu's own",
  QMP_CLOSED: 'the QMP connection closed (qemu exited) while a command waited, or a command was sent after it closed',
  QMP_PROTOCOL: 'qemu sent something that is not QMP (no greeting, an over-long line)',
  QMP_ERROR: "qemu refused a QMP command; `QmpError` has qemu's `errorClass` and `desc`",
  QMP_FD_UNSUPPORTED: 'fds were to be sent over a QMP connection that has no unix socket to send them with',
  NO_DEVICE: "a network's pool has no device, or none free for an exclusive (passthrough) connection",
  NO_VFS: 'an SR-IOV physical function has no virtual function with a network device (none enabled, no driver, or vfio-pci)',
  NOT_SRIOV: 'a `<pf dev>` that is not an SR-IOV capable PCI network device',
  NETWORK_INACTIVE: 'a network that is defined but not started (`net-start` it first)',
  CORRUPT_STATE: 'a state or definition file netfd cannot read or parse; it is reported by name and never overwritten',
  NATIVE_MISSING: 'the native addon (`netfd.node`) is not built or does not load: run `npm rebuild netfd` (needs a C++ compiler, make, python3)',
  ACL_INVALID: 'the agent ACL file (or a file it includes) has a mistake; the message names the file, line and word',
  ACCESS_DENIED: 'the agent ACL refuses the request; `rule` names the deciding rule and its `file:line`',
  LIMIT_EXCEEDED: 'a request would take the caller over an agent `limit` (interfaces, domains, state, connections, requests)',
  RATE_LIMITED: 'more than 200 requests a second (bursts of 400) from one user to the agent',
  ACCOUNT_LOOKUP_FAILED: "the name service failed (not 'no such user') while the agent resolved an account",
  BAD_REQUEST: 'an agent request that is malformed (not JSON, a wrong or unknown argument) or came with fds',
  UNKNOWN_OP: 'an agent request with an operation the agent does not know',
  UNSUPPORTED_VERSION: 'an agent request in another protocol version',
  REQUEST_TOO_LARGE: 'an agent request over 128 KiB',
  REPLY_TOO_LARGE: 'an agent reply too large for one message (the operation itself succeeded)',
  PROTOCOL_ERROR: 'the agent sent a reply this client cannot read (not JSON, another version, malformed)',
} as const;

/** A code netfd gives its own errors: a key of {@link NETFD_CODES}. */
export type NetfdCode = keyof typeof NETFD_CODES;

/**
 * A system error's code: the errno name Node and the kernel use (`EEXIST`,
 * `ENOENT`, `EBUSY`, `ETIMEDOUT`, ...), or the addon's `ENATIVE` for a bug
 * it caught.
 */
export type ErrnoCode = `E${string}`;

/** What `NetfdError.code` may be: netfd's own codes or an errno name. */
export type NetfdErrorCode = NetfdCode | ErrnoCode;

/** True when `code` is one of netfd's own codes (not an errno name). */
export function isNetfdCode(code: unknown): code is NetfdCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(NETFD_CODES, code);
}

/** The fields of a {@link NetfdError}, for its constructor. */
export interface NetfdErrorOptions {
  code: NetfdErrorCode;
  errno?: number | undefined;
  syscall?: string | undefined;
  extack?: string | undefined;
  extackOffset?: number | undefined;
  field?: string | undefined;
  value?: unknown;
  cause?: unknown;
  /** What to do next (kept apart from the message; {@link describeError} joins them for people). */
  hint?: string | undefined;
}

/** An error met while undoing after another one (a rollback that also failed). */
export interface SuppressedError {
  /** What was being undone: "releasing network devices", "rolling back". */
  during: string;
  /** The error it met. */
  error: unknown;
}

/**
 * The one error class netfd throws and rejects with. Branch on `code`; read
 * `message` for what to do next.
 */
export class NetfdError extends Error {
  /** One of {@link NETFD_CODES}, or the errno name of a system error. */
  readonly code: NetfdErrorCode;
  /** For system errors: the errno, negative as Node's own (`-17` for EEXIST). */
  readonly errno?: number;
  /** For system errors: the syscall, ioctl or netlink request that failed. */
  readonly syscall?: string;
  /** For netlink errors: the kernel's extended-ack text, when it gave one. */
  readonly extack?: string;
  /** For netlink errors: the byte offset in the request of the attribute the extended ack points at. */
  readonly extackOffset?: number;
  /** For INVALID_ARGUMENT and other errors about an input: the option, XPath or field that was wrong. */
  readonly field?: string;
  /** With `field`: the value that was given. */
  readonly value?: unknown;
  /** What to do next, when netfd knows. Not part of `message`. */
  readonly hint?: string;
  /** Errors met while undoing after this one, in order ({@link suppress}). */
  suppressed?: SuppressedError[];

  /** Usually made by netfd itself; programs read the fields. */
  constructor(message: string, o: NetfdErrorOptions) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.name = 'NetfdError';
    this.code = o.code;
    if (o.errno !== undefined) this.errno = o.errno;
    if (o.syscall !== undefined) this.syscall = o.syscall;
    if (o.extack !== undefined) this.extack = o.extack;
    if (o.extackOffset !== undefined) this.extackOffset = o.extackOffset;
    if (o.field !== undefined) this.field = o.field;
    if (o.field !== undefined) this.value = o.value;
    if (o.hint !== undefined) this.hint = o.hint;
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

/** Turns an error from the addon into a NetfdError, with a hint (what to do next) when netfd has one. */
export function fromNative(err: unknown, hint?: string): NetfdError {
  if (err instanceof NetfdError) return err;
  const e = err as { message?: string; code?: string; errno?: number; syscall?: string; extack?: string; extackOffset?: number };
  // The addon's codes are errno names (and ENATIVE, EUNKNOWN); anything else is kept as it came.
  const code = (typeof e?.code === 'string' ? e.code : 'EUNKNOWN') as NetfdErrorCode;
  return new NetfdError(e?.message ?? String(err), { code, errno: e?.errno, syscall: e?.syscall, extack: e?.extack, extackOffset: e?.extackOffset, cause: err, hint: hint ?? hints[code] });
}

/**
 * Records on `err` (as `err.suppressed`) that undoing after it also failed,
 * with `other`, while `during`; `err` itself (its message, code, stack) is
 * left as it was. Returns `err`, to rethrow.
 */
export function suppress(err: unknown, other: unknown, during: string): unknown {
  if (typeof err === 'object' && err !== null) {
    const e = err as { suppressed?: SuppressedError[] };
    (e.suppressed ??= []).push({ during, error: other });
  }
  return err;
}

/**
 * The text a person reads for an error: its message, then its hint after
 * " — ", then each suppressed error as " (DURING also failed: …)".
 */
export function describeError(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const e = err as { message?: unknown; hint?: unknown; suppressed?: SuppressedError[] };
  let text = typeof e.message === 'string' ? e.message : String(err);
  if (typeof e.hint === 'string' && e.hint) text += ` — ${e.hint}`;
  return text + suppressedText(err);
}

/** The suppressed errors of `err` as text: " (DURING also failed: …)" each, or ''. */
export function suppressedText(err: unknown): string {
  const list = (err as { suppressed?: unknown } | null)?.suppressed;
  return Array.isArray(list) ? list.map((s: SuppressedError) => ` (${s.during} also failed: ${describeError(s.error)})`).join('') : '';
}

/** Awaits a native promise and rethrows its failure as a NetfdError. */
export async function call<T>(p: Promise<T>, hint?: string): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw fromNative(err, hint);
  }
}
