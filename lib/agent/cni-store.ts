// The agent's records of CNI attachments, one file per (container id,
// ifname) of each caller, under STATE_DIR/cni/UID/ (root's alone; another
// caller's attachments look like none, as another user's domains do). A record is written before
// anything is made for it (writeNewFileAtomic: a second ADD of the same
// attachment finds it and fails), updated once the device exists, and
// removed last, after the device is gone; so a crash at any point leaves a
// record from which DEL or GC finds what to remove. Writes are atomic (temp
// file, fsync, rename); one attachment's operations run one at a time.
import fs from 'node:fs';
import path from 'node:path';
import { NetfdError } from '../errors';
import { replaceFileAtomic, writeNewFileAtomic } from '../state/atomic';
import type { Context } from './context';
import type { Reservation } from './records';

/** One attachment as recorded. */
export interface CniRecord {
  /** The record's format. */
  v: 1;
  /** The caller that added it (the runtime: root). */
  uid: number;
  containerId: string;
  ifname: string;
  /** The configuration's network name (GC is per network). */
  network: string;
  /** CNI_NETNS at ADD, and the namespace's inode then (a path reused for another namespace is told apart). */
  netns: string;
  netnsIno: number;
  /** The namespace file's st_dev at ADD (the claim compares st_dev and st_ino; absent in older records). */
  netnsDev?: number;
  /** 'adding' until the device exists; 'ready' after. */
  state: 'adding' | 'ready';
  /** The device: a tap (type='ethernet' in the pod; type='bridge' in the agent's namespace, see hostName) or a macvtap on a device of the agent's namespace (type='direct'). */
  kind: 'tap' | 'macvtap';
  /** A macvtap's parent (in the agent's namespace) and mode. */
  parent?: string;
  mode?: string;
  /** A type='bridge' attachment: its tap's name in the agent's namespace (there, not in `netns`), that namespace (--netns at ADD; absent: the agent's own) and the bridge. */
  hostName?: string;
  hostNs?: string;
  bridge?: string;
  /** runtimeConfig.deviceID: the VF (the macvtap's master, `parent`) a device plugin gave. */
  pciID?: string;
  /** A type='network' attachment: the network, the ledger's owner of its connection (a domain name and the directory of its live XML) and the guest's MAC it is allocated for; the device and mode are `parent` and `mode` once allocated. */
  pool?: { network: string; owner: { domain: string; scope: string }; mac: string };
  /** Its ifindex (in `netns`, or for a bridged tap in the agent's namespace), once made. */
  ifindex?: number;
  mac?: string;
  /** The guest's MAC, when known (a macvtap's own; a tap's from the configuration): what a claim tells the launcher. */
  guestMac?: string;
  mtu?: number;
  /** How the tap was made, so a claim opens it the same way (absent in older records: 1 queue, a vnet header). */
  queues?: number;
  vnetHdr?: boolean;
  /** The configuration asked <driver name='vhost'>: a claim also gets one vhost-net fd per queue when the device is usable. */
  vhost?: boolean;
  /** An IPAM plugin was asked for addresses (its DEL runs with the attachment's). */
  ipam?: boolean;
  /** The <interface> document in force. */
  xml: string;
  /** When ADD began (ISO time). */
  since: string;
}

const EXT = '.json';
const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');

/** The records of one agent. */
export class CniStore {
  readonly dir: string;
  readonly #busy = new Map<string, Promise<unknown>>();

  /** `stateDir` is the agent's live state directory; the records are under its cni/. */
  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'cni');
  }

  /** A caller's directory. */
  scope(uid: number): string {
    return path.join(this.dir, String(uid));
  }

  /** The record's file: the container id (alphanumerics, '_', '.', '-') and the ifname in hex, so no two attachments share one. */
  file(uid: number, containerId: string, ifname: string): string {
    return path.join(this.scope(uid), `${containerId}~${hex(ifname)}${EXT}`);
  }

  /** Runs `body` when no other operation of the attachment runs. */
  async exclusive<T>(uid: number, containerId: string, ifname: string, body: () => Promise<T>): Promise<T> {
    const key = `${uid}\0${containerId}\0${ifname}`;
    const before = this.#busy.get(key) ?? Promise.resolve();
    const run = before.then(body, body);
    const settled = run.catch(() => undefined);
    this.#busy.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.#busy.get(key) === settled) this.#busy.delete(key);
    }
  }

  /** Writes a new record; EEXIST when the attachment already has one. */
  create(r: CniRecord): void {
    for (const d of [this.dir, this.scope(r.uid)]) {
      fs.mkdirSync(d, { recursive: true, mode: 0o700 });
      fs.chmodSync(d, 0o700);
    }
    try {
      writeNewFileAtomic(this.file(r.uid, r.containerId, r.ifname), `${JSON.stringify(r, null, 1)}\n`);
    } catch (e) {
      if ((e as { code?: string }).code === 'EEXIST')
        throw new NetfdError(`container ${r.containerId} already has ${r.ifname} from netfd (since ${this.get(r.uid, r.containerId, r.ifname)?.since ?? 'now'}); DEL it first`, {
          code: 'EEXIST',
          errno: -17,
          field: 'CNI_IFNAME',
          value: r.ifname,
        });
      throw e;
    }
  }

  update(r: CniRecord): void {
    replaceFileAtomic(this.file(r.uid, r.containerId, r.ifname), `${JSON.stringify(r, null, 1)}\n`);
  }

  /** The record, or undefined; one that cannot be read is CORRUPT_STATE (left where it is). */
  get(uid: number, containerId: string, ifname: string): CniRecord | undefined {
    return this.#read(this.file(uid, containerId, ifname));
  }

  #read(file: string): CniRecord | undefined {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      const r = JSON.parse(text) as CniRecord;
      if (r.v !== 1 || typeof r.uid !== 'number' || typeof r.containerId !== 'string' || typeof r.ifname !== 'string' || typeof r.netns !== 'string') throw new Error('not a CNI record of format 1');
      return r;
    } catch (e) {
      throw new NetfdError(`${file}: cannot read this CNI record (${(e as Error).message}); move it away once its device is gone`, { code: 'CORRUPT_STATE', field: 'record', value: file });
    }
  }

  /** Removes the record (gone already is fine). */
  drop(uid: number, containerId: string, ifname: string): void {
    fs.rmSync(this.file(uid, containerId, ifname), { force: true });
  }

  /** The callers that have records (their uids). */
  uids(): number[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return [];
      throw e;
    }
    return names.filter((n) => /^\d+$/.test(n)).map(Number);
  }

  /** What a caller's attachments hold, for its limits: one interface and its record's bytes each (temporary files too). */
  holding(uid: number): Reservation {
    const n: Reservation = { interfaces: 0, domains: 0, bytes: 0 };
    let names: string[];
    try {
      names = fs.readdirSync(this.scope(uid));
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return n;
      throw e;
    }
    for (const name of names) {
      try {
        n.bytes += fs.statSync(path.join(this.scope(uid), name)).size;
      } catch {
        continue; // gone while listed
      }
      if (name.endsWith(EXT) && !name.startsWith('.')) n.interfaces++;
    }
    return n;
  }

  /** Every record of a caller (temporary files of unfinished writes are skipped). */
  list(uid: number): CniRecord[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.scope(uid));
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return [];
      throw e;
    }
    const out: CniRecord[] = [];
    for (const n of names.sort()) {
      if (!n.endsWith(EXT) || n.startsWith('.')) continue;
      const r = this.#read(path.join(this.scope(uid), n));
      if (r) out.push(r);
    }
    return out;
  }
}

const stores = new WeakMap<object, CniStore>();
/** The agent's CNI records (under its state directory), counted against their callers' limits. */
export function cniStore(ctx: Pick<Context, 'records' | 'admission'>): CniStore {
  let s = stores.get(ctx.records);
  if (!s) {
    const store = (s = new CniStore(ctx.records.dir));
    stores.set(ctx.records, store);
    ctx.admission.countAlso((uid) => store.holding(uid));
  }
  return s;
}
