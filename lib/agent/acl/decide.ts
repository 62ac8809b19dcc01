/**
 * The agent's access-control decisions over a parsed ACL (syntax.ts):
 * `decide`, `decideAll`, `mayAskAnything`, `limitFor`, `unknownNames`.
 *
 * @module
 */
// Deny wins over allow, nothing is allowed without a rule, uid 0 is nobody
// special. User and group names are looked up (through Accounts: the system's
// name service switch in the agent) when deciding, not when loading. A name
// that cannot be resolved (no such account, or the lookup failed) fails
// closed: see decide. Pure but for the lookups.
import { getSystemErrorName } from 'node:util';
import { invalid } from '../../errors';
import type { Accounts } from './accounts';
import { Acl, AclObject, describe, globMatch, isNumeric, Limit, LimitKind, MAX_ID, OBJECT_KINDS, Rule, Subject, VALUED } from './syntax';

/** Who asks: the peer credentials of the agent's socket. */
export interface Caller {
  uid: number;
  gid: number;
  pid?: number;
}

/** The answer to one request: allowed or not, why, and the rule that decided (null for the default deny). */
export interface Decision {
  allowed: boolean;
  /** The deny rule that refused, the allow rule that allowed, or null (default deny). */
  rule: Rule | null;
  reason: string;
}

function checkCaller(caller: Caller): void {
  const ok = (n: unknown): boolean => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= MAX_ID;
  if (!ok(caller?.uid) || !ok(caller?.gid)) throw invalid('caller', caller, 'uid and gid are integers from 0 to 4294967294');
}

function checkObject(object: AclObject): void {
  if (!(OBJECT_KINDS as readonly unknown[]).includes(object?.kind)) throw invalid('object', object, `the kind is one of ${OBJECT_KINDS.join(', ')}`);
  if (VALUED.has(object.kind) && (typeof object.value !== 'string' || object.value === '')) throw invalid('object', object, `a ${object.kind} object needs a non-empty value`);
}

/** "user alice (uid 1001)", or "uid 4242" for a uid without a passwd entry (or whose lookup failed). */
function who(caller: Caller, accounts: Accounts): string {
  let name: string | undefined;
  try {
    name = accounts.userName(caller.uid);
  } catch {
    name = undefined;
  }
  return name === undefined ? `uid ${caller.uid}` : `user ${name} (uid ${caller.uid})`;
}

/** "bridge br0", "ethernet", "all operations". */
function what(object: AclObject): string {
  if (object.kind === 'all') return 'all operations';
  if (object.kind === 'ethernet') return 'ethernet';
  return `${object.kind} ${object.value}`;
}

const failure = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Whether a subject covers the caller: true, false, or why that cannot be
 * known — "user X could not be resolved (no such user)", or a failed lookup of
 * the name or of the caller's groups. `groups` is computed once, when first needed.
 */
function subjectMatcher(caller: Caller, accounts: Accounts): (s: Subject) => boolean | string {
  let groups: number[] | string | undefined;
  return (s) => {
    if (s.kind === 'user' && s.id === '*') return true;
    let id: number | undefined;
    try {
      id = isNumeric(s.id) ? Number(s.id) : s.kind === 'user' ? accounts.uidOf(s.id) : accounts.gidOf(s.id);
    } catch (e) {
      return `${s.kind} ${s.id} could not be resolved (${failure(e)})`;
    }
    if (id === undefined) return `${s.kind} ${s.id} could not be resolved (no such ${s.kind})`;
    if (s.kind === 'user') return id === caller.uid;
    if (groups === undefined) {
      try {
        groups = accounts.groupsOf(caller.uid, caller.gid);
      } catch (e) {
        groups = `the groups of ${who(caller, accounts)} could not be resolved (${failure(e)})`;
      }
    }
    return typeof groups === 'string' ? groups : groups.includes(id);
  };
}

/** Whether a rule's object covers the requested one. passthru and passthrough are one mode. */
function objectMatches(rule: AclObject, object: AclObject): boolean {
  if (rule.kind === 'all') return true;
  if (rule.kind !== object.kind) return false;
  if (rule.kind === 'ethernet') return true;
  const value = object.value ?? '';
  const spellings = rule.kind === 'mode' && (value === 'passthru' || value === 'passthrough') ? ['passthrough', 'passthru'] : [value];
  return spellings.some((v) => globMatch(rule.value ?? '', v));
}

/**
 * Whether the ACL lets `caller` use `object`. The first applicable deny rule
 * refuses; else the first applicable allow rule allows; else refused (default
 * deny, rule null). `all` rules cover every object; an admin request
 * ({kind: 'all'}) is covered only by them. Fails closed: a deny rule whose
 * user or group cannot be resolved (no such account, or the lookup failed) or
 * whose group the caller's groups cannot be checked against applies to every
 * caller, the reason saying what could not be resolved; such an allow rule
 * grants nothing. Throws INVALID_ARGUMENT for a malformed caller or object.
 */
export function decide(acl: Acl, caller: Caller, object: AclObject, accounts: Accounts): Decision {
  checkCaller(caller);
  checkObject(object);
  const applies = subjectMatcher(caller, accounts);
  let allow: Rule | null = null;
  for (const rule of acl.rules) {
    if (!objectMatches(rule.object, object)) continue;
    const m = applies(rule.subject);
    if (m === false || (m !== true && rule.action === 'allow')) continue;
    if (rule.action === 'deny') {
      const why = m === true ? '' : `: ${m}, so the rule refuses everyone it might cover (fails closed)`;
      return { allowed: false, rule, reason: `${describe(rule)} refuses ${who(caller, accounts)} ${what(object)}${why}` };
    }
    allow ??= rule;
  }
  if (allow) return { allowed: true, rule: allow, reason: `${describe(allow)} allows ${who(caller, accounts)} ${what(object)}` };
  return { allowed: false, rule: null, reason: `no rule allows ${who(caller, accounts)} ${what(object)} (default deny)` };
}

/**
 * Whether the caller may ask for anything at all: some allow rule covers it
 * and no `deny ... all` rule might. The agent asks this before it reads a
 * request's XML, so a caller the ACL knows nothing of costs it no parsing.
 */
export function mayAskAnything(acl: Acl, caller: Caller, accounts: Accounts): Decision {
  checkCaller(caller);
  const applies = subjectMatcher(caller, accounts);
  let allow: Rule | null = null;
  for (const rule of acl.rules) {
    const a = applies(rule.subject);
    if (rule.action === 'deny' && rule.object.kind === 'all' && a !== false) return { allowed: false, rule, reason: `${describe(rule)} refuses ${who(caller, accounts)} everything` };
    if (rule.action === 'allow' && a === true) allow ??= rule;
  }
  if (allow) return { allowed: true, rule: allow, reason: `${describe(allow)} may allow ${who(caller, accounts)} something` };
  return { allowed: false, rule: null, reason: `no rule allows ${who(caller, accounts)} anything (default deny)` };
}

/**
 * decide for a request touching several objects: the first refusal, else
 * allowed with the decision for the last object. At least one object.
 */
export function decideAll(acl: Acl, caller: Caller, objects: AclObject[], accounts: Accounts): Decision {
  if (!Array.isArray(objects) || objects.length === 0) throw invalid('objects', objects, 'a request touches at least one object');
  let last: Decision | undefined;
  for (const object of objects) {
    last = decide(acl, caller, object, accounts);
    if (!last.allowed) return last;
  }
  return last as Decision;
}

/**
 * The smallest limit of kind `what` that applies to the caller (the first of
 * equals), or null when none does. Fails closed: a limit whose user or group
 * cannot be resolved, or whose group the caller's groups cannot be checked
 * against, applies.
 */
export function limitFor(acl: Acl, caller: Caller, what: LimitKind, accounts: Accounts): Limit | null {
  checkCaller(caller);
  const applies = subjectMatcher(caller, accounts);
  let best: Limit | null = null;
  for (const limit of acl.limits) if (limit.what === what && applies(limit.subject) !== false && (best === null || limit.value < best.value)) best = limit;
  return best;
}

/** The smallest interface limit that applies to the caller, or null when none does. */
export const interfaceLimit = (acl: Acl, caller: Caller, accounts: Accounts): Limit | null => limitFor(acl, caller, 'interfaces', accounts);

/**
 * The subjects of rules and limits naming a user or group that cannot be
 * resolved, once each (rules in file order, then limits): "user NAME" /
 * "group NAME" when there is no such account, "user NAME (lookup failed:
 * ECONNREFUSED)" (the errno's name, else the error's code) when the lookup
 * failed. Deny rules naming them refuse everyone they cover, allow rules
 * grant nothing, limits apply to everyone; the agent warns about them.
 */
export function unknownNames(acl: Acl, accounts: Accounts): string[] {
  const out = new Set<string>();
  for (const { subject: s } of [...acl.rules, ...acl.limits]) {
    if (s.id === '*' || isNumeric(s.id)) continue;
    try {
      const known = s.kind === 'user' ? accounts.uidOf(s.id) : accounts.gidOf(s.id);
      if (known === undefined) out.add(`${s.kind} ${s.id}`);
    } catch (e) {
      const { errno, code } = (e ?? {}) as { errno?: unknown; code?: unknown };
      const name = typeof errno === 'number' && Number.isInteger(errno) && errno < 0 ? getSystemErrorName(errno) : typeof code === 'string' ? code : 'EIO';
      out.add(`${s.kind} ${s.id} (lookup failed: ${name})`);
    }
  }
  return [...out];
}
