// Networks as libvirt keeps them: definitions in the config directory (one
// NAME.xml each, autostart/NAME.xml links), live state in the state
// directory (networks/NAME.xml, the start-time config NAME.inactive and
// the connection ledger NAME.connections). Every file is written
// atomically; a file that cannot be read is reported by name and never
// overwritten. Connection counts come from the ledger checked against the
// live XML of the domains it names (so an allocation costs what this
// network's own connections cost, whatever else the host runs); net-start
// rebuilds them from every domain scope after a restart, never counting
// twice; connections of processes that died before their domain's live XML
// was written are reclaimed.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { NetfdError } from '../errors';
import { deleteLinks, getLink, listLinks, setLink } from '../sys/link';
import { directoryOption, objectNames, domainScopes, inactiveXmlPath, liveXmlPath, objectFile, stateDir } from '../state/dirs';
import { processStart } from '../state/pidfile';
import { replaceFileAtomic } from '../state/atomic';
import { withLock } from '../state/lock';
import { pickDevice } from '../policy/pool';
import { DomainXml } from '../xml/domain';
import { ForwardMode, NetworkXml, PoolDevice } from '../xml/network';
import { isObjectName } from '../xml/dom';
import { expandPf, sysfsRoot } from './sysfs';

/** Where network definitions are unless `configDir` or NETFD_CONFIG_DIR says otherwise. */
export const DEFAULT_CONFIG_DIR = '/etc/netfd/networks';

/** The config directory: the option, else NETFD_CONFIG_DIR, else /etc/netfd/networks. */
export function configDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return directoryOption('configDir', explicit, 'NETFD_CONFIG_DIR', env, DEFAULT_CONFIG_DIR);
}

/** Where networks' definitions, live state and sysfs are. */
export interface NetworkOptions {
  /** Definitions (default NETFD_CONFIG_DIR or /etc/netfd/networks). */
  configDir?: string | undefined;
  /** The live state directory of domains (networks live in its networks/). */
  stateDir?: string | undefined;
  /** Where sysfs is (default NETFD_SYSFS_ROOT or /sys), for <pf> pools. */
  sysfsRoot?: string | undefined;
}

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

/** A device given to an interface by {@link Networks.allocate}. */
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

/** What `Networks.scanConfig()` found: the definitions by name, and the files it could not use. */
export interface ConfigScan {
  /** The definitions that parsed, by network name. */
  defs: Map<string, NetworkXml>;
  /** Files that could not be read or parsed, with why. */
  broken: Map<string, string>;
}

const errnoOf = (e: unknown) => (e as NodeJS.ErrnoException).code;

function readIfExists(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return null;
    throw e;
  }
}

function checkName(name: string): string {
  if (typeof name !== 'string' || !isObjectName(name)) throw new NetfdError(`invalid network name ${JSON.stringify(name)}: 1-200 bytes, no whitespace or /`, { code: 'INVALID_ARGUMENT', field: 'name', value: name });
  return name;
}

/** A definition file's network, which must be named as the file is. */
function parseConfig(text: string, name: string): NetworkXml {
  const xml = NetworkXml.parse(text);
  if (xml.def.name !== name) throw new Error(`it defines network '${xml.def.name}', not '${name}'`);
  return xml;
}

const corrupt = (file: string, why: string) =>
  new NetfdError(`${file} cannot be used (${why}); netfd will not overwrite it: fix or remove it`, { code: 'CORRUPT_STATE', field: 'file', value: file });

/** Whose connection: a domain, in a scope (default: the state directory). */
export interface ConnectionOwner {
  domain: string;
  scope?: string | undefined;
}

const sameOwner = (c: ConnectionOwner, o: ConnectionOwner, dflt: string) => c.domain === o.domain && (c.scope ?? dflt) === (o.scope ?? dflt);

/** A connection a domain's live XML records. */
interface DomainRef {
  network: string;
  domain: string;
  mac: string;
  dev: string;
  scope: string;
}

/** Parsed live XML by file, while its inode, size and mtime stay the same. */
const liveRefs = new Map<string, { stamp: string; refs: DomainRef[] }>();

/**
 * libvirt-style `<network>`s over a device pool: define, start, list, allocate and release connections
 * (the `net-*` verbs).
 */
export class Networks {
  readonly configDir: string;
  /** Domains' live state (the connections' other half). */
  readonly domainDir: string;
  /** Networks' live state. */
  readonly stateDir: string;
  readonly sysfsRoot: string;

/** Reads nothing yet: every operation reads the files it needs. */
  constructor(o: NetworkOptions = {}) {
    this.configDir = configDir(o.configDir);
    this.domainDir = stateDir(o.stateDir);
    this.stateDir = path.join(this.domainDir, 'networks');
    this.sysfsRoot = sysfsRoot(o.sysfsRoot);
  }

/** The definition file of network `name`. */
  configPath = (name: string): string => path.join(this.configDir, `${name}.xml`);
/** The autostart link of network `name`. */
  autostartPath = (name: string): string => path.join(this.configDir, 'autostart', `${name}.xml`);
/** The live XML of running network `name`. */
  livePath = (name: string): string => liveXmlPath(this.stateDir, name);
/** The definition running network `name` was started from. */
  inactivePath = (name: string): string => inactiveXmlPath(this.stateDir, name);
/** The connection ledger of running network `name`. */
  ledgerPath = (name: string): string => objectFile(this.stateDir, name, 'connections');

  #lock<T>(name: string, body: () => Promise<T>): Promise<T> {
    return withLock(this.stateDir, name, body, 30_000, 'network');
  }

  /** Every definition; unreadable files are reported in `broken`, not thrown. */
  scanConfig(): ConfigScan {
    const defs = new Map<string, NetworkXml>();
    const broken = new Map<string, string>();
    let files: string[] = [];
    try {
      files = fs.readdirSync(this.configDir).filter((f) => f.endsWith('.xml') && !f.startsWith('.'));
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') throw e;
    }
    for (const f of files.sort()) {
      const file = path.join(this.configDir, f);
      try {
        const xml = parseConfig(fs.readFileSync(file, 'utf8'), f.slice(0, -4));
        defs.set(xml.def.name, xml);
      } catch (e) {
        broken.set(file, (e as Error).message);
      }
    }
    return { defs, broken };
  }

  /** Names of networks with live state (active), sorted. */
  activeNames(): string[] {
    try {
      return objectNames(this.stateDir).filter(isObjectName);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return [];
      throw e;
    }
  }

/** True when network `name` is running (has live state). */
  isActive(name: string): boolean {
    return fs.existsSync(this.livePath(checkName(name)));
  }

  /** The definition of `name`; a broken file is an error naming it. */
  #config(name: string): NetworkXml | null {
    const file = this.configPath(name);
    const text = readIfExists(file);
    if (text === null) return null;
    try {
      return parseConfig(text, name);
    } catch (e) {
      throw corrupt(file, (e as Error).message);
    }
  }

  #noSuch(name: string): NetfdError {
    return new NetfdError(`no network named '${name}' (no ${this.configPath(name)})`, { code: 'ENOENT', field: 'name', value: name });
  }

  /** The config a live network was started from (NAME.inactive.xml). */
  #startedFrom(name: string): NetworkXml {
    const file = this.inactivePath(name);
    const text = readIfExists(file);
    if (text === null) throw corrupt(file, 'missing beside the live state');
    try {
      return NetworkXml.parse(text);
    } catch (e) {
      throw corrupt(file, (e as Error).message);
    }
  }

  /**
   * net-define: stores the definition (atomically). A new network gets a
   * UUID; redefining keeps it. Names and UUIDs are unique across all
   * definitions and running networks.
   */
  async define(text: string): Promise<{ name: string; uuid: string; redefined: boolean }> {
    const xml = NetworkXml.parse(text);
    const { name } = xml.def;
    return this.#lock('.config', async () => {
      const { defs, broken } = this.scanConfig();
      const file = this.configPath(name);
      if (broken.has(file)) throw corrupt(file, broken.get(file) as string);
      const old = defs.get(name) ?? (this.isActive(name) ? this.#startedFrom(name) : undefined);
      if (old?.def.uuid && xml.def.uuid && old.def.uuid !== xml.def.uuid)
        throw new NetfdError(`network '${name}' already exists with uuid ${old.def.uuid}`, { code: 'EEXIST', field: '/network/uuid', value: xml.def.uuid });
      const uuid = xml.def.uuid ?? old?.def.uuid ?? randomUUID();
      const running = this.activeNames().filter((n) => n !== name && !defs.has(n)).flatMap((n) => {
        try {
          return [this.#startedFrom(n)];
        } catch {
          return []; // unreadable: reported by net-list and by that network's own commands
        }
      });
      const others = [...defs.values(), ...running];
      const clash = others.find((o) => o.def.name !== name && o.def.uuid === uuid);
      if (clash) throw new NetfdError(`uuid ${uuid} is already used by network '${clash.def.name}'`, { code: 'EEXIST', field: '/network/uuid', value: uuid });
      replaceFileAtomic(file, xml.withUuid(uuid));
      return { name, uuid, redefined: !!defs.get(name) };
    });
  }

  /** net-undefine: removes the definition; a running network goes on, transient, until destroyed. */
  async undefine(name: string): Promise<{ active: boolean }> {
    checkName(name);
    return this.#lock('.config', async () => {
      const file = this.configPath(name);
      if (!fs.existsSync(file)) throw this.#noSuch(name);
      fs.rmSync(this.autostartPath(name), { force: true });
      fs.rmSync(file);
      return { active: this.isActive(name) };
    });
  }

  /** net-autostart [--disable]: autostart/NAME.xml links to the definition. */
  setAutostart(name: string, on: boolean): void {
    checkName(name);
    if (!fs.existsSync(this.configPath(name))) throw this.#noSuch(name);
    const link = this.autostartPath(name);
    fs.rmSync(link, { force: true });
    if (on) {
      fs.mkdirSync(path.dirname(link), { recursive: true, mode: 0o755 });
      fs.symlinkSync(path.join('..', `${name}.xml`), link);
    }
  }

/** True when network `name` is marked for autostart. */
  autostart(name: string): boolean {
    return fs.existsSync(this.autostartPath(name));
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
          uuid ??= this.#startedFrom(name).def.uuid ?? null;
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
    return this.#lock(name, async () => {
      const xml = this.#config(name);
      if (!xml) throw this.#noSuch(name);
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
    return this.#lock(name, async () => {
      if (!this.isActive(name)) throw new NetfdError(`network '${name}' is not active`, { code: 'NETWORK_INACTIVE', field: 'name', value: name });
      const status = await this.#status(name, this.#startedFrom(name), { reclaim: true });
      if (status.connections.length) {
        const domains = [...new Set(status.connections.map((c) => c.domain))].sort();
        throw new NetfdError(`network '${name}' has ${status.connections.length} connection(s), from domain(s) ${domains.join(', ')}; destroy them or detach their interfaces first`, { code: 'EBUSY', field: 'name', value: name });
      }
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
    return this.#lock(name, async () => {
      const status = await this.#status(name, this.#activeXml(name), { reclaim: true });
      this.#write(name, status);
      return { warnings: status.warnings };
    });
  }

  /**
   * net-dumpxml: the live XML of an active network (the pool with counts and,
   * without a <pf>, <forward dev> naming its first device, as libvirt), else
   * the definition; `inactive`: the definition, exactly as written.
   */
  dumpxml(name: string, o: { inactive?: boolean | undefined } = {}): string {
    checkName(name);
    const active = this.isActive(name);
    if (o.inactive || !active) {
      const config = readIfExists(this.configPath(name));
      if (config !== null) return config;
      if (active) return this.#startedFrom(name).text;
      throw this.#noSuch(name);
    }
    return fs.readFileSync(this.livePath(name), 'utf8');
  }

  /** The live state of an active network, counts checked against the domains (changes nothing). */
  async status(name: string): Promise<NetworkStatus> {
    return this.#status(checkName(name), this.#activeXml(name), { reclaim: false });
  }

  #activeXml(name: string): NetworkXml {
    if (this.isActive(name)) return this.#startedFrom(name);
    if (fs.existsSync(this.configPath(name))) throw new NetfdError(`network '${name}' is not active (netfd net-start ${name})`, { code: 'NETWORK_INACTIVE', field: 'network', value: name });
    throw new NetfdError(`no network named '${name}'`, { code: 'ENOENT', field: 'network', value: name });
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
    this.#activeXml(checkName(name)); // not active: refused before any file is made
    return this.#lock(name, async () => {
      const xml = this.#activeXml(name);
      const status = await this.#status(name, xml, { reclaim: true, strict: true });
      if (status.connections.some((c) => sameOwner(c, req, this.domainDir) && c.mac === req.mac))
        throw new NetfdError(`domain ${req.domain} already has a connection with MAC ${req.mac} on network '${name}'`, { code: 'EEXIST', field: 'mac', value: req.mac });
      const { mode } = xml.def;
      const dev = pickDevice(name, mode, status.pool.filter((p) => !p.outside));
      const c: Connection = { dev, domain: req.domain, mac: req.mac, pid: process.pid, start: processStart(process.pid) };
      if (req.scope !== undefined && req.scope !== this.domainDir) c.scope = req.scope;
      if (req.netns !== undefined) c.netns = req.netns;
      if (req.group !== undefined) c.group = req.group;
      if (mode === 'passthrough') {
        const l = await getLink(dev, { netns: req.netns }).catch((e: NetfdError) => {
          throw new NetfdError(`network '${name}': pool device ${dev} cannot be used: ${e.message}`, { code: e.code ?? 'ENODEV', field: 'network', value: name });
        });
        if (l.mac) c.saved = { mac: l.mac };
      }
      status.connections.push(c);
      this.#count(status);
      this.#write(name, status);
      return { network: name, dev, mode, warnings: status.warnings };
    });
  }

  /** Ends a connection: out of the ledger, a passthrough device's MAC restored. */
  async release(name: string, req: ConnectionOwner & { mac: string }): Promise<{ warnings: string[] }> {
    checkName(name);
    return this.#lock(name, async () => {
      if (!this.isActive(name)) return { warnings: [`network '${name}' is not active: no connection of ${req.domain} (${req.mac}) to release`] };
      const connections = this.#readLedger(name);
      const mine = connections.filter((c) => sameOwner(c, req, this.domainDir) && c.mac === req.mac);
      const warnings: string[] = [];
      for (const c of mine) await this.#restore(c, warnings);
      const status = { xml: this.#startedFrom(name), pool: [], connections: connections.filter((c) => !mine.includes(c)), warnings };
      this.#count(status, this.#poolOf(name, status.xml, warnings, false));
      this.#write(name, status);
      return { warnings };
    });
  }

  #readLedger(name: string): Connection[] {
    const file = this.ledgerPath(name);
    const text = readIfExists(file);
    if (text === null) return [];
    try {
      const j = JSON.parse(text) as { connections?: unknown };
      if (!Array.isArray(j.connections)) throw new Error('no connections array');
      for (const c of j.connections as Connection[])
        if (typeof c?.dev !== 'string' || typeof c.domain !== 'string' || typeof c.mac !== 'string' || typeof c.pid !== 'number') throw new Error(`bad entry ${JSON.stringify(c)}`);
      return j.connections as Connection[];
    } catch (e) {
      throw corrupt(file, (e as Error).message);
    }
  }

  #write(name: string, s: NetworkStatus): void {
    replaceFileAtomic(this.ledgerPath(name), `${JSON.stringify({ version: 1, connections: s.connections }, null, 1)}\n`);
    replaceFileAtomic(this.livePath(name), s.xml.live(s.pool));
  }

  /**
   * The pool now: the listed devices, or the PF's VFs read from sysfs.
   * `strict` (start, allocate): a PF that cannot be expanded is an error;
   * otherwise (release, destroy, status) a warning, and the pool as the live
   * XML last showed it, so a vanished PF never blocks giving devices back.
   */
  #poolOf(name: string, xml: NetworkXml, warnings: string[], strict: boolean): string[] {
    const { pf, devices } = xml.def;
    if (pf === undefined) return devices;
    try {
      const e = expandPf(pf, { sysfsRoot: this.sysfsRoot });
      warnings.push(...e.warnings);
      return e.devices;
    } catch (err) {
      if (strict) throw err;
      warnings.push(`${(err as Error).message}; using the pool as last seen`);
      const live = readIfExists(this.livePath(name));
      return live === null ? [] : NetworkXml.parse(live, { live: true }).def.devices;
    }
  }


  /** Counts per pool device; devices outside the pool that still carry connections are listed after it. */
  #count(s: NetworkStatus, devices: string[] = s.pool.filter((p) => !p.outside).map((p) => p.dev)): void {
    const n = new Map<string, number>(devices.map((d) => [d, 0]));
    const outside = new Set<string>();
    for (const c of s.connections) {
      if (!n.has(c.dev)) outside.add(c.dev);
      n.set(c.dev, (n.get(c.dev) ?? 0) + 1);
    }
    s.pool = [...n].map(([dev, connections]) => (outside.has(dev) ? { dev, connections, outside: true } : { dev, connections }));
  }

  /**
   * The pool and the connections that hold: ledger entries confirmed by
   * their domain's live XML or by their allocating process still running.
   * The rest belonged to processes that died before their domain was
   * written: with `reclaim`, their macvtap is deleted and a saved MAC
   * restored. `rebuild` (net-start, after a restart) also adds the
   * connections that domains in every scope record and the ledger lacks.
   */
  async #status(name: string, xml: NetworkXml, o: { reclaim: boolean; strict?: boolean; rebuild?: boolean }): Promise<NetworkStatus> {
    const warnings: string[] = [];
    const ledger = this.#readLedger(name);
    const scopeOf = (c: { scope?: string }) => c.scope ?? this.domainDir;
    const key = (c: { domain: string; mac: string; scope?: string }) => `${scopeOf(c)}\n${c.domain}\n${c.mac}`;
    const scanned = o.rebuild ? this.#scanRefs(name, warnings) : [];
    const byKey = new Map<string, DomainRef>();
    for (const r of scanned) byKey.set(key(r), r);
    // The domains the ledger names, each read once.
    const domains = new Map<string, DomainRef[]>();
    for (const c of ledger) {
      const k = `${scopeOf(c)}\n${c.domain}`;
      if (!domains.has(k)) domains.set(k, this.#refsOf(name, scopeOf(c), c.domain, warnings));
      for (const r of domains.get(k) as DomainRef[]) byKey.set(key(r), r);
    }
    const held: Connection[] = [];
    const seen = new Set<string>();
    for (const c of ledger) {
      const k = key(c);
      if (seen.has(k)) continue;
      const ref = byKey.get(k);
      if (ref) held.push({ ...c, dev: ref.dev });
      else if (c.pid > 0 && processStart(c.pid) === c.start) held.push(c);
      else {
        if (o.reclaim) await this.#reclaim(c, warnings);
        continue;
      }
      seen.add(k);
    }
    for (const r of scanned) {
      if (seen.has(key(r))) continue;
      const c: Connection = { dev: r.dev, domain: r.domain, mac: r.mac, pid: 0, start: null };
      if (r.scope !== this.domainDir) c.scope = r.scope;
      held.push(c);
      seen.add(key(r));
    }
    const status: NetworkStatus = { xml, pool: [], connections: held, warnings };
    this.#count(status, this.#poolOf(name, xml, warnings, o.strict ?? false));
    return status;
  }

  /** The connections to `name` that every domain in every scope records. */
  #scanRefs(name: string, warnings: string[]): DomainRef[] {
    const refs: DomainRef[] = [];
    for (const scope of domainScopes(this.domainDir)) for (const domain of objectNames(scope)) refs.push(...this.#refsOf(name, scope, domain, warnings));
    return refs;
  }

  /** The connections to network `name` that one domain's live XML records (none when it has no live XML). */
  #refsOf(name: string, scope: string, domain: string, warnings: string[]): DomainRef[] {
    const file = liveXmlPath(scope, domain);
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      return []; // gone
    }
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    let cached = liveRefs.get(file);
    if (cached?.stamp !== stamp) {
      const text = readIfExists(file);
      if (text === null) return [];
      try {
        const d = DomainXml.parse(text, { live: true }).def;
        const all: DomainRef[] = [];
        for (const i of d.interfaces) if (i.type === 'network' && i.source.network && i.actual && i.mac) all.push({ network: i.source.network, domain: d.name, mac: i.mac, dev: i.actual.dev, scope });
        cached = { stamp, refs: all };
      } catch (e) {
        warnings.push(`domain state ${file} cannot be read (${(e as Error).message}); its connections are not counted`);
        cached = { stamp, refs: [] };
      }
      if (liveRefs.size >= 4096) liveRefs.clear();
      liveRefs.set(file, cached);
    }
    return cached.refs.filter((r) => r.network === name && r.domain === domain);
  }

  /** Undoes a dead process's connection: its macvtap deleted, the device's MAC restored. */
  async #reclaim(c: Connection, warnings: string[]): Promise<void> {
    try {
      const links = await listLinks({ netns: c.netns });
      const parent = links.find((l) => l.name === c.dev);
      // With a recorded group, exactly the links made for that domain (a user
      // may have changed their MAC); else, as before groups, by MAC.
      const ours = (l: { mac: string | null; group: number | null }) => (c.group !== undefined ? l.group === c.group : l.mac === c.mac || !!c.saved);
      const left = parent ? links.filter((l) => l.kind === 'macvtap' && l.parent === parent.index && ours(l)) : [];
      if (left.length) await deleteLinks(left.map((l) => l.index), { netns: c.netns });
      warnings.push(`reclaimed the connection of ${c.domain} (${c.mac}) on ${c.dev}: process ${c.pid} died before the domain was recorded${left.length ? `; deleted ${left.map((l) => l.name).join(', ')}` : ''}`);
    } catch (e) {
      warnings.push(`reclaiming the connection of ${c.domain} (${c.mac}) on ${c.dev}: ${(e as Error).message}`);
    }
    await this.#restore(c, warnings);
  }

  /** Gives a passthrough device its saved MAC back (if it still has another). */
  async #restore(c: Connection, warnings: string[]): Promise<void> {
    if (!c.saved) return;
    try {
      const l = await getLink(c.dev, { netns: c.netns });
      if (l.mac !== c.saved.mac) await setLink(l.index, { netns: c.netns, mac: c.saved.mac });
    } catch (e) {
      warnings.push(`could not restore MAC ${c.saved.mac} on ${c.dev}: ${(e as Error).message}`);
    }
  }
}
