// What the agent lets in, cheapest first. Each user is bounded: connections
// at once (with connections kept back for root), requests in flight and per
// second, then domains, interfaces and bytes of state, all users' `limit`
// lines of the ACL first, the agent's defaults after. A request passes the
// checks that read no XML (size, stray fds, rate, requests in flight, whether
// the ACL lets the caller ask anything at all) before its XML is parsed for
// the ACL off the event loop (AclParser, users taking turns), and is decided
// by the ACL before the full parse on the event loop (FairQueue).
import { NetfdError, NetfdErrorCode } from '../errors';
import { listLinks } from '../sys/link';
import { native, NativeMessage } from '../sys/native';
import { Acl, AclObject, describe, formatSize, globMatch, LimitKind } from './acl/syntax';
import { Caller, decide, decideAll, limitFor, mayAskAnything } from './acl/decide';
import type { Accounts } from './acl/accounts';
import type { Conn } from './conn';
import { FairQueue } from './fair';
import { AclParser } from './parser';
import { MAX_REQUEST } from './protocol';
import type { Holder, Records, Reservation } from './records';

/**
 * What each user may have when no `limit` line of the ACL says otherwise
 * (null: no bound). Interfaces are bounded only by `limit ... interfaces`.
 */
export const USER_LIMITS: Readonly<Record<LimitKind, number | null>> = { interfaces: null, domains: 64, state: 4 * 1024 * 1024, connections: 32, requests: 16, rate: null };

/** The agent's bounds (AgentOptions of the same names); every field has a default. */
export interface Bounds {
  maxClients?: number | undefined;
  reservedForRoot?: number | undefined;
  maxInFlight?: number | undefined;
  rate?: { perSecond: number; burst: number } | undefined;
  userLimits?: Partial<Record<LimitKind, number | null>> | undefined;
}

/** One connection to the agent. */
export interface Client extends Holder {
  conn: Conn;
  caller: Caller;
  user: string;
  inFlight: number;
}

/** What one user has at the agent now (all connections together). */
interface UserState {
  connections: number;
  inFlight: number;
  tokens: number;
  refilled: number;
}

/** A refusal by the ACL or a limit, naming the rule (ACCESS_DENIED, or `code`). */
export function denied(message: string, rule: string | null, field: string, value: unknown, code: NetfdErrorCode = 'ACCESS_DENIED'): NetfdError {
  const e = new NetfdError(message, { code, field, value }) as NetfdError & { rule?: string };
  if (rule) e.rule = rule;
  return e;
}

/** How long the heavy queue's parses may run back to back before the event loop serves I/O again. */
const HEAVY_SLICE_MS = 10;

/** The agent's admission: per-user state and limits, the ACL's decisions, the parsing queues. */
export class Admission {
  /** The ACL in force (replaced on reload). */
  acl: Acl;
  readonly accounts: Accounts;
  /** XML parsed for the ACL off the event loop, users taking turns. */
  readonly parser = new AclParser();
  /**
   * Parses on the event loop (only of requests the ACL allowed), users taking
   * turns, back to back for up to HEAVY_SLICE_MS of a loop turn: a burst of
   * small documents does not wait a whole turn of the loop each.
   */
  readonly heavy = new FairQueue(1, HEAVY_SLICE_MS);
  readonly #o: Bounds;
  readonly #records: Records;
  readonly #users = new Map<number, UserState>();
  /** What requests still running have reserved, per uid (counted against limits before it is recorded). */
  readonly #pending = new Map<number, Reservation>();
  /** Other holdings counted with the domains' (the CNI attachments, cni-store.ts). */
  readonly #also: ((uid: number) => Reservation)[] = [];

  constructor(o: Bounds, acl: Acl, accounts: Accounts, records: Records) {
    this.#o = o;
    this.acl = acl;
    this.accounts = accounts;
    this.#records = records;
  }

  get #rate(): { perSecond: number; burst: number } {
    return this.#o.rate ?? { perSecond: 200, burst: 400 };
  }

  /** Connections at once, all users together. */
  get maxClients(): number {
    return this.#o.maxClients ?? 1024;
  }

  /** The caller's bound of kind `what`: its ACL limit, else the agent's default. */
  limit(caller: Caller, what: LimitKind): { value: number; rule: string | null } | null {
    const l = limitFor(this.acl, caller, what, this.accounts);
    if (l) return { value: l.value, rule: describe(l) };
    const d = this.#o.userLimits?.[what] !== undefined ? this.#o.userLimits[what] : USER_LIMITS[what];
    return d === null || d === undefined ? null : { value: d, rule: null };
  }

  #user(uid: number): UserState {
    let u = this.#users.get(uid);
    if (!u) {
      u = { connections: 0, inFlight: 0, tokens: Number.POSITIVE_INFINITY, refilled: Date.now() }; // capped at the caller's burst on its first request
      this.#users.set(uid, u);
    }
    return u;
  }

  #forgetIdle(uid: number, u: UserState): void {
    if (u.connections <= 0 && u.inFlight <= 0) this.#users.delete(uid);
  }

  /**
   * A new connection of `caller` while `clients` are connected (at most
   * maxClients, checked before): the refusal (the root reserve, the user's
   * connection limit), or undefined and the connection is counted.
   */
  connect(caller: Caller, clients: number): NetfdError | undefined {
    const max = this.maxClients;
    const reserved = Math.min(this.#o.reservedForRoot ?? 16, max);
    const u = this.#user(caller.uid);
    const cap = this.limit(caller, 'connections');
    let refusal: NetfdError | undefined;
    if (caller.uid !== 0 && clients >= max - reserved) refusal = new NetfdError(`the agent serves at most ${max} connections and keeps the last ${reserved} for root`, { code: 'EAGAIN' });
    else if (cap && u.connections >= cap.value)
      refusal = denied(
        `uid ${caller.uid} has ${u.connections} connections to the agent, its limit (${cap.rule ?? 'the agent default'}); close one first`,
        cap.rule,
        'connections',
        u.connections + 1,
        'LIMIT_EXCEEDED',
      );
    if (refusal) {
      if (u.connections === 0 && u.inFlight === 0) this.#users.delete(caller.uid);
      return refusal;
    }
    u.connections++;
    return undefined;
  }

  /** A connection closed. */
  disconnect(uid: number): void {
    const u = this.#user(uid);
    u.connections--;
    this.#forgetIdle(uid, u);
  }

  /** A request's admission, cheapest first: size, stray fds, the user's rate, the user's and the connection's requests in flight. */
  request(client: Client, m: NativeMessage): NetfdError | undefined {
    if (m.truncated) return new NetfdError(`the request is ${m.size} bytes; the agent reads at most ${MAX_REQUEST}`, { code: 'REQUEST_TOO_LARGE', field: 'request', value: m.size });
    if (m.ctrunc || m.fds.length)
      return new NetfdError('the request carried file descriptors; no request takes any (they were closed)', { code: 'BAD_REQUEST', field: 'fds', value: m.fds.length || 'some' });
    const u = this.#user(client.caller.uid);
    // An ACL `limit … rate N`: N requests a second, bursts of 2N; else the agent's rate.
    const own = limitFor(this.acl, client.caller, 'rate', this.accounts);
    const rate = own ? { perSecond: own.value, burst: 2 * own.value } : this.#rate;
    const now = Date.now();
    u.tokens = Math.min(rate.burst, u.tokens + ((now - u.refilled) * rate.perSecond) / 1000);
    u.refilled = now;
    if (u.tokens < 1) {
      const e = new NetfdError(`more than ${rate.perSecond} requests a second from uid ${client.caller.uid}${own ? ` (${describe(own)})` : ''}; slow down`, {
        code: 'RATE_LIMITED',
        field: 'rate',
        value: rate.perSecond,
      });
      if (own) (e as NetfdError & { rule?: string }).rule = describe(own);
      return e;
    }
    u.tokens -= 1;
    const perConn = this.#o.maxInFlight ?? 8;
    if (client.inFlight >= perConn) return new NetfdError(`${client.inFlight} requests are already in flight on this connection (at most ${perConn}); wait for their replies`, { code: 'EBUSY' });
    const cap = this.limit(client.caller, 'requests');
    if (cap && u.inFlight >= cap.value)
      return denied(
        `uid ${client.caller.uid} has ${u.inFlight} requests in flight over all its connections, its limit (${cap.rule ?? 'the agent default'}); wait for their replies`,
        cap.rule,
        'requests',
        u.inFlight + 1,
        'EBUSY',
      );
    return undefined;
  }

  /** An admitted request starts; call the returned function when it is over. */
  begin(client: Client): () => void {
    const u = this.#user(client.caller.uid);
    client.inFlight++;
    u.inFlight++;
    return () => {
      client.inFlight--;
      u.inFlight--;
      this.#forgetIdle(client.caller.uid, u);
    };
  }

  /** Whether the ACL lets the caller use `object` (no error). */
  allows(caller: Caller, object: AclObject): boolean {
    return decide(this.acl, caller, object, this.accounts).allowed;
  }

  /** Refuses (ACCESS_DENIED naming the rule, `field` and `value`) unless the ACL allows every object. */
  check(client: Client, objects: AclObject[], field: string, value: unknown): void {
    const d = objects.length === 1 ? decide(this.acl, client.caller, objects[0], this.accounts) : decideAll(this.acl, client.caller, objects, this.accounts);
    if (!d.allowed) throw denied(`access denied: ${d.reason}`, d.rule ? describe(d.rule) : 'default deny', field, value);
  }

  /** Refuses, before any XML is read, a caller whom no allow rule covers (or a deny rule for all does). */
  mayAsk(client: Client, field: string): void {
    const d = mayAskAnything(this.acl, client.caller, this.accounts);
    if (!d.allowed) throw denied(`access denied: ${d.reason}`, d.rule ? describe(d.rule) : 'default deny', field, null);
  }

  /**
   * Bridges the ACL lets users attach taps to whose MAC is not fixed, one
   * warning each: the kernel gives such a bridge the lowest MAC of its
   * ports, so a guest tap could become its address.
   */
  async unfixedBridges(netns: string | undefined): Promise<string[]> {
    const globs = this.acl.rules.filter((r) => r.action === 'allow' && r.object.kind === 'bridge').map((r) => r.object.value as string);
    if (!globs.length) return [];
    const warnings: string[] = [];
    try {
      const links = await listLinks({ netns });
      for (const l of links) {
        if (l.kind !== 'bridge' || !globs.some((g) => globMatch(g, l.name))) continue;
        const type = await native()
          .readSysfs({ netns, path: `class/net/${l.name}/addr_assign_type` })
          .catch(() => null);
        if (type !== null && type.trim() !== '3')
          warnings.push(
            `bridge ${l.name} has no fixed MAC (addr_assign_type ${type.trim()}): the kernel gives it the lowest MAC of its ports, so a guest's tap can become its address; give it one (ip link set ${l.name} address ${l.mac ?? 'MAC'})`,
          );
      }
    } catch (e) {
      warnings.push(`cannot check the bridges the ACL names: ${(e as Error).message}`);
    }
    return warnings;
  }

  /** Counts what `holding` says a user holds against its limits too, with its domains. */
  countAlso(holding: (uid: number) => Reservation): void {
    this.#also.push(holding);
  }

  /** What the caller holds now and what its requests still running reserved. */
  #holding(uid: number): Reservation {
    const n = this.#records.holding(uid);
    for (const f of this.#also) {
      const o = f(uid);
      n.interfaces += o.interfaces;
      n.domains += o.domains;
      n.bytes += o.bytes;
    }
    const p = this.#pending.get(uid);
    if (p) {
      n.interfaces += p.interfaces;
      n.domains += p.domains;
      n.bytes += p.bytes;
    }
    return n;
  }

  /** Checks the caller's limits and reserves `adding` while `body` runs (concurrent requests count too). */
  async withinLimits<T>(client: Client, adding: Reservation, body: () => Promise<T>): Promise<T> {
    const uid = client.caller.uid;
    const have = this.#holding(uid);
    for (const what of ['interfaces', 'domains', 'state'] as const) {
      const key = what === 'state' ? 'bytes' : what;
      const l = this.limit(client.caller, what);
      if (!l || have[key] + adding[key] <= l.value) continue;
      const show = (n: number) => (what === 'state' ? `${formatSize(n)} bytes of state` : `${n} ${what}`);
      // Released domains count until the deletion queue has deleted their devices.
      const queued = this.#records.queue.holding(uid)[key];
      throw denied(
        `${client.user} may hold at most ${show(l.value)} (${l.rule ?? 'the agent default'}) and holds ${show(have[key])}${queued ? ` (${show(queued)} of released domains whose devices are still being deleted: try again in a moment)` : ''}; this request needs ${show(adding[key])} more`,
        l.rule,
        what,
        have[key] + adding[key],
        'LIMIT_EXCEEDED',
      );
    }
    const p = this.#pending.get(uid) ?? { interfaces: 0, domains: 0, bytes: 0 };
    p.interfaces += adding.interfaces;
    p.domains += adding.domains;
    p.bytes += adding.bytes;
    this.#pending.set(uid, p);
    try {
      return await body();
    } finally {
      p.interfaces -= adding.interfaces;
      p.domains -= adding.domains;
      p.bytes -= adding.bytes;
      if (p.interfaces <= 0 && p.domains <= 0 && p.bytes <= 0) this.#pending.delete(uid);
    }
  }
}
