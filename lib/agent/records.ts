// The agent's records of the domains it prepared. Each user's domains live in
// a scope of their own (STATE/agent/UID/NAME.{json,xml,lock}; the record holds
// the XML as written, and NAME.inactive is an older agent's copy of it): users
// can neither squat nor see each other's names. Every domain is recorded in
// NAME.json before the host changes, with the link group all its devices are
// created in, so after a crash (even SIGKILL) a restarted agent finds exactly
// what it made, by kernel identity rather than by a MAC or an owner the holder
// of an fd can change: finished domains are kept for their owner to claim,
// half-made ones are removed, and every other file of a user's directory is
// classified.
import fs from 'node:fs';
import path from 'node:path';
import { NetfdError } from '../errors';
import { removeGroup, removeHalfMade } from '../netdev/reclaim';
import { teardownFromLive } from '../netdev/teardown';
import { recordedLinks } from '../netdev/live';
import { agentScope, inactiveXmlPath, liveXmlPath, objectFile, objectOf } from '../state/dirs';
import { removeFile } from '../state/atomic';
import { Networks } from '../netdev/networks';
import type { Accel, GuestMac } from '../policy';
import { DomainXml, InterfaceDef } from '../xml/domain';
import type { AgentLogger } from './options';

/** A device the agent made, by kernel identity in the agent's namespace. */
export interface DeviceRecord {
  ifindex: number;
  kind: 'tap' | 'macvtap';
  name: string;
}

/** STATE/agent/UID/NAME.json: who owns a domain and what the agent was doing to it. */
export interface DomainRecord {
  name: string;
  uid: number;
  gid: number;
  /** The client process that asked. */
  pid: number;
  /** preparing: host changes may be half made; ready: prepared; releasing: being removed (written by older agents; a release now moves the record into the deletion queue at once). */
  state: 'preparing' | 'ready' | 'releasing';
  /** The config XML, and the guest MACs chosen before anything was made. */
  xml: string;
  macs: GuestMac[];
  /**
   * The link group every device of the domain is created in, chosen before
   * anything is made: release and recovery delete the links of this group
   * (and only those), whatever their MAC, owner or persist flag is by then.
   */
  group: number;
  /** The devices made so far (prepared plus attached minus detached). */
  devices: DeviceRecord[];
  /** Interfaces the domain has now (prepared plus attached minus detached). */
  interfaces: number;
  /** An interface being attached: its XML and MAC. */
  attaching?: { xml: string; mac: string };
  /** The accelerator the client said the guest runs on (over <domain type>), for attach's driver decisions. */
  accel?: Accel;
  /**
   * Whether the guest's vCPUs run, as its owner last said (prepare's
   * `running`, then set-running): the macvtaps are up only while they do,
   * and an attached one starts so. Absent: the owner does not say; macvtaps
   * are up from the start.
   */
  running?: boolean;
  since: string;
}

/** A connection as the holder of domains: the keys (Records.key) of those it holds. */
export interface Holder {
  domains: Set<string>;
}

/** A domain the agent holds now: its record, its holder (null: unclaimed), what it keeps on disk. */
export interface Held {
  record: DomainRecord;
  client: Holder | null;
  /** Bytes of state the domain keeps on disk (record and live XML; an inactive XML an older agent wrote). */
  bytes: number;
  timer?: NodeJS.Timeout;
  /** One queue fd of each tap the agent made, kept until release deletes the tap (see prepare.ts). */
  fds?: number[] | undefined;
  /**
   * The live XML's interfaces as the prepare wrote them (liveInterfaces),
   * for the release's teardown; unset once an attach or detach changed the
   * live XML, and after a restart: the teardown reads the file then.
   */
  live?: readonly InterfaceDef[] | undefined;
}

/** What a user holds or a request reserves: interfaces, domains, bytes of state. */
export interface Reservation {
  interfaces: number;
  domains: number;
  bytes: number;
}

/** Where the host is, for a domain's operations (the agent's options of the same names). */
export interface HostPlace {
  configDir?: string | undefined;
  sysfsRoot?: string | undefined;
  netns?: string | undefined;
  vhostDevice?: string | undefined;
}

/**
 * Writes a record atomically (a temporary file, then linked to its name when
 * `create`, failing with EEXIST if it exists, else renamed over it), without
 * fsync: a record must outlive the agent (SIGKILL included: the page cache
 * does), not the host, whose devices a reboot removes anyway. An fsync costs
 * milliseconds on a disk, on the thread that serves every client.
 */
function publish(file: string, text: string, create: boolean): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  fs.writeFileSync(tmp, text, { flag: 'wx', mode: 0o644 });
  if (!create) {
    try {
      fs.renameSync(tmp, file);
    } catch (e) {
      removeFile(tmp);
      throw e;
    }
    return;
  }
  try {
    fs.linkSync(tmp, file);
  } finally {
    removeFile(tmp); // linked or not, the temporary name goes
  }
}

export const bytesOf = (...texts: string[]): number => texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
const recordText = (r: DomainRecord): string => `${JSON.stringify(r, null, 1)}\n`;

/** What the records use of the deletion queue (reaper.ts's Reaper, which is given them). */
export interface DeletionQueue {
  /** Domains queued now (their devices not gone yet). */
  readonly size: number;
  /** Releases a held domain: journaled and dropped from those held (its name free), its deletion queued. */
  enqueue(h: Held, why: string): Promise<void>;
  /** What `uid`'s queued domains still count. */
  holding(uid: number): Reservation;
  /** Finishes the queue a killed agent left (at start, before the scopes are recovered). */
  recover(): Promise<void>;
  /** Resolves once nothing is queued but what failed. */
  drain(): Promise<void>;
  /** Closes the fds the queue still keeps (the agent is stopping). */
  close(): void;
}

/** Is `x` (a record file's JSON) a DomainRecord of `uid` (named `name`, when given)? */
export function isRecordOf(x: unknown, uid: number, name?: string): x is DomainRecord {
  const r = x as DomainRecord;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.name === 'string' &&
    (name === undefined || r.name === name) &&
    r.uid === uid &&
    Array.isArray(r.macs) &&
    Number.isInteger(r.group) &&
    Array.isArray(r.devices)
  );
}

/** The domains an agent holds, in memory and in their records on disk. */
export class Records {
  /** The live state directory; the records are under its agent/. */
  readonly dir: string;
  readonly recordsDir: string;
  /** Domains by key(uid, name). */
  readonly held = new Map<string, Held>();
  /** Released domains whose devices are being deleted (they count until gone): reaper.ts. */
  readonly queue: DeletionQueue;
  readonly #busy = new Set<string>();
  readonly #place: HostPlace;
  readonly #log: AgentLogger;

  constructor(dir: string, place: HostPlace, log: AgentLogger, queue: (records: Records) => DeletionQueue) {
    this.dir = dir;
    this.recordsDir = path.join(dir, 'agent');
    this.#place = place;
    this.#log = log;
    this.queue = queue(this);
  }

  key(uid: number, name: string): string {
    return `${uid}/${name}`;
  }

  /** The directory of a user's domains (made on first use, root's alone). */
  scope(uid: number): string {
    return agentScope(this.dir, uid);
  }

  path(uid: number, name: string): string {
    return objectFile(this.scope(uid), name, 'json');
  }

  /** The live and inactive XML of a domain. */
  files(r: { uid: number; name: string }): { live: string; inactive: string } {
    const scope = this.scope(r.uid);
    return { live: liveXmlPath(scope, r.name), inactive: inactiveXmlPath(scope, r.name) };
  }

  /** Host options for a domain's operations: its owner's scope and its link group. */
  host(r?: { uid: number; group: number }) {
    const o = this.#place;
    return {
      stateDir: this.dir,
      configDir: o.configDir,
      sysfsRoot: o.sysfsRoot,
      netns: o.netns,
      vhostDevice: o.vhostDevice,
      onWarning: (m: string) => this.#log.warn(m),
      ...(r ? { scope: this.scope(r.uid), group: r.group } : {}),
    };
  }

  /** Writes the record (`create`: a new one, EEXIST if there is one); returns its size in bytes. */
  write(r: DomainRecord, create = false): number {
    const text = recordText(r);
    const file = this.path(r.uid, r.name);
    if (!create) publish(file, text, false);
    else
      try {
        publish(file, text, true);
      } catch (e) {
        // The user's first domain: its scope (and the records' directory) made now.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        fs.mkdirSync(this.recordsDir, { recursive: true, mode: 0o700 });
        fs.mkdirSync(this.scope(r.uid), { recursive: true, mode: 0o700 });
        publish(file, text, true);
      }
    return bytesOf(text);
  }

  /** Removes the record (unless `moved`: it is not in the scope any more), and the domain from those held. */
  drop(r: DomainRecord, moved = false): void {
    if (!moved) removeFile(this.path(r.uid, r.name));
    const key = this.key(r.uid, r.name);
    const h = this.held.get(key);
    if (h) {
      clearTimeout(h.timer);
      for (const fd of h.fds ?? []) fs.closeSync(fd);
      h.fds = undefined;
      h.client?.domains.delete(key);
      this.held.delete(key);
    }
  }

  /** Bytes a held domain keeps on disk now. */
  stateBytes(r: DomainRecord): number {
    let n = bytesOf(recordText(r));
    for (const f of Object.values(this.files(r))) n += fs.statSync(f, { throwIfNoEntry: false })?.size ?? 0;
    return n;
  }

  /** What the user holds now, every domain of theirs counted (held, orphaned, being prepared, released but not deleted yet). */
  holding(uid: number): Reservation {
    const n: Reservation = this.queue.holding(uid);
    for (const h of this.held.values()) {
      if (h.record.uid !== uid) continue;
      n.interfaces += h.record.interfaces;
      n.domains++;
      n.bytes += h.bytes;
    }
    return n;
  }

  /** Runs `body` as the only operation on the domain `key` (EBUSY otherwise). */
  async exclusive<T>(key: string, body: () => Promise<T>): Promise<T> {
    if (this.#busy.has(key))
      throw new NetfdError(`domain ${key.slice(key.indexOf('/') + 1)} is busy with another request; try again`, { code: 'EBUSY', field: 'args.name', value: key.slice(key.indexOf('/') + 1) });
    this.#busy.add(key);
    try {
      return await body();
    } finally {
      this.#busy.delete(key);
    }
  }

  /**
   * After a restart: the deletion queue is finished first (reaper.ts),
   * then every record is finished or undone. Prepared domains
   * are held, unclaimed, and handed to `hold` (which releases them after the
   * grace period); half-made ones lose the devices of their link group;
   * releases finish. Files that are no record (a domain's XML, a lock, a
   * temporary file) are classified; anything else is logged and left alone.
   */
  async recover(hold: (h: Held) => void, graceMs: number): Promise<void> {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(this.recordsDir, { withFileTypes: true });
    } catch {
      return;
    }
    await this.queue.recover();
    for (const e of entries) {
      const file = path.join(this.recordsDir, e.name);
      if ((e.isDirectory() && e.name === 'queue') || (e.isFile() && e.name === 'agent.lock')) continue;
      if (e.isDirectory() && /^\d+$/.test(e.name)) await this.#recoverScope(Number(e.name), hold, graceMs);
      else this.#log.error({ file }, `${file} is not a user's directory of this agent (STATE/agent/UID/); left alone`);
    }
  }

  async #recoverScope(uid: number, hold: (h: Held) => void, graceMs: number): Promise<void> {
    const scope = this.scope(uid);
    const files = fs.readdirSync(scope);
    const records = new Set<string>();
    for (const f of files) {
      const file = path.join(scope, f);
      const name = objectOf(f, 'json');
      if (name === null) continue;
      records.add(name);
      let r: DomainRecord;
      try {
        const x: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
        if (!isRecordOf(x, uid, name)) throw new Error('not an agent record');
        r = x;
      } catch (err) {
        this.#log.error({ file, err: (err as Error).message }, `unreadable record ${file} left alone`);
        continue;
      }
      try {
        await this.#recoverOne(r, hold, graceMs);
      } catch (err) {
        this.#log.error({ domain: r.name, uid, err: (err as Error).message }, `recovering ${r.name} failed; its record stays for the next start`);
      }
    }
    // What is left: parts of recorded domains, temporaries of a write cut short, or unknown.
    for (const f of fs.readdirSync(scope)) {
      const file = path.join(scope, f);
      const dot = f.lastIndexOf('.');
      const ext = f.slice(dot + 1);
      const name = f.slice(0, Math.max(dot, 0));
      if (ext === 'json') continue;
      if (f.startsWith('.') && (ext === 'tmp' || /^\d+$/.test(ext))) {
        fs.rmSync(file, { force: true });
        this.#log.info({ file }, 'removed a temporary file of a write cut short');
      } else if (!['xml', 'inactive', 'lock'].includes(ext) || dot <= 0) this.#log.error({ file }, `cannot classify ${file}; left alone`);
      else if (!records.has(name)) this.#log.error({ file, uid }, `${file} belongs to no record; left alone`);
    }
  }

  async #recoverOne(r: DomainRecord, hold: (h: Held) => void, graceMs: number): Promise<void> {
    const o = this.host(r);
    const live = this.files(r).live;
    const hasLive = fs.existsSync(live);
    if (r.state === 'releasing' || (r.state === 'preparing' && !hasLive)) {
      if (hasLive) await teardownFromLive(r.name, o);
      else await this.#removeHalfMade(r, DomainXml.parse(r.xml).def.interfaces);
      this.drop(r);
      this.#log.info({ domain: r.name, uid: r.uid, was: r.state }, r.state === 'releasing' ? 'finished an interrupted release' : 'removed a half-prepared domain');
      return;
    }
    if (r.attaching) {
      const xml = DomainXml.parse(fs.readFileSync(live, 'utf8'), { live: true });
      if (!xml.def.interfaces.some((i) => i.mac === r.attaching?.mac)) {
        const iface = xml.withInterface(r.attaching.xml).iface;
        // The links of the group that the live XML does not record are the attach's.
        const keep = new Set((await recordedLinks(xml.def.interfaces, o.netns, r.group)).indexes);
        await removeHalfMade({ netns: o.netns, group: r.group, keep });
        await this.#reclaimNetworks(r, [iface]);
        r.interfaces = xml.def.interfaces.length;
        r.devices = r.devices.filter((d) => keep.has(d.ifindex));
      }
      delete r.attaching;
    }
    r.state = 'ready';
    this.write(r);
    const h: Held = { record: r, client: null, bytes: this.stateBytes(r) };
    this.held.set(this.key(r.uid, r.name), h);
    hold(h);
    this.#log.info({ domain: r.name, uid: r.uid, graceMs }, 'holding a prepared domain for its owner to claim');
  }

  /**
   * Deletes what a prepare cut short may have made: every link of the
   * record's group (nothing found by MAC or name: those the fd's holder could
   * change). Taps are not persistent and went with the agent's fds unless
   * the user made them persistent; in the group either way. Network
   * connections are reclaimed by their networks (by group too).
   */
  async #removeHalfMade(r: DomainRecord, ifaces: InterfaceDef[]): Promise<void> {
    const o = this.host(r);
    if (await removeGroup(r.group, o.netns)) this.#log.info({ domain: r.name, uid: r.uid, group: r.group }, 'deleted devices of an interrupted setup');
    await this.#reclaimNetworks(r, ifaces);
  }

  async #reclaimNetworks(r: DomainRecord, ifaces: InterfaceDef[]): Promise<void> {
    for (const i of ifaces) {
      if (i.type !== 'network' || !i.source.network) continue;
      await new Networks(this.host(r)).reclaim(i.source.network).catch((e) => this.#log.warn({ network: i.source.network, err: (e as Error).message }, 'reclaiming a network connection failed'));
    }
  }
}
