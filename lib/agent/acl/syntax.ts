/**
 * The agent's access-control list, as written: the file format, parsing
 * (`parseAcl`, `loadAcl` with its includes) and a rule written back as a line
 * (`describe`). Deciding is in decide.ts.
 *
 * @module
 */
// The host agent's access-control list, in the spirit of qemu-bridge-helper's
// bridge.conf: which users and groups may have which bridges, devices,
// networks, macvtap modes, plain taps or admin operations. One rule a line:
//   allow user alice bridge br0
//   deny group guests dev eth*
//   allow user alice devname vm-alice-*
//   limit group vmops interfaces 32
//   limit user * domains 16
//   limit user * state 1M
//   include acl.d/*.conf
// Deny wins over allow, nothing is allowed without a rule, uid 0 is nobody
// special (see decide.ts). User and group names are kept as written: they are
// looked up when deciding, not when loading, so the file may name accounts
// created later. Pure but for loadAcl, which reads files.
import fs from 'node:fs';
import path from 'node:path';
import { NetfdError } from '../../errors';

/** What an ACL rule is about: the word after `user X` / `group X`. */
export type ObjectKind = 'bridge' | 'dev' | 'network' | 'mode' | 'devname' | 'ethernet' | 'all';

/**
 * What a `limit` line bounds, per user: interfaces held, domains held, bytes
 * of state on disk (records and live XML), connections at once, requests in
 * flight over all of the user's connections.
 */
export type LimitKind = 'interfaces' | 'domains' | 'state' | 'connections' | 'requests' | 'rate';
/** Every kind of `limit` line, in the order the README lists them. */
export const LIMIT_KINDS: readonly LimitKind[] = ['interfaces', 'domains', 'state', 'connections', 'requests', 'rate'];

/** What a request touches; {kind: 'all'} is an admin operation. */
export interface AclObject {
  kind: ObjectKind;
  /** A name for bridge, dev, network and mode (a glob in a rule); none for ethernet and all. */
  value?: string;
}

/** As written: a name, a number, or '*' (user only: every caller). */
export interface Subject {
  kind: 'user' | 'group';
  id: string;
}

/** One `allow` or `deny` line, with where it was written. */
export interface Rule {
  action: 'allow' | 'deny';
  subject: Subject;
  object: AclObject;
  file: string;
  line: number;
  /** The line without its comment, trimmed. */
  text: string;
}

/** One `limit` line, with where it was written. */
export interface Limit {
  subject: Subject;
  what: LimitKind;
  /** A count, or bytes for `state`. */
  value: number;
  file: string;
  line: number;
  text: string;
}

/** A parsed ACL: its rules and limits in file order (includes expanded), and the files read. */
export interface Acl {
  /** In file order, included files inlined where their include line stands. */
  rules: Rule[];
  limits: Limit[];
  /** Every file read, in order. */
  files: string[];
}

/** How deep includes may nest below the top file. */
export const MAX_INCLUDE_DEPTH = 8;
/** macvtap modes a `mode` rule may name; passthru is accepted as an alias of passthrough. */
export const ACL_MODES = ['vepa', 'bridge', 'private', 'passthrough'] as const;

export const OBJECT_KINDS: readonly ObjectKind[] = ['bridge', 'dev', 'network', 'mode', 'devname', 'ethernet', 'all'];
export const VALUED: ReadonlySet<ObjectKind> = new Set<ObjectKind>(['bridge', 'dev', 'network', 'mode', 'devname']);
const MODE_SPELLINGS = [...ACL_MODES, 'passthru'];
const MAX_VALUE = 64;
export const MAX_ID = 4294967294; // (uid_t)-1 means "no id"
const OBJECTS_EXPECTED = 'expected bridge, dev, network, mode, devname, ethernet or all';
const LIMITS_EXPECTED = `expected ${LIMIT_KINDS.join(', ')}`;
const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

const q = (s: string): string => JSON.stringify(s);
const hasGlob = (s: string): boolean => s.includes('*') || s.includes('?');
export const isNumeric = (id: string): boolean => /^\d+$/.test(id);

/**
 * Whether `glob` matches all of `s`: '*' any run of characters (none too),
 * '?' exactly one; every other character stands for itself.
 */
export function globMatch(glob: string, s: string): boolean {
  const p = [...glob];
  const t = [...s];
  let i = 0;
  let j = 0;
  let star = -1; // where the last '*' was, to retry with it eating one more character
  let mark = 0;
  while (j < t.length) {
    if (i < p.length && (p[i] === '?' || (p[i] !== '*' && p[i] === t[j]))) {
      i++;
      j++;
    } else if (i < p.length && p[i] === '*') {
      star = i++;
      mark = j;
    } else if (star >= 0) {
      i = star + 1;
      j = ++mark;
    } else {
      return false;
    }
  }
  while (p[i] === '*') i++;
  return i === p.length;
}

/** Why a subject id is not usable, or undefined when it is. */
function badSubjectId(kind: 'user' | 'group', id: string): string | undefined {
  if (id === '*') return kind === 'user' ? undefined : '"*" is only allowed as "user *" (every caller)';
  if (isNumeric(id)) return Number(id) <= MAX_ID ? undefined : `a ${kind === 'user' ? 'uid' : 'gid'} is at most ${MAX_ID}`;
  if (id.length > MAX_VALUE || /[/:,*?]/.test(id)) return `expected a ${kind} name (1 to ${MAX_VALUE} characters without '/', ':', ',', '*' or '?') or a ${kind === 'user' ? 'uid' : 'gid'}`;
  return undefined;
}

/** Why an object value is not usable, or undefined when it is. */
function badValue(kind: ObjectKind, value: string): string | undefined {
  if (value.length > MAX_VALUE || value.includes('/')) return `expected 1 to ${MAX_VALUE} characters without whitespace or '/' ('*' and '?' are globs)`;
  if (kind === 'mode' && !MODE_SPELLINGS.some((m) => globMatch(value, m))) return `expected ${ACL_MODES.join(', ')} or a glob matching one of them`;
  return undefined;
}

/**
 * Parses ACL text; `file` names it in errors and in each rule. An include line
 * calls `o.include(pattern, file)` and inlines what it returns; without that
 * callback an include line is an error (loadAcl supplies one). Throws
 * NetfdError ACL_INVALID, field 'acl', value 'FILE:LINE' on the first bad line.
 */
export function parseAcl(text: string, file: string, o: { include?: ((pattern: string, from: string) => Acl) | undefined } = {}): Acl {
  const acl: Acl = { rules: [], limits: [], files: [file] };
  const lines = text.split('\n');
  for (let n = 1; n <= lines.length; n++) {
    const hash = lines[n - 1].indexOf('#');
    const line = (hash < 0 ? lines[n - 1] : lines[n - 1].slice(0, hash)).trim();
    if (line === '') continue;
    const tokens = line.split(/\s+/);
    const at = `${file}:${n}`;
    const bad = (what: string, cause?: unknown): NetfdError => new NetfdError(`${at}: ${what} (${line})`, { code: 'ACL_INVALID', field: 'acl', value: at, cause });
    /** Token k, which must be there: else "missing WHAT after <token k-1>: EXPECTED". */
    const need = (k: number, what: string, expected: string): string => {
      const tok = tokens[k];
      if (tok === undefined) throw bad(`missing ${what} after ${q(tokens[k - 1])}: ${expected}`);
      return tok;
    };
    /** Nothing after token k-1. */
    const end = (k: number, why: string): void => {
      if (tokens.length > k) throw bad(`unexpected ${q(tokens[k])} after ${q(tokens[k - 1])}: ${why}`);
    };
    const subject = (): Subject => {
      const kind = need(1, 'subject', 'expected user or group');
      if (kind !== 'user' && kind !== 'group') throw bad(`unknown subject kind ${q(kind)}: expected user or group`);
      const id = need(2, kind, kind === 'user' ? 'expected a user name, a uid or *' : 'expected a group name or a gid');
      const why = badSubjectId(kind, id);
      if (why) throw bad(`bad ${kind} ${q(id)}: ${why}`);
      return { kind, id };
    };

    const action = tokens[0];
    if (action === 'allow' || action === 'deny') {
      const subj = subject();
      const kind = need(3, 'object', OBJECTS_EXPECTED);
      if (!(OBJECT_KINDS as readonly string[]).includes(kind)) throw bad(`unknown object ${q(kind)}: ${OBJECTS_EXPECTED}`);
      const okind = kind as ObjectKind;
      const object: AclObject = { kind: okind };
      if (VALUED.has(okind)) {
        const value = need(4, 'value', `expected a ${okind} name or glob`);
        const why = badValue(okind, value);
        if (why) throw bad(`bad ${okind} ${q(value)}: ${why}`);
        object.value = value;
        end(5, 'a rule ends with its object');
      } else {
        end(4, `${okind} takes no value`);
      }
      acl.rules.push({ action, subject: subj, object, file, line: n, text: line });
    } else if (action === 'limit') {
      const subj = subject();
      const what = need(3, 'limit', LIMITS_EXPECTED);
      if (!(LIMIT_KINDS as readonly string[]).includes(what)) throw bad(`unknown limit ${q(what)}: ${LIMITS_EXPECTED}`);
      let value: number;
      if (what === 'state') {
        const size = need(4, 'size', 'expected bytes, with K, M or G for binary units (512K, 4M)');
        const m = /^(\d{1,9})([KMG]?)$/.exec(size);
        if (!m) throw bad(`bad size ${q(size)}: expected bytes, with K, M or G for binary units (512K, 4M)`);
        value = Number(m[1]) * SIZE_UNITS[m[2]];
      } else {
        const count = need(4, 'number', 'expected a non-negative integer');
        if (!/^\d{1,9}$/.test(count)) throw bad(`bad number ${q(count)}: expected a non-negative integer`);
        value = Number(count);
      }
      end(5, 'a limit ends with its number');
      acl.limits.push({ subject: subj, what: what as LimitKind, value, file, line: n, text: line });
    } else if (action === 'include') {
      const pattern = need(1, 'pattern', 'expected a file path or a glob such as acl.d/*.conf');
      end(2, 'include takes one pattern (no spaces in it)');
      if (!o.include) throw bad(`include ${q(pattern)} is not supported here: loadAcl follows includes`);
      let sub: Acl;
      try {
        sub = o.include(pattern, file);
      } catch (e) {
        if (e instanceof NetfdError && e.code === 'ACL_INVALID') throw e;
        throw bad(`include ${q(pattern)}: ${e instanceof Error ? e.message : String(e)}`, e);
      }
      acl.rules.push(...sub.rules);
      acl.limits.push(...sub.limits);
      acl.files.push(...sub.files);
    } else {
      throw bad(`unknown action ${q(action)}: expected allow, deny, limit or include`);
    }
  }
  return acl;
}

const errnoCode = (e: unknown): string => (e as NodeJS.ErrnoException)?.code ?? 'EIO';

/** A file of the include chain: as named, and its real path (the identity for cycles). */
interface Link {
  file: string;
  real: string;
}

/**
 * Reads the ACL file and every file it includes. Relative include patterns
 * are relative to the including file's directory. Throws NetfdError
 * ACL_INVALID: field 'acl', value FILE when the file cannot be read, else
 * value 'FILE:LINE' of the bad line (an include line for a missing file, an
 * unreadable one, a cycle or nesting deeper than MAX_INCLUDE_DEPTH).
 */
export function loadAcl(file: string): Acl {
  const top = path.resolve(file);
  let text: string;
  let real: string;
  try {
    text = fs.readFileSync(top, 'utf8');
    real = fs.realpathSync(top);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new NetfdError(`cannot read ACL file ${top}: ${err.message}`, {
      code: 'ACL_INVALID',
      field: 'acl',
      value: top,
      errno: err.errno,
      syscall: err.syscall,
      cause: e,
    });
  }
  return parseChained(text, [{ file: top, real }]);
}

function parseChained(text: string, chain: Link[]): Acl {
  return parseAcl(text, chain[chain.length - 1].file, { include: (pattern, from) => includeFiles(pattern, from, chain) });
}

/** What an include line pulls in, merged; plain Errors here become errors at the include line. */
function includeFiles(pattern: string, from: string, chain: Link[]): Acl {
  const out: Acl = { rules: [], limits: [], files: [] };
  for (const file of expandInclude(pattern, from)) {
    let text: string;
    let real: string;
    try {
      real = fs.realpathSync(file);
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      const code = errnoCode(e);
      throw new Error(code === 'ENOENT' ? `${file} does not exist (ENOENT)` : `cannot read ${file}: ${code}`, { cause: e });
    }
    const seen = chain.findIndex((l) => l.real === real);
    if (seen >= 0) throw new Error(`include cycle: ${[...chain.slice(seen).map((l) => l.file), file].join(' -> ')}`);
    if (chain.length > MAX_INCLUDE_DEPTH) throw new Error(`includes nest deeper than ${MAX_INCLUDE_DEPTH} files below ${chain[0].file} (at ${file})`);
    const sub = parseChained(text, [...chain, { file, real }]);
    out.rules.push(...sub.rules);
    out.limits.push(...sub.limits);
    out.files.push(...sub.files);
  }
  return out;
}

/**
 * The files an include pattern names: a plain path as is (read later, so a
 * missing one is an error), a glob in the last component as the matching
 * regular files, sorted by name. '*' and '?' do not match a leading '.'
 * unless the pattern starts with one; a missing directory matches nothing.
 */
function expandInclude(pattern: string, from: string): string[] {
  const full = path.isAbsolute(pattern) ? path.normalize(pattern) : path.join(path.dirname(from), pattern);
  const dir = path.dirname(full);
  const base = path.basename(full);
  if (hasGlob(dir)) throw new Error("only the last path component may hold '*' or '?'");
  if (!hasGlob(base)) return [full];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw new Error(`cannot list ${dir}: ${code}`, { cause: e });
  }
  return names
    .filter((name) => globMatch(base, name) && (!name.startsWith('.') || base.startsWith('.')))
    .sort()
    .map((name) => path.join(dir, name))
    .filter((f) => fs.statSync(f, { throwIfNoEntry: false })?.isFile() === true);
}

/** Bytes in the largest binary unit that divides them: 4M, 512K, 1000. */
export function formatSize(bytes: number): string {
  for (const u of ['G', 'M', 'K']) if (bytes >= SIZE_UNITS[u] && bytes % SIZE_UNITS[u] === 0) return `${bytes / SIZE_UNITS[u]}${u}`;
  return String(bytes);
}

/** "deny group guests dev eth0 (/etc/netfd/acl.conf:3)", "limit user alice interfaces 8 (...)". */
export function describe(rule: Rule | Limit): string {
  const s = `${rule.subject.kind} ${rule.subject.id}`;
  const body =
    'action' in rule
      ? `${rule.action} ${s} ${rule.object.kind}${rule.object.value === undefined ? '' : ` ${rule.object.value}`}`
      : `limit ${s} ${rule.what} ${rule.what === 'state' ? formatSize(rule.value) : rule.value}`;
  return `${body} (${rule.file}:${rule.line})`;
}
