// The agent's wire protocol, version 1. Each message is one JSON object in
// one seqpacket datagram; fds travel with the reply they belong to
// (SCM_RIGHTS), in the order the reply's result lists them.
//
//   request  {"v":1, "id":7, "op":"prepare", "args":{...}}
//   reply    {"v":1, "id":7, "ok":true, "result":{...}, "fds":2}
//            {"v":1, "id":7, "ok":false, "error":{"code":"ACCESS_DENIED", "message":"...", "field":..., "value":..., "rule":..., "hint":..., "suppressed":[{"during":..., "message":...}]}}
//
// A request that cannot be read gets a reply with "id": null. Requests never
// carry fds.
import { describeError, NetfdError, NetfdErrorCode, suppress, SuppressedError } from '../errors';

/** The protocol version this client and agent speak (`"v"` in every message). */
export const PROTOCOL_VERSION = 1;
/** Where the agent listens unless told otherwise. */
export const DEFAULT_SOCKET = '/run/netfd/agent.sock';
/** The longest request the agent reads; longer ones are refused (REQUEST_TOO_LARGE). Below the kernel's default limit for one seqpacket message (about 208 KiB), so a client can always send one. */
export const MAX_REQUEST = 128 * 1024;
/** The longest reply a client reads. */
export const MAX_REPLY = 4 * 1024 * 1024;

/** Every operation and the arguments it takes: name → [type, required]. */
export const OPS = {
  hello: {},
  prepare: { xml: ['string', true], qmp: ['string', false], accel: ['string', false], running: ['boolean', false] },
  release: { name: ['string', true] },
  claim: { name: ['string', true] },
  list: {},
  dumpxml: { name: ['string', true], inactive: ['boolean', false] },
  attach: { name: ['string', true], xml: ['string', true] },
  detach: { name: ['string', true], mac: ['string', true] },
  'set-running': { name: ['string', true], running: ['boolean', true] },
  'record-pci': { name: ['string', true], addresses: ['string[]', true] },
  probe: { only: ['string[]', false] },
  'net-list': { all: ['boolean', false] },
  'net-dumpxml': { name: ['string', true], inactive: ['boolean', false] },
  'net-define': { xml: ['string', true] },
  'net-undefine': { name: ['string', true] },
  'net-start': { name: ['string', true] },
  'net-destroy': { name: ['string', true] },
  'net-autostart': { name: ['string', true], enable: ['boolean', true] },
  cni: { command: ['string', true], containerId: ['string', false], netns: ['string', false], ifname: ['string', false], args: ['string', false], path: ['string', false], config: ['string', true] },
  'cni-claim': { containerId: ['string', true], ifname: ['string', true] },
} as const satisfies Record<string, Record<string, readonly ['string' | 'boolean' | 'string[]', boolean]>>;

/** An operation the agent knows (`hello`, `prepare`, `release`, …). */
export type Op = keyof typeof OPS;

/** A request as the agent reads it: one JSON object per SOCK_SEQPACKET message. */
export interface Request {
  v: number;
  id: number;
  op: Op;
  args: Record<string, unknown>;
}

/** The `error` of a failed reply: a NetfdError's code, message, field, value and (for ACL refusals) rule. */
export interface ErrorBody {
  /** The error's code (from an agent of another version possibly one this client does not know). */
  code: NetfdErrorCode;
  message: string;
  field?: string;
  value?: unknown;
  /** The ACL rule that refused (or the limit), as written with its file:line. */
  rule?: string;
  /** What to do next (NetfdError.hint). */
  hint?: string;
  /** What also failed while the agent undid its work (NetfdError.suppressed), as text. */
  suppressed?: { during: string; message: string }[];
}

/** A reply: `ok` with a `result` (and `fds`, how many came with it), or an `error`. */
export type Reply = { v: number; id: number | null; ok: true; result: unknown; fds?: number } | { v: number; id: number | null; ok: false; error: ErrorBody };

function bad(message: string, field: string, value: unknown, code: NetfdErrorCode = 'BAD_REQUEST'): NetfdError {
  return new NetfdError(message, { code, field, value });
}

const typeName = (x: unknown): string => (x === null ? 'null' : Array.isArray(x) ? 'array' : typeof x);

/**
 * Reads one request. Throws NetfdError BAD_REQUEST (or UNSUPPORTED_VERSION,
 * UNKNOWN_OP) naming the field; `idOf` recovers the id for the reply when the
 * message was JSON enough to hold one.
 */
export function parseRequest(data: Buffer): Request {
  let msg: unknown;
  try {
    msg = JSON.parse(data.toString('utf8'));
  } catch (e) {
    throw bad(`the request is not JSON: ${(e as Error).message}`, 'request', data.length > 64 ? `${data.subarray(0, 64).toString('utf8')}…` : data.toString('utf8'));
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw bad(`a request is a JSON object, not ${typeName(msg)}`, 'request', typeName(msg));
  const m = msg as Record<string, unknown>;
  if (m.v !== PROTOCOL_VERSION) throw bad(`protocol version ${JSON.stringify(m.v)} is not supported: this agent speaks version ${PROTOCOL_VERSION}`, 'v', m.v, 'UNSUPPORTED_VERSION');
  if (typeof m.id !== 'number' || !Number.isSafeInteger(m.id) || m.id < 0) throw bad(`id must be a non-negative integer, not ${JSON.stringify(m.id)}`, 'id', m.id);
  if (typeof m.op !== 'string' || !Object.hasOwn(OPS, m.op)) throw bad(`unknown operation ${JSON.stringify(m.op)}; known: ${Object.keys(OPS).join(', ')}`, 'op', m.op, 'UNKNOWN_OP');
  const op = m.op as Op;
  const args = m.args === undefined ? {} : m.args;
  if (typeof args !== 'object' || args === null || Array.isArray(args)) throw bad(`args must be an object, not ${typeName(args)}`, 'args', args);
  const spec = OPS[op] as Record<string, readonly [string, boolean]>;
  for (const k of Object.keys(args))
    if (!Object.hasOwn(spec, k))
      throw bad(`${op} takes no argument ${JSON.stringify(k)}${Object.keys(spec).length ? ` (it takes ${Object.keys(spec).join(', ')})` : ''}`, `args.${k}`, (args as Record<string, unknown>)[k]);
  for (const [k, [type, required]] of Object.entries(spec)) {
    const x = (args as Record<string, unknown>)[k];
    if (x === undefined) {
      if (required) throw bad(`${op} needs args.${k} (${type})`, `args.${k}`, undefined);
      continue;
    }
    const ok = type === 'string[]' ? Array.isArray(x) && x.every((e) => typeof e === 'string') : typeof x === type;
    if (!ok) throw bad(`args.${k} must be ${type === 'string[]' ? 'an array of strings' : `a ${type}`}, not ${typeName(x)}`, `args.${k}`, x);
  }
  return { v: PROTOCOL_VERSION, id: m.id, op, args: args as Record<string, unknown> };
}

/** The id of a request that failed `parseRequest`, when it had a usable one. */
export function idOf(data: Buffer): number | null {
  try {
    const m = JSON.parse(data.toString('utf8')) as { id?: unknown };
    return typeof m?.id === 'number' && Number.isSafeInteger(m.id) && m.id >= 0 ? m.id : null;
  } catch {
    return null;
  }
}

export function encodeRequest(id: number, op: Op, args: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, id, op, args }));
}

export function okReply(id: number | null, result: unknown, fds = 0): Buffer {
  return Buffer.from(JSON.stringify(fds ? { v: PROTOCOL_VERSION, id, ok: true, result, fds } : { v: PROTOCOL_VERSION, id, ok: true, result }));
}

/** An error reply from any thrown value: NetfdError keeps its code, field, value and rule. */
export function errorReply(id: number | null, err: unknown): Buffer {
  return Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, id, ok: false, error: errorBody(err) }));
}

export function errorBody(err: unknown): ErrorBody {
  const e = err as { code?: unknown; message?: unknown; field?: unknown; value?: unknown; rule?: unknown; hint?: unknown; suppressed?: SuppressedError[] };
  const body: ErrorBody = { code: typeof e?.code === 'string' ? (e.code as NetfdErrorCode) : 'EUNKNOWN', message: typeof e?.message === 'string' ? e.message : String(err) };
  if (typeof e?.field === 'string') {
    body.field = e.field;
    body.value = e.value === undefined ? null : e.value;
  }
  if (typeof e?.rule === 'string') body.rule = e.rule;
  if (typeof e?.hint === 'string') body.hint = e.hint;
  if (Array.isArray(e?.suppressed) && e.suppressed.length) body.suppressed = e.suppressed.map((x) => ({ during: String(x.during), message: describeError(x.error) }));
  return body;
}

/** Reads a reply (client side); a malformed one is PROTOCOL_ERROR. */
export function parseReply(data: Buffer): Reply {
  let m: Reply;
  try {
    m = JSON.parse(data.toString('utf8')) as Reply;
  } catch (e) {
    throw new NetfdError(`the agent sent a reply that is not JSON: ${(e as Error).message}`, { code: 'PROTOCOL_ERROR' });
  }
  if (typeof m !== 'object' || m === null || m.v !== PROTOCOL_VERSION || typeof m.ok !== 'boolean')
    throw new NetfdError(`the agent sent a reply this client cannot read (protocol ${JSON.stringify((m as { v?: unknown })?.v)}, want ${PROTOCOL_VERSION})`, { code: 'PROTOCOL_ERROR' });
  const bad = (what: string) => new NetfdError(`the agent sent a malformed reply: ${what}`, { code: 'PROTOCOL_ERROR' });
  if (m.id !== null && !(typeof m.id === 'number' && Number.isSafeInteger(m.id) && m.id >= 0)) throw bad('id is not null or a non-negative integer');
  if (m.ok) {
    if (m.fds !== undefined && !(Number.isInteger(m.fds) && m.fds >= 0 && m.fds <= 253)) throw bad('fds is not a count from 0 to 253');
  } else {
    const e = m.error as Partial<ErrorBody> | null | undefined;
    if (typeof e !== 'object' || e === null || typeof e.code !== 'string' || typeof e.message !== 'string') throw bad('an error reply without an error {code, message}');
    if (e.rule !== undefined && typeof e.rule !== 'string') throw bad('error.rule is not a string');
    if (e.hint !== undefined && typeof e.hint !== 'string') throw bad('error.hint is not a string');
    if (e.suppressed !== undefined && !(Array.isArray(e.suppressed) && e.suppressed.every((x) => typeof x?.during === 'string' && typeof x?.message === 'string')))
      throw bad('error.suppressed is not a list of {during, message}');
  }
  return m;
}

/** The error a client throws for an error reply. */
export function replyError(e: ErrorBody): NetfdError & { rule?: string } {
  const err = new NetfdError(e.message, { code: e.code, hint: e.hint, ...(e.field !== undefined ? { field: e.field, value: e.value } : {}) }) as NetfdError & { rule?: string };
  if (e.rule !== undefined) err.rule = e.rule;
  for (const x of e.suppressed ?? []) suppress(err, { message: x.message }, x.during);
  return err;
}
