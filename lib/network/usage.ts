// A network's pool usage as an index: which pool devices are in use by which
// connection, and why each connection holds as last checked (its domain's
// live XML records it, or the process that allocated it runs). Kept between
// calls by lib/network/store.ts while the ledger file is the one it was built
// from, and updated under the network's lock by each allocate and release,
// so a call checks only what may have changed since (see `due`) instead of
// every domain's live XML. Pure: the facts come in, ./ledger.ts `reconcile`
// decides.
import type { PoolDevice } from '../xml/network';
import { Connection, ConnectionOwner, connectionKey, countPool, DomainRef, ledgerEntryText, ledgerText, reconcile } from './ledger';

/**
 * Why a connection holds, as last checked: `recorded` by its domain's live
 * XML, `running` as its allocating process, or `unchecked` (read from a
 * ledger this index did not write).
 */
export type Standing = 'unchecked' | 'recorded' | 'running';

interface Entry {
  c: Connection;
  /** connectionKey(c) */
  key: string;
  standing: Standing;
}

/** What `due` is told: the scopes whose directory changed, and this process. */
export interface DueInput {
  /** Scopes (domain state directories) changed since their connections were checked. */
  changed: ReadonlySet<string>;
  /** This process: its own connections hold while it runs, without a check. */
  pid: number;
}

function tally(m: Map<string, number>, k: string, by: number): void {
  const n = (m.get(k) ?? 0) + by;
  if (n) m.set(k, n);
  else m.delete(k);
}

/** The pool's connections, in ledger order, with counts per device kept as they change. */
export class PoolUsage {
  readonly domainDir: string;
  #entries: Entry[];
  readonly #counts = new Map<string, number>();
  readonly #keys = new Map<string, number>();
  readonly #scopes = new Map<string, number>();
  /**
   * The entries' ledger texts joined by ",\n", and where each entry's ends
   * in it: a connection added is appended, the last ones removed are cut
   * off; any other change drops it, to be joined anew.
   */
  #joined: { text: string; ends: number[] } | undefined;
  /** `pool(devices)` for the last device list it was asked for, counts kept by `#count`. */
  #view: { devices: readonly string[]; pool: PoolDevice[]; at: Map<string, PoolDevice>; inPool: number } | undefined;

  /** The connections of a ledger, none checked yet. */
  constructor(connections: readonly Connection[], domainDir: string) {
    this.domainDir = domainDir;
    this.#entries = connections.map((c) => this.#entry(c, 'unchecked'));
    for (const e of this.#entries) this.#count(e, 1);
  }

  #entry(c: Connection, standing: Standing): Entry {
    return { c, key: connectionKey(c, this.domainDir), standing };
  }

  #count(e: Entry, by: 1 | -1): void {
    tally(this.#counts, e.c.dev, by);
    tally(this.#keys, e.key, by);
    tally(this.#scopes, e.c.scope ?? this.domainDir, by);
    const v = this.#view;
    if (v) {
      const d = v.at.get(e.c.dev);
      if (d) {
        d.connections += by;
        v.inPool += by;
      }
    }
  }

  /** The connections, in ledger order (what the ledger file is to hold). */
  get connections(): Connection[] {
    return this.#entries.map((e) => e.c);
  }

  /** The ledger file's text for the connections: `formatLedger(this.connections)`, kept as they come and go. */
  ledgerText(): string {
    let j = this.#joined;
    if (!j) {
      const ends: number[] = [];
      let text = '';
      for (const e of this.#entries) {
        text = ends.length ? `${text},\n${ledgerEntryText(e.c)}` : ledgerEntryText(e.c);
        ends.push(text.length);
      }
      this.#joined = j = { text, ends };
    }
    return ledgerText(j.text, j.ends.length);
  }

  /** How many connections there are. */
  get size(): number {
    return this.#entries.length;
  }

  /** Why each connection holds, by its key (for tests and messages). */
  standings(): Map<string, Standing> {
    return new Map(this.#entries.map((e) => [e.key, e.standing]));
  }

  /** True when `owner` already has a connection with MAC `owner.mac`. */
  has(owner: ConnectionOwner & { mac: string }): boolean {
    return this.#keys.has(connectionKey(owner, this.domainDir));
  }

  /**
   * Counts per device, as ./ledger.ts `countPool(devices, connections)` gives
   * them. The answer for the same `devices` array is one array kept up to
   * date as connections come and go: read it, do not keep or change it.
   */
  pool(devices: readonly string[]): readonly PoolDevice[] {
    let v = this.#view;
    if (v?.devices !== devices) {
      const pool: PoolDevice[] = [];
      const at = new Map<string, PoolDevice>();
      let inPool = 0;
      for (const dev of devices) {
        if (at.has(dev)) break; // a device listed twice: countPool's answer, made each time
        const d = { dev, connections: this.#counts.get(dev) ?? 0 };
        inPool += d.connections;
        pool.push(d);
        at.set(dev, d);
      }
      this.#view = v = at.size === devices.length ? { devices, pool, at, inPool } : undefined;
    }
    // Devices outside the pool that carry connections (rare): listed as countPool lists them.
    return v && v.inPool === this.#entries.length ? v.pool : countPool(devices, this.connections);
  }

  /** Adds a connection this process allocated (it holds while the process runs). */
  add(c: Connection, standing: Standing = 'running'): void {
    const e = this.#entry(c, standing);
    this.#entries.push(e);
    this.#count(e, 1);
    const j = this.#joined;
    if (j) {
      j.text = j.ends.length ? `${j.text},\n${ledgerEntryText(c)}` : ledgerEntryText(c);
      j.ends.push(j.text.length);
    }
  }

  /** Removes the connections of `owner` with MAC `owner.mac`; returns them. */
  remove(owner: ConnectionOwner & { mac: string }): Connection[] {
    const k = connectionKey(owner, this.domainDir);
    if (!this.#keys.has(k)) return [];
    const gone: Connection[] = [];
    let first = -1;
    this.#entries = this.#entries.filter((e, i) => {
      if (e.key !== k) return true;
      if (first < 0) first = i;
      gone.push(e.c);
      this.#count(e, -1);
      return false;
    });
    // The last entries removed (as a release after its allocate): their text cut off; else joined anew.
    const j = this.#joined;
    if (j && first === this.#entries.length) {
      j.ends.length = first;
      j.text = first ? j.text.slice(0, j.ends[first - 1]) : '';
    } else this.#joined = undefined;
    return gone;
  }

  /** The scopes (domain state directories) of the connections: whose change `due` needs to know. */
  scopes(): string[] {
    return [...this.#scopes.keys()];
  }

  /**
   * The connections to check now: those not checked yet, those of a scope
   * that changed (a live XML written, rewritten or gone), and those held by
   * another process that runs (it may have died since). This process's own
   * connections hold while it runs.
   */
  due(i: DueInput): Connection[] {
    return this.#entries.filter((e) => e.standing === 'unchecked' || i.changed.has(e.c.scope ?? this.domainDir) || (e.standing === 'running' && e.c.pid !== i.pid)).map((e) => e.c);
  }

  /**
   * Decides the `checked` connections (from `due`) with ./ledger.ts
   * `reconcile` over the facts about them: those that hold stay (taking the
   * device their domain records), the others are removed and returned, to be
   * reclaimed. The connections not checked hold as before.
   */
  settle(checked: readonly Connection[], facts: { recorded: readonly DomainRef[]; starts: ReadonlyMap<number, string | null> }): Connection[] {
    if (!checked.length) return [];
    const mine = new Set(checked);
    const key = (c: { domain: string; mac: string; scope?: string | undefined }) => connectionKey(c, this.domainDir);
    const { held, dead } = reconcile({ ledger: checked, recorded: facts.recorded, starts: facts.starts, domainDir: this.domainDir });
    const recorded = new Set(facts.recorded.map(key));
    const gone = new Set(dead);
    // What holds, by key: taken by the first entry of that key (a later one is a duplicate, dropped).
    const holds = new Map(held.map((h) => [key(h), h]));
    const next: Entry[] = [];
    for (const e of this.#entries) {
      if (!mine.has(e.c)) {
        next.push(e);
        continue;
      }
      this.#count(e, -1);
      const h = gone.has(e.c) ? undefined : holds.get(e.key);
      if (!h) continue; // dead, or a second entry of a connection already held
      holds.delete(e.key);
      const n = this.#entry(h, recorded.has(e.key) ? 'recorded' : 'running');
      next.push(n);
      this.#count(n, 1);
    }
    this.#entries = next;
    this.#joined = undefined;
    return dead;
  }
}
