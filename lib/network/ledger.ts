// The connection ledger of a network, as pure code: the entries and their
// file format, and the reconcile that decides which connections hold. An
// entry holds while its domain's live XML records it, or while the process
// that allocated it still runs (it is setting up); the others belonged to
// processes that died before their domain was written, and are to be
// reclaimed. net-start adds what the domains record and the ledger lacks.
// No fs, no syscalls: lib/network/store.ts reads the files and /proc and
// hands the facts in; lib/netdev/reclaim.ts undoes what is to be reclaimed.
import type { PoolDevice } from '../xml/network';

/** One guest connection to a network, as the ledger records it. */
export interface Connection {
  dev: string;
  domain: string;
  /** The directory holding the domain's live XML (absent: the state directory itself). */
  scope?: string;
  /** The guest MAC: with the domain and its scope, it names the connection. */
  mac: string;
  /** The link group the domain's devices were created in: a reclaim deletes only links of that group. */
  group?: number;
  /** The namespace the pool devices are in (as given to allocate). */
  netns?: string;
  /** The allocating process and its start time: alive means "still setting up". 0: rebuilt from a domain. */
  pid: number;
  start: string | null;
  /** passthrough: the device's own MAC before the guest's, restored on release. */
  saved?: { mac: string };
}

/** Whose connection: a domain, in a scope (default: the state directory). */
export interface ConnectionOwner {
  domain: string;
  scope?: string | undefined;
}

/** A connection a domain's live XML records. */
export interface DomainRef {
  network: string;
  domain: string;
  mac: string;
  dev: string;
  scope: string;
}

/** True when `c` belongs to owner `o`; `dflt` is the scope of those that name none. */
export const sameOwner = (c: ConnectionOwner, o: ConnectionOwner, dflt: string): boolean => c.domain === o.domain && (c.scope ?? dflt) === (o.scope ?? dflt);

/** What names a connection: its domain's scope, the domain, the guest MAC. */
export const connectionKey = (c: { domain: string; mac: string; scope?: string | undefined }, domainDir: string): string => `${c.scope ?? domainDir}\n${c.domain}\n${c.mac}`;

/** The ledger entries of `owner` with guest MAC `mac`. */
export function connectionsOf(ledger: readonly Connection[], owner: ConnectionOwner & { mac: string }, domainDir: string): Connection[] {
  return ledger.filter((c) => sameOwner(c, owner, domainDir) && c.mac === owner.mac);
}

/** The facts a reconcile decides from. */
export interface ReconcileInput {
  ledger: readonly Connection[];
  /** What the live XML of the domains the ledger names records (every connection to any network). */
  recorded: readonly DomainRef[];
  /** net-start's rebuild: what every domain in every scope records; those the ledger lacks are added. */
  scanned?: readonly DomainRef[] | undefined;
  /** Each ledger pid's start time now (/proc/PID/stat); null or absent: it does not run. */
  starts: ReadonlyMap<number, string | null>;
  /** The default scope (the domains' state directory). */
  domainDir: string;
}

/** What holds, and what is to be reclaimed (ledger order). */
export interface Reconciled {
  held: Connection[];
  dead: Connection[];
}

/**
 * The connections that hold: ledger entries confirmed by their domain's
 * live XML (taking the device it records) or by their allocating process
 * still running, then the scanned ones the ledger lacks (pid 0). An entry
 * whose connection is already held is dropped; the rest are `dead`.
 */
export function reconcile(i: ReconcileInput): Reconciled {
  const key = (c: { domain: string; mac: string; scope?: string | undefined }) => connectionKey(c, i.domainDir);
  const scanned = i.scanned ?? [];
  const byKey = new Map<string, DomainRef>();
  for (const r of [...scanned, ...i.recorded]) byKey.set(key(r), r);
  const held: Connection[] = [];
  const dead: Connection[] = [];
  const seen = new Set<string>();
  for (const c of i.ledger) {
    const k = key(c);
    if (seen.has(k)) continue;
    const ref = byKey.get(k);
    if (ref) held.push({ ...c, dev: ref.dev });
    else if (c.pid > 0 && (i.starts.get(c.pid) ?? null) === c.start) held.push(c);
    else {
      dead.push(c);
      continue;
    }
    seen.add(k);
  }
  for (const r of scanned) {
    if (seen.has(key(r))) continue;
    const c: Connection = { dev: r.dev, domain: r.domain, mac: r.mac, pid: 0, start: null };
    if (r.scope !== i.domainDir) c.scope = r.scope;
    held.push(c);
    seen.add(key(r));
  }
  return { held, dead };
}

/** Counts per pool device, in pool order; devices outside the pool that still carry connections follow, marked `outside`. */
export function countPool(devices: readonly string[], connections: readonly Connection[]): PoolDevice[] {
  const n = new Map<string, number>(devices.map((d) => [d, 0]));
  const outside = new Set<string>();
  for (const c of connections) {
    if (!n.has(c.dev)) outside.add(c.dev);
    n.set(c.dev, (n.get(c.dev) ?? 0) + 1);
  }
  return [...n].map(([dev, count]) => (outside.has(dev) ? { dev, connections: count, outside: true } : { dev, connections: count }));
}

/** A new ledger entry: device `dev` for `req`, allocated by process `pid` started at `start`. */
export function newConnection(
  dev: string,
  req: ConnectionOwner & { mac: string; netns?: string | undefined; group?: number | undefined },
  o: { pid: number; start: string | null; domainDir: string },
): Connection {
  const c: Connection = { dev, domain: req.domain, mac: req.mac, pid: o.pid, start: o.start };
  if (req.scope !== undefined && req.scope !== o.domainDir) c.scope = req.scope;
  if (req.netns !== undefined) c.netns = req.netns;
  if (req.group !== undefined) c.group = req.group;
  return c;
}

/** The entries of a ledger file; throws an Error saying what is wrong with it. */
export function parseLedger(text: string): Connection[] {
  const j = JSON.parse(text) as { connections?: unknown };
  if (!Array.isArray(j.connections)) throw new Error('no connections array');
  for (const c of j.connections as Connection[])
    if (typeof c?.dev !== 'string' || typeof c.domain !== 'string' || typeof c.mac !== 'string' || typeof c.pid !== 'number') throw new Error(`bad entry ${JSON.stringify(c)}`);
  return j.connections as Connection[];
}

/** Each entry's text as the ledger file holds it (an entry is not changed once made). */
const entryTexts = new WeakMap<Connection, string>();

/** The text of one entry of a ledger file, as `formatLedger` puts it (made once per entry). */
export function ledgerEntryText(c: Connection): string {
  let t = entryTexts.get(c);
  if (t === undefined) {
    // An element of the array is two levels deep: each of its lines indented by two more.
    t = `  ${JSON.stringify(c, null, 1).replace(/\n/g, '\n  ')}`;
    entryTexts.set(c, t);
  }
  return t;
}

/** A ledger file's text from its `count` entries' texts (`ledgerEntryText`) joined by ",\n". */
export function ledgerText(joined: string, count: number): string {
  return count ? `{\n "version": 1,\n "connections": [\n${joined}\n ]\n}\n` : '{\n "version": 1,\n "connections": []\n}\n';
}

/**
 * A ledger file's text: `JSON.stringify({ version: 1, connections }, null, 1)`
 * and a newline, put together from each entry's text, made once per entry.
 */
export function formatLedger(connections: readonly Connection[]): string {
  return ledgerText(connections.map(ledgerEntryText).join(',\n'), connections.length);
}
