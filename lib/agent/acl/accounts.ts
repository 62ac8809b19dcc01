// Who the users and groups an ACL names are, and which groups a caller is in.
//
// nssAccounts (the agent's default) asks the C library's name service switch
// through the addon (getpwnam_r, getpwuid_r, getgrnam_r, getgrouplist in
// native/accounts.cc), so accounts from LDAP, sssd or extrausers count as
// /etc/passwd ones do. fileAccounts reads passwd and group files (the unit
// tests' fixtures).
//
// Synchronous, with a short cache. The ACL decision (decide, decideAll,
// interfaceLimit in decide.ts) is synchronous and runs on the agent's request
// path, so the lookups are synchronous native calls on the JS thread: they
// block the agent while the name service answers (sssd or LDAP may take
// seconds). Every answer — an entry, "no such account", or a failure — is
// kept for `ttlMs` (default 5 s, at most 4096 answers), so a slow or failing
// name service costs one blocking lookup per name per TTL rather than one per
// request, and a changed account counts within the TTL. (The threadpool would
// keep the loop free, but would make every decision and its callers async.)
//
// "No such account" and "the lookup failed" are told apart: a lookup returns
// undefined for the first and throws NetfdError ACCOUNT_LOOKUP_FAILED (errno,
// syscall, field 'user' | 'group' | 'uid', value) for the second. The ACL
// fails closed on both when a rule names the account (see decide.ts).
import fs from 'node:fs';
import { ErrnoCode, invalid, NetfdError } from '../../errors';
import { native, NativeGroup, NativePasswd } from '../../sys/native';

/**
 * User and group lookups, as the C library's getpwnam/getgrnam/getpwuid/
 * getgrouplist. undefined means there is no such account; a lookup that
 * failed throws (nssAccounts: NetfdError ACCOUNT_LOOKUP_FAILED; fileAccounts:
 * the errno code of the unreadable file). The ACL fails closed on both.
 */
export interface Accounts {
  /** The uid of user `name`, or undefined when there is no such user. */
  uidOf(name: string): number | undefined;
  /** The gid of group `name`, or undefined when there is no such group. */
  gidOf(name: string): number | undefined;
  /** For messages and logs; nothing is decided by it. */
  userName(uid: number): string | undefined;
  /** `gid`, the user's primary gid and every group listing the user. */
  groupsOf(uid: number, gid: number): number[];
}

/** The lookups nssAccounts makes: the addon's, or a stand-in in tests. */
export interface NssLookups {
  getpwnam(name: string): NativePasswd | null;
  getpwuid(uid: number): NativePasswd | null;
  getgrnam(name: string): NativeGroup | null;
  getgrouplist(user: string, gid: number): number[];
}

export interface NssOptions {
  /** How long an answer (a failure too) is reused; default 5000 ms, 0 asks every time. */
  ttlMs?: number;
  /** The clock, in ms (tests). */
  now?: () => number;
  /** The lookups (default: the addon's NSS calls). */
  lookups?: NssLookups;
}

/** How many answers nssAccounts keeps; the oldest go first. */
export const NSS_CACHE_MAX = 4096;
const MAX_ID = 4294967294;

type Answer<T> = { at: number; value: T } | { at: number; error: NetfdError };

/**
 * Accounts from the system's name service switch (see the file's header):
 * cached for `ttlMs`. uidOf, gidOf and groupsOf throw NetfdError
 * ACCOUNT_LOOKUP_FAILED when the name service fails; userName, which only
 * names callers in messages, answers undefined then instead of throwing.
 */
export function nssAccounts(o: NssOptions = {}): Accounts {
  const ttl = o.ttlMs ?? 5000;
  if (!Number.isFinite(ttl) || ttl < 0) throw invalid('ttlMs', o.ttlMs, 'a number of milliseconds, 0 or more');
  const now = o.now ?? Date.now;
  const lookups = (): NssLookups => o.lookups ?? native();
  const cache = new Map<string, Answer<unknown>>();

  /** The cached answer for `key`, else `ask()`'s (a failure becomes ACCOUNT_LOOKUP_FAILED about field=value). */
  function cached<T>(key: string, field: string, value: string | number, ask: () => T): T {
    const t = now();
    const hit = cache.get(key) as Answer<T> | undefined;
    let answer: Answer<T>;
    if (hit && t - hit.at < ttl) answer = hit;
    else {
      try {
        answer = { at: t, value: ask() };
      } catch (e) {
        answer = { at: t, error: lookupFailed(field, value, e) };
      }
      cache.delete(key);
      if (ttl > 0) {
        cache.set(key, answer);
        if (cache.size > NSS_CACHE_MAX) cache.delete(cache.keys().next().value as string);
      }
    }
    if ('error' in answer) throw answer.error;
    return answer.value;
  }

  const passwdByUid = (uid: number): NativePasswd | null => cached(`uid:${uid}`, 'uid', uid, () => lookups().getpwuid(uid));

  return {
    uidOf: (name) => (checkName('user', name), cached(`user:${name}`, 'user', name, () => lookups().getpwnam(name)?.uid)),
    gidOf: (name) => (checkName('group', name), cached(`group:${name}`, 'group', name, () => lookups().getgrnam(name)?.gid)),
    userName: (uid) => {
      checkId('uid', uid);
      try {
        return passwdByUid(uid)?.name;
      } catch {
        return undefined;
      }
    },
    groupsOf: (uid, gid) => {
      checkId('uid', uid);
      checkId('gid', gid);
      const out = new Set<number>([gid]);
      const pw = passwdByUid(uid);
      if (pw) {
        out.add(pw.gid);
        for (const g of cached(`groups:${pw.name}:${pw.gid}`, 'user', pw.name, () => lookups().getgrouplist(pw.name, pw.gid))) out.add(g);
      }
      return [...out];
    },
  };
}

function checkName(field: 'user' | 'group', name: string): void {
  if (typeof name !== 'string' || name === '' || name.includes('\0')) throw invalid(field, name, `a ${field} name: a non-empty string without NUL bytes`);
}

function checkId(field: 'uid' | 'gid', id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_ID) throw invalid(field, id, `an integer from 0 to ${MAX_ID}`);
}

/** "getpwnam_r for user alice: Connection refused (ECONNREFUSED): the name service failed; check ...". */
function lookupFailed(field: string, value: string | number, e: unknown): NetfdError {
  const err = e as { code?: unknown; errno?: unknown; syscall?: unknown; message?: unknown };
  const code = typeof err?.code === 'string' ? err.code : 'EIO';
  const syscall = typeof err?.syscall === 'string' ? err.syscall : undefined;
  const detail = typeof err?.message === 'string' ? err.message : String(e);
  return new NetfdError(`${detail} (${code}): the name service failed; check /etc/nsswitch.conf and the sources it names (sssd, LDAP, ...)`, {
    code: 'ACCOUNT_LOOKUP_FAILED',
    errno: typeof err?.errno === 'number' ? err.errno : undefined,
    syscall,
    field,
    value,
    cause: e,
  });
}

// ---- passwd and group files ---------------------------------------------------

interface Passwd {
  byName: Map<string, { uid: number; gid: number }>;
  byUid: Map<number, { name: string; gid: number }>;
}

interface Groups {
  byName: Map<string, number>;
  /** User name → gids of the groups listing it, in file order. */
  memberOf: Map<string, number[]>;
}

const isNumeric = (id: string): boolean => /^\d+$/.test(id);

/** Colon-separated records of a passwd or group file; comments, NIS +/- lines and malformed lines skipped. */
function records(text: string, minFields: number, idFields: number[]): string[][] {
  const out: string[][] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || line.startsWith('+') || line.startsWith('-')) continue;
    const f = line.replace(/\r$/, '').split(':');
    if (f.length < minFields || f[0] === '' || !idFields.every((k) => isNumeric(f[k]))) continue;
    out.push(f);
  }
  return out;
}

function parsePasswd(text: string): Passwd {
  const p: Passwd = { byName: new Map(), byUid: new Map() };
  for (const [name, , uid, gid] of records(text, 4, [2, 3])) {
    if (!p.byName.has(name)) p.byName.set(name, { uid: Number(uid), gid: Number(gid) });
    if (!p.byUid.has(Number(uid))) p.byUid.set(Number(uid), { name, gid: Number(gid) });
  }
  return p;
}

function parseGroups(text: string): Groups {
  const g: Groups = { byName: new Map(), memberOf: new Map() };
  for (const [name, , gid, members = ''] of records(text, 3, [2])) {
    if (!g.byName.has(name)) g.byName.set(name, Number(gid));
    for (const m of members.split(',').map((s) => s.trim())) {
      if (m === '') continue;
      const list = g.memberOf.get(m) ?? [];
      list.push(Number(gid));
      g.memberOf.set(m, list);
    }
  }
  return g;
}

/**
 * A file parsed on first use and again whenever its mtime, size or inode
 * changes. A read failure throws NetfdError with the errno code, field
 * `field`, value the path.
 */
function watched<T>(file: string, field: string, parse: (text: string) => T): () => T {
  let key: string | undefined;
  let value: T | undefined;
  return () => {
    try {
      const st = fs.statSync(file, { bigint: true });
      const k = `${st.ino}:${st.size}:${st.mtimeNs}`;
      if (k !== key || value === undefined) {
        value = parse(fs.readFileSync(file, 'utf8'));
        key = k;
      }
      return value;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new NetfdError(`cannot read ${file}: ${err.message}`, { code: (err.code ?? 'EIO') as ErrnoCode, errno: err.errno, syscall: err.syscall, field, value: file, cause: e });
    }
  };
}

/**
 * Accounts from passwd and group files only (default /etc/passwd and
 * /etc/group), read on first use and re-read when a file changes: for tests
 * over fixture files. Lookups throw NetfdError (the errno code, field
 * 'passwd' or 'group') when a file cannot be read.
 */
export function fileAccounts(o: { passwd?: string | undefined; group?: string | undefined } = {}): Accounts {
  const passwd = watched(o.passwd ?? '/etc/passwd', 'passwd', parsePasswd);
  const group = watched(o.group ?? '/etc/group', 'group', parseGroups);
  return {
    uidOf: (name) => passwd().byName.get(name)?.uid,
    gidOf: (name) => group().byName.get(name),
    userName: (uid) => passwd().byUid.get(uid)?.name,
    groupsOf: (uid, gid) => {
      const out = new Set<number>([gid]);
      const user = passwd().byUid.get(uid);
      if (user) {
        out.add(user.gid);
        for (const g of group().memberOf.get(user.name) ?? []) out.add(g);
      }
      return [...out];
    },
  };
}
