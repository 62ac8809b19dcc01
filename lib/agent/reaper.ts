// The agent's deletion queue. A release returns at once: the domain's record
// and its live XML (and an older agent's NAME.inactive) move into a journal
// entry of their own, STATE/agent/queue/UID.GROUP/ (root's alone), which frees
// the domain's name for its owner; a worker then deletes every queued domain's
// devices together (one kernel group delete, netdev/teardown.ts), then their
// files and network connections. Deleting a link waits out the kernel's RCU
// grace period, once per group delete however many links it takes. A batch
// starts when the worker is idle and takes everything queued; what arrives
// while it runs is the next batch. Until its devices are gone a queued domain
// counts against its owner's limits. The journal survives SIGKILL: a restarted
// agent finishes the queue before it serves. Entries are the agent's alone
// (one agent per state directory holds agent.lock), so a batch takes no domain
// lock, and a release none either (see enqueue).
import fs from 'node:fs';
import path from 'node:path';
import { teardownDomains } from '../netdev/teardown';
import { removeFile } from '../state/atomic';
import { native } from '../sys/native';
import type { InterfaceDef } from '../xml/domain';
import type { AgentLogger } from './options';
import { DeletionQueue, DomainRecord, Held, isRecordOf, Records, Reservation } from './records';

/** A domain in the queue: its journal entry, its record, what it counts, the tap fds the agent kept. */
export interface Queued {
  /** The entry's directory, STATE/agent/queue/UID.GROUP[.N]. */
  dir: string;
  record: DomainRecord;
  bytes: number;
  /** Why it was released (logged once its devices are gone). */
  why: string;
  fds: number[];
  /** The live XML's interfaces as its prepare wrote them (Held.live), when known: its teardown does not parse the file. */
  interfaces?: readonly InterfaceDef[] | undefined;
  /** Its teardown failed: it stays queued (and counted) until the next start tries again. */
  failed?: boolean;
}

/** What a journal entry's directory holds, by file name (classifyEntry). */
export interface EntryFiles {
  /** The domain's name, when its files name one. */
  name: string | null;
  /** NAME.json: the domain's record (null: none yet, the move into the journal was cut short). */
  record: string | null;
  /** The domain's NAME.xml, NAME.inactive and NAME.lock. */
  parts: string[];
  /** Temporary files of an atomic write cut short. */
  temporaries: string[];
  /** Anything else: logged and left alone. */
  unknown: string[];
}

/** The uid and link group an entry's directory name (UID.GROUP or UID.GROUP.N) says, or null when it is no entry's. */
export function entryOf(dirName: string): { uid: number; group: number } | null {
  const m = /^(\d{1,10})\.(\d{1,10})(?:\.\d{1,6})?$/.exec(dirName);
  return m ? { uid: Number(m[1]), group: Number(m[2]) } : null;
}

/**
 * Sorts the files of one journal entry: the domain's record (NAME.json), its
 * other files (NAME.xml, NAME.inactive, NAME.lock), temporaries of a write
 * cut short, and anything else (unknown; also every file when the entry's
 * files name more than one domain).
 */
export function classifyEntry(files: readonly string[]): EntryFiles {
  const out: EntryFiles = { name: null, record: null, parts: [], temporaries: [], unknown: [] };
  const exts = ['json', 'xml', 'inactive', 'lock'];
  const mine: string[] = [];
  const names = new Set<string>();
  for (const f of files) {
    const dot = f.lastIndexOf('.');
    const ext = f.slice(dot + 1);
    if (f.startsWith('.') && dot > 0 && (ext === 'tmp' || /^\d+$/.test(ext))) out.temporaries.push(f);
    else if (dot > 0 && exts.includes(ext)) {
      mine.push(f);
      names.add(f.slice(0, dot));
    } else out.unknown.push(f);
  }
  if (names.size > 1) {
    out.unknown.push(...mine);
    return out;
  }
  out.name = names.size ? [...names][0] : null;
  for (const f of mine) {
    if (f === `${out.name}.json`) out.record = f;
    else out.parts.push(f);
  }
  return out;
}

/** Removes an emptied journal entry (one rmdir); anything left in it goes too. */
function removeEntry(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw e;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Closes the kept tap fds of a batch off the event loop (libuv's threads):
 * the last close of a tap detaches its queue under rtnl, which another
 * batch's group delete may hold for milliseconds.
 */
const closeOffLoop = (fds: readonly number[]) => {
  // Closing an fd the agent owns fails only for a bad fd; nobody to tell.
  for (const fd of fds) fs.close(fd, () => undefined);
};

const closeAll = (fds: readonly number[]) => {
  for (const fd of fds) {
    try {
      native().close(fd);
    } catch {
      // already closed
    }
  }
};

/** The agent's deletion queue over `records` (see the top of this file). */
export class Reaper implements DeletionQueue {
  readonly dir: string;
  readonly #records: Records;
  readonly #log: AgentLogger;
  readonly #queued = new Map<string, Queued>();
  #worker: Promise<void> | null = null;
  #scheduled = false;
  /**
   * Tests only (NETFD_TEST_REAPER_HOLD): while this file exists, a batch
   * waits before it deletes anything (the kernel path still runs after).
   */
  readonly #holdFile: string | undefined;

  constructor(records: Records, log: AgentLogger, holdFile = process.env.NETFD_TEST_REAPER_HOLD || undefined) {
    this.#records = records;
    this.#log = log;
    this.dir = path.join(records.recordsDir, 'queue');
    this.#holdFile = holdFile;
  }

  /** Domains queued now (their devices not gone yet). */
  get size(): number {
    return this.#queued.size;
  }

  /** What `uid`'s queued domains still count: interfaces, domains, bytes of state. */
  holding(uid: number): Reservation {
    const n: Reservation = { interfaces: 0, domains: 0, bytes: 0 };
    for (const q of this.#queued.values()) {
      if (q.record.uid !== uid) continue;
      n.interfaces += q.record.interfaces;
      n.domains++;
      n.bytes += q.bytes;
    }
    return n;
  }

  /**
   * Releases a held domain in one synchronous step (nothing else of the
   * agent runs between its parts): its live XML moves into a journal entry
   * of its own and its record last (the commit: from then on its name is
   * free; a crash before it leaves the domain held for its owner, a crash
   * between is finished by the next start), it is dropped from those held
   * and its deletion is queued. No domain lock is taken: attach, detach and
   * release run under `records.exclusive`, and set-running and record-pci
   * read and write the live XML under the lock with no await between, so
   * they find it moved or not, never half.
   */
  async enqueue(h: Held, why: string): Promise<void> {
    const records = this.#records;
    const r = h.record;
    const dir = this.#newEntry(r);
    commit(records.files(r), records.path(r.uid, r.name), dir, r.name, true);
    const fds = h.fds ?? [];
    h.fds = undefined;
    records.drop(r, true);
    this.#queued.set(dir, { dir, record: r, bytes: h.bytes, why, fds, interfaces: h.live });
    this.#log.info({ domain: r.name, uid: r.uid, group: r.group }, `released ${r.name}: ${why}; its devices are queued for deletion`);
    this.#kick();
  }

  /** A new, empty journal entry for `r`: QUEUE/UID.GROUP (.N after it when that is taken); the queue's directory made on first use. */
  #newEntry(r: DomainRecord): string {
    let made = false;
    for (let n = 0; ;) {
      const entry = path.join(this.dir, n ? `${r.uid}.${r.group}.${n}` : `${r.uid}.${r.group}`);
      try {
        fs.mkdirSync(entry, { mode: 0o700 });
        return entry;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && !made) {
          fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
          made = true;
        } else if (code === 'EEXIST') n++;
        else throw e;
      }
    }
  }

  /** Resolves once nothing is queued but what failed (SIGTERM: before the agent exits). */
  async drain(): Promise<void> {
    while (this.#worker || this.#scheduled) await (this.#worker ?? new Promise((r) => setImmediate(r)));
  }

  /**
   * After a restart: every journal entry is finished (a move into it cut
   * short is completed first, from the owner's scope when the record there
   * is the same domain's, by link group), then deleted together; an entry
   * with no file of a domain is removed. Unknown files are logged and left.
   */
  async recover(): Promise<void> {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(this.dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const dir = path.join(this.dir, e.name);
      const id = e.isDirectory() ? entryOf(e.name) : null;
      if (!id) {
        this.#log.error({ file: dir }, `${dir} is not an entry of the agent's deletion queue; left alone`);
        continue;
      }
      try {
        this.#recoverEntry(dir, id);
      } catch (err) {
        this.#log.error({ file: dir, err: (err as Error).message }, `recovering the queued deletion ${dir} failed; it stays for the next start`);
      }
    }
    if (this.#queued.size) this.#log.info({ queued: this.#queued.size }, 'finishing the deletions queued before the restart');
    this.#kick();
    await this.drain();
  }

  #recoverEntry(dir: string, id: { uid: number; group: number }): void {
    const files = classifyEntry(fs.readdirSync(dir));
    for (const f of files.temporaries) fs.rmSync(path.join(dir, f), { force: true });
    for (const f of files.unknown) this.#log.error({ file: path.join(dir, f) }, `cannot classify ${path.join(dir, f)}; left alone`);
    const name = files.name;
    if (name === null) {
      if (!files.unknown.length) fs.rmdirSync(dir);
      return;
    }
    if (!files.record) {
      // The move into the journal was cut short: finished, when the scope's record is this domain's (by link group).
      const scoped = this.#records.path(id.uid, name);
      let s: unknown = null;
      try {
        s = JSON.parse(fs.readFileSync(scoped, 'utf8'));
      } catch {
        // none
      }
      if (!isRecordOf(s, id.uid, name) || s.group !== id.group) {
        this.#log.error({ file: dir }, `${dir} has files of domain ${name} but no record, and the scope's record is not that domain's; left alone`);
        return;
      }
      commit(this.#records.files(s), scoped, dir, name);
    }
    const r: unknown = JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8'));
    if (!isRecordOf(r, id.uid, name) || r.group !== id.group) throw new Error(`${path.join(dir, `${name}.json`)} is not the record of uid ${id.uid}'s domain ${name} in link group ${id.group}`);
    const q: Queued = { dir, record: r, bytes: 0, why: 'queued before the restart', fds: [] };
    for (const f of fs.readdirSync(dir)) q.bytes += fs.statSync(path.join(dir, f), { throwIfNoEntry: false })?.size ?? 0;
    this.#queued.set(dir, q);
  }

  /** Starts a batch when the worker is idle (after the current I/O callbacks, so releases arriving together go together). */
  #kick(): void {
    if (this.#worker || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#worker) return;
      this.#worker = this.#work().finally(() => {
        this.#worker = null;
        if ([...this.#queued.values()].some((q) => !q.failed)) this.#kick();
      });
    });
  }

  async #work(): Promise<void> {
    for (;;) {
      const batch = [...this.#queued.values()].filter((q) => !q.failed);
      if (!batch.length) return;
      if (this.#holdFile) while (fs.existsSync(this.#holdFile)) await new Promise((r) => setTimeout(r, 20));
      await this.#reap(batch);
    }
  }

  /** One batch: every domain's devices in one group delete, then each one's files and connections; failures stay queued. */
  async #reap(batch: Queued[]): Promise<void> {
    let outcomes;
    try {
      outcomes = await teardownDomains(batch.map((q) => ({ name: q.record.name, o: this.#records.host(q.record), dir: q.dir, liveOptional: true, lock: false, interfaces: q.interfaces })));
    } catch (err) {
      outcomes = batch.map(() => ({ error: err as Error }));
    }
    batch.forEach((q, k) => {
      const error = outcomes[k].error;
      closeOffLoop(q.fds);
      q.fds = [];
      const r = q.record;
      if (error) {
        q.failed = true;
        this.#log.error({ domain: r.name, uid: r.uid, group: r.group, err: error.message }, `deleting the devices of released ${r.name} failed; it stays queued for the next start`);
        return;
      }
      try {
        // The entry held the domain's record (and its XML, which the teardown removed).
        removeFile(path.join(q.dir, `${r.name}.json`));
        removeEntry(q.dir);
      } catch (err) {
        this.#log.warn({ file: q.dir, err: (err as Error).message }, 'removing a finished entry of the deletion queue failed');
      }
      this.#queued.delete(q.dir);
      this.#log.info({ domain: r.name, uid: r.uid, batch: batch.length }, `deleted the devices of ${r.name} (${q.why})`);
    });
  }

  /** Closes the tap fds still kept (the agent is stopping). */
  close(): void {
    for (const q of this.#queued.values()) {
      closeAll(q.fds);
      q.fds = [];
    }
  }
}

/**
 * Moves a domain's live and inactive XML (those there) from its scope into
 * the journal entry `dir` (unless it has them already), then its record
 * (`record`, its scope's NAME.json): the record last, as the commit.
 * `fresh`: `dir` was made empty just now (nothing of a move cut short to skip).
 */
function commit(files: { live: string; inactive: string }, record: string, dir: string, name: string, fresh = false): void {
  for (const [from, ext] of [
    [files.live, 'xml'],
    [files.inactive, 'inactive'],
    [record, 'json'],
  ] as const) {
    const to = path.join(dir, `${name}.${ext}`);
    if (!fresh && fs.existsSync(to)) continue;
    try {
      fs.renameSync(from, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || ext === 'json') throw err;
    }
  }
}
