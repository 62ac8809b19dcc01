// A running network's live state on disk: STATE/networks/NAME.xml (the pool
// with its counts) and the connection ledger NAME.connections, read and
// written under the network's lock. Counts come from the ledger checked
// against the live XML of the domains it names; allocate and release keep
// them in an index (./usage.ts) between calls while the ledger is the file
// they last wrote, and check only what may have changed since (so an
// allocation costs the same however many domains hold connections);
// net-start rebuilds them from every domain scope after a restart, never
// counting twice. A <pf> is walked in sysfs again only when its
// sriov_numvfs changed (and at net-start). Which entries hold is decided by
// ./ledger.ts; undoing the others on the host (macvtaps deleted, saved MACs
// restored) is the `ConnectionUndo` the constructor is given
// (lib/netdev/reclaim.ts): this layer reads links, never changes them.
import fs from 'node:fs';
import { NetfdError } from '../errors';
import { getLink } from '../sys/link';
import { processStart } from '../state/pidfile';
import { AtomicOptions, replaceFileAtomic, replaceFilesAtomic } from '../state/atomic';
import { pickDevice } from '../policy/pool';
import { ForwardMode, NetworkXml, PoolDevice } from '../xml/network';
import { checkName, corrupt, NetworkConfig, NetworkConfigOptions, readIfExists } from './config';
import { Connection, ConnectionOwner, countPool, DomainRef, formatLedger, newConnection, parseLedger, reconcile } from './ledger';
import { LiveText } from './livetext';
import { sysfsRoot } from './pool';
import { dirStamp, poolOf, refsOf, scanRefs } from './scan';
import { PoolUsage } from './usage';

/** Where networks' definitions, live state and sysfs are. */
export interface NetworkOptions extends NetworkConfigOptions {
  /** Where sysfs is (default NETFD_SYSFS_ROOT or /sys), for <pf> pools. */
  sysfsRoot?: string | undefined;
}

/** A device given to an interface by `Networks.allocate`. */
export interface Allocation {
  network: string;
  dev: string;
  mode: ForwardMode;
  warnings: string[];
}

/** One line of `net-list`. */
export interface NetworkRow {
  name: string;
  uuid: string | null;
  active: boolean;
  autostart: boolean;
  persistent: boolean;
  /** Active networks: connections in all. */
  connections: number | null;
}

/** A network's live state: its pool with counts and every connection. */
export interface NetworkStatus {
  xml: NetworkXml;
  pool: PoolDevice[];
  connections: Connection[];
  warnings: string[];
}

/** What undoes a connection on the host (lib/netdev/reclaim.ts); failures become warnings, never throws. */
export interface ConnectionUndo {
  /** A connection whose process died before its domain was recorded: its macvtaps deleted, the saved MAC restored. */
  reclaim(c: Connection, warnings: string[]): Promise<void>;
  /** A released passthrough connection: the device's saved MAC given back. */
  restore(c: Connection, warnings: string[]): Promise<void>;
}

/**
 * A running network's state between calls, by ledger file: the pool's usage
 * (./usage.ts), valid while the ledger and the definition the network was
 * started from hold the text it was built from or last wrote (checked under
 * the network's lock, so another process's change is always seen); the
 * stamps of the scopes whose live XML it checked; the live XML's cut text.
 */
interface NetIndex {
  ledgerText: string;
  /** NAME.inactive's text (null: missing). */
  defText: string | null;
  /** The ledger's and NAME.inactive's identity when their texts above were last known to be theirs (fileId). */
  ledgerId: string | null;
  defId: string | null;
  usage: PoolUsage;
  /** Scope directory -> its stamp when its connections were checked (absent: check them). */
  scopes: Map<string, string>;
  live?: LiveText;
  /** What `live` was last checked for: the definition's text, the device list (by identity) and the pool's length. */
  liveFor?: { text: string; devices: readonly string[]; n: number };
}
const indexes = new Map<string, NetIndex>();

/**
 * A file's identity (inode, size, modification and change times; null when
 * it is missing): netfd replaces its state files by rename, so a new text is
 * a new inode, and a write in place changes the times. One stat, where
 * reading the text to compare is four system calls.
 */
function fileId(file: string): string | null {
  const st = fs.statSync(file, { bigint: true, throwIfNoEntry: false });
  return st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : null;
}

/** Ledger and live XML are published without fsync: they describe connections of devices and processes that a reboot ends. */
const RUNTIME: AtomicOptions = { sync: false };

/** This process's start time (it allocates as itself). */
let ownStart: string | null | undefined;

/**
 * libvirt-style `<network>`s over a device pool: define, start, list, allocate and release connections
 * (the `net-*` verbs). `undo` is what changes the host when a connection ends.
 */
export class NetworkStore extends NetworkConfig {
  readonly sysfsRoot: string;
  readonly #undo: ConnectionUndo;

  /** Reads nothing yet: every operation reads the files it needs. */
  constructor(o: NetworkOptions, undo: ConnectionUndo) {
    super(o);
    this.sysfsRoot = sysfsRoot(o.sysfsRoot);
    this.#undo = undo;
  }

  /** net-list: defined and running networks; unreadable files become warnings. */
  list(): { rows: NetworkRow[]; warnings: string[] } {
    const { defs, broken } = this.scanConfig();
    const warnings = [...broken].map(([file, why]) => `${file} skipped: ${why}`);
    const active = new Set(this.activeNames());
    const names = [...new Set([...defs.keys(), ...active])].sort();
    const rows = names.map((name) => {
      let uuid = defs.get(name)?.def.uuid ?? null;
      let connections: number | null = null;
      if (active.has(name)) {
        try {
          uuid ??= this.startedFrom(name).def.uuid ?? null;
          connections = this.#readLedger(name).length;
        } catch (e) {
          warnings.push((e as Error).message);
        }
      }
      return { name, uuid, active: active.has(name), autostart: this.autostart(name), persistent: defs.has(name), connections };
    });
    return { rows, warnings };
  }

  /**
   * net-start: the pool (a <pf> expanded from sysfs), connection counts
   * rebuilt from the domains' live XML, live state written.
   */
  async start(name: string): Promise<NetworkStatus> {
    checkName(name);
    return this.lock(name, async () => {
      const xml = this.config(name);
      if (!xml) throw this.noSuch(name);
      if (this.isActive(name)) throw new NetfdError(`network '${name}' is already active`, { code: 'EEXIST', field: 'name', value: name });
      const status = await this.#status(name, xml, { reclaim: true, strict: true, rebuild: true });
      replaceFileAtomic(this.inactivePath(name), xml.text);
      this.#write(name, status);
      return status;
    });
  }

  /**
   * net-destroy: removes the live state. Refused while guests are connected
   * (libvirt would leave them on a network it no longer tracks).
   */
  async destroy(name: string): Promise<{ warnings: string[] }> {
    checkName(name);
    return this.lock(name, async () => {
      if (!this.isActive(name)) throw new NetfdError(`network '${name}' is not active`, { code: 'NETWORK_INACTIVE', field: 'name', value: name });
      const status = await this.#status(name, this.startedFrom(name), { reclaim: true });
      if (status.connections.length) {
        const domains = [...new Set(status.connections.map((c) => c.domain))].sort();
        throw new NetfdError(`network '${name}' has ${status.connections.length} connection(s), from domain(s) ${domains.join(', ')}; destroy them or detach their interfaces first`, {
          code: 'EBUSY',
          field: 'name',
          value: name,
        });
      }
      indexes.delete(this.ledgerPath(name));
      for (const f of [this.livePath(name), this.ledgerPath(name), this.inactivePath(name)]) fs.rmSync(f, { force: true });
      return { warnings: status.warnings };
    });
  }

  /**
   * Reclaims now the connections whose process died before their domain
   * recorded them (a crashed agent or launch): their macvtaps deleted, saved
   * MACs restored. Other operations do the same as they go.
   */
  async reclaim(name: string): Promise<{ warnings: string[] }> {
    checkName(name);
    return this.lock(name, async () => {
      const status = await this.#status(name, this.activeXml(name), { reclaim: true });
      this.#write(name, status);
      return { warnings: status.warnings };
    });
  }

  /** The live state of an active network, counts checked against the domains (changes nothing). */
  async status(name: string): Promise<NetworkStatus> {
    return this.#status(checkName(name), this.activeXml(name), { reclaim: false });
  }

  /** The device one more connection would get now, with nothing recorded (domxml-to-native). */
  async peek(name: string): Promise<{ dev: string; mode: ForwardMode }> {
    const status = await this.status(name);
    return { dev: pickDevice(name, status.xml.def.mode, status.pool), mode: status.xml.def.mode };
  }

  /**
   * A device of the pool for one more guest connection, recorded in the
   * ledger before anything uses it. passthrough saves the device's MAC
   * first (restored by `release`, or by the reclaim after a crash).
   */
  async allocate(name: string, req: ConnectionOwner & { mac: string; netns?: string | undefined; group?: number | undefined }): Promise<Allocation> {
    if (!this.isActive(checkName(name))) this.activeXml(name); // not active: refused before any file is made
    return this.#indexed(name, async (idx) => {
      const xml = this.isActive(name) ? this.startedFrom(name, idx.defText) : this.activeXml(name);
      const warnings: string[] = [];
      await this.#check(name, idx, warnings);
      const devices = poolOf(this.sysfsRoot, this.livePath(name), xml, warnings, true);
      if (idx.usage.has(req)) throw new NetfdError(`domain ${req.domain} already has a connection with MAC ${req.mac} on network '${name}'`, { code: 'EEXIST', field: 'mac', value: req.mac });
      const { mode } = xml.def;
      const dev = pickDevice(
        name,
        mode,
        idx.usage.pool(devices).filter((p) => !p.outside),
      );
      ownStart ??= processStart(process.pid);
      const c = newConnection(dev, req, { pid: process.pid, start: ownStart, domainDir: this.domainDir });
      if (mode === 'passthrough') {
        const l = await getLink(dev, { netns: req.netns }).catch((e: NetfdError) => {
          throw new NetfdError(`network '${name}': pool device ${dev} cannot be used: ${e.message}`, { code: e.code ?? 'ENODEV', field: 'network', value: name });
        });
        if (l.mac) c.saved = { mac: l.mac };
      }
      idx.usage.add(c);
      this.#writeIndexed(name, idx, xml, devices);
      return { network: name, dev, mode, warnings };
    });
  }

  /** Ends a connection: out of the ledger, a passthrough device's MAC restored. */
  async release(name: string, req: ConnectionOwner & { mac: string }): Promise<{ warnings: string[] }> {
    checkName(name);
    return this.#indexed(name, async (idx) => {
      if (!this.isActive(name)) return { warnings: [`network '${name}' is not active: no connection of ${req.domain} (${req.mac}) to release`] };
      const warnings: string[] = [];
      const mine = idx.usage.remove(req);
      for (const c of mine) await this.#undo.restore(c, warnings);
      const xml = this.startedFrom(name, idx.defText);
      this.#writeIndexed(name, idx, xml, poolOf(this.sysfsRoot, this.livePath(name), xml, warnings, false));
      return { warnings };
    });
  }

  /**
   * Runs `body` holding network `name`'s lock with its index: the one kept
   * since this process last wrote the ledger, if the ledger and the
   * definition it was started from are still what it wrote; else one built
   * from the ledger, every connection to be checked. Any failure drops it.
   */
  #indexed<T>(name: string, body: (idx: NetIndex) => Promise<T>): Promise<T> {
    return this.lock(name, async () => {
      const file = this.ledgerPath(name);
      const ledgerId = fileId(file);
      const defId = fileId(this.inactivePath(name));
      let idx = indexes.get(file);
      // Files that are what the index last saw need no reading; others are read and compared.
      if (!idx || idx.ledgerId !== ledgerId || idx.defId !== defId) {
        const ledgerText = readIfExists(file) ?? '';
        const defText = readIfExists(this.inactivePath(name));
        if (!idx || idx.ledgerText !== ledgerText || idx.defText !== defText) {
          indexes.delete(file);
          idx = { ledgerText, defText, ledgerId, defId, usage: new PoolUsage(ledgerText ? this.#parseLedger(file, ledgerText) : [], this.domainDir), scopes: new Map() };
        } else Object.assign(idx, { ledgerId, defId });
      }
      try {
        const r = await body(idx);
        if (indexes.size >= 256 && !indexes.has(file)) indexes.clear();
        indexes.set(file, idx);
        return r;
      } catch (e) {
        indexes.delete(file);
        throw e;
      }
    });
  }

  /**
   * Checks the connections that may have stopped holding since the index
   * last did (`PoolUsage.due`): those of scopes whose directory changed (a
   * live XML gone or rewritten), those of other processes (one may have
   * died), and any not checked yet. The dead are reclaimed and dropped.
   */
  async #check(name: string, idx: NetIndex, warnings: string[]): Promise<void> {
    // Each scope stamped before its files are read: a change after this is seen next time.
    const changed = new Set<string>();
    for (const scope of idx.usage.scopes()) {
      const now = dirStamp(scope);
      if (now !== null && idx.scopes.get(scope) === now) continue;
      changed.add(scope);
      if (now === null) idx.scopes.delete(scope);
      else idx.scopes.set(scope, now);
    }
    const due = idx.usage.due({ changed, pid: process.pid });
    if (!due.length) return;
    const recorded: DomainRef[] = [];
    const domains = new Set<string>();
    for (const c of due) {
      const scope = c.scope ?? this.domainDir;
      const k = `${scope}\n${c.domain}`;
      if (domains.has(k)) continue;
      domains.add(k);
      recorded.push(...refsOf(name, scope, c.domain, warnings));
    }
    ownStart ??= processStart(process.pid);
    const starts = new Map(due.filter((c) => c.pid > 0).map((c) => [c.pid, c.pid === process.pid ? (ownStart ?? null) : processStart(c.pid)]));
    const dead = idx.usage.settle(due, { recorded, starts });
    for (const c of dead) await this.#undo.reclaim(c, warnings);
  }

  /** Writes the ledger and the live XML from the index (the live XML from its cut text). */
  #writeIndexed(name: string, idx: NetIndex, xml: NetworkXml, devices: readonly string[]): void {
    const ledgerText = idx.usage.ledgerText();
    const pool = idx.usage.pool(devices);
    // The same definition text over the same device list (the same array, as long) keeps its cut text without a key.
    const made = idx.liveFor;
    if (!idx.live || made?.text !== xml.text || made.devices !== devices || made.n !== pool.length) {
      const key = LiveText.keyOf(xml.text, pool);
      if (idx.live?.key !== key) idx.live = new LiveText(key, pool, (p) => xml.live(p));
      idx.liveFor = { text: xml.text, devices, n: pool.length };
    }
    // Both temporary files written, then renamed, ledger first.
    replaceFilesAtomic(
      [
        [this.ledgerPath(name), ledgerText],
        [this.livePath(name), idx.live.text(pool)],
      ],
      RUNTIME,
    );
    idx.ledgerText = ledgerText;
    idx.ledgerId = fileId(this.ledgerPath(name));
  }

  #parseLedger(file: string, text: string): Connection[] {
    try {
      return parseLedger(text);
    } catch (e) {
      throw corrupt(file, (e as Error).message);
    }
  }

  #readLedger(name: string): Connection[] {
    const file = this.ledgerPath(name);
    const text = readIfExists(file);
    return text === null ? [] : this.#parseLedger(file, text);
  }

  #write(name: string, s: NetworkStatus): void {
    indexes.delete(this.ledgerPath(name)); // rebuilt by the next allocate or release
    replaceFilesAtomic(
      [
        [this.ledgerPath(name), formatLedger(s.connections)],
        [this.livePath(name), s.xml.live(s.pool)],
      ],
      RUNTIME,
    );
  }

  /**
   * The pool and the connections that hold (see ./ledger.ts `reconcile`).
   * With `reclaim`, the dead ones are undone on the host. `rebuild`
   * (net-start, after a restart) also adds the connections that domains in
   * every scope record and the ledger lacks.
   */
  async #status(name: string, xml: NetworkXml, o: { reclaim: boolean; strict?: boolean; rebuild?: boolean }): Promise<NetworkStatus> {
    const warnings: string[] = [];
    const ledger = this.#readLedger(name);
    const scanned = o.rebuild ? scanRefs(this.domainDir, name, warnings) : [];
    // The domains the ledger names, each read once.
    const recorded: DomainRef[] = [];
    const domains = new Set<string>();
    for (const c of ledger) {
      const scope = c.scope ?? this.domainDir;
      const k = `${scope}\n${c.domain}`;
      if (domains.has(k)) continue;
      domains.add(k);
      recorded.push(...refsOf(name, scope, c.domain, warnings));
    }
    const starts = new Map(ledger.filter((c) => c.pid > 0).map((c) => [c.pid, processStart(c.pid)]));
    const { held, dead } = reconcile({ ledger, recorded, scanned, starts, domainDir: this.domainDir });
    if (o.reclaim) for (const c of dead) await this.#undo.reclaim(c, warnings);
    return { xml, pool: countPool(poolOf(this.sysfsRoot, this.livePath(name), xml, warnings, o.strict ?? false, o.rebuild), held), connections: held, warnings };
  }
}
