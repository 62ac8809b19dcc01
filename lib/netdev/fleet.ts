// Many domains' host sides prepared at once (a fleet), as ONE transaction:
// every domain is prepared, or nothing of any is left behind. What one
// domain's prepare does once per domain is done once for the fleet: the
// namespace's links listed for preflight, the MACs chosen (no two guests
// share one), the target dev names checked against each other, a vhost
// device found unusable probed once, and the state files written with their
// fsyncs together and one fsync of the directory. The devices of several
// domains are made at the same time (the native calls run on the libuv
// threadpool), each domain's interfaces in order, all recorded in one undo
// log, so a failure anywhere deletes every link made in one group delete.
import { randomBytes } from '../sys/random';
import fs from 'node:fs';
import path from 'node:path';
import { suppress } from '../errors';
import { FdSet } from '../sys/fds';
import { deleteLinks, LinkInfo, listLinks, netnsOf } from '../sys/link';
import { decideDriver, domainMacs, DriverDecision, GuestMac, InterfacePlan, planDomain, VhostProbe } from '../policy';
import { DomainDef, DomainXml } from '../xml/domain';
import { inactiveXmlPath, liveXmlPath, stateDir } from '../state/dirs';
import { allocateFor } from './network';
import { ConnectContext, fieldError, PrepareOptions, Step } from './connect';
import { connect, needsLinks, preflight, PreparedHost, PreparedHostClass, PreparedInterface } from './domain';
import { liveResult, macTakenBy } from './live';
import { teardownDomains } from './teardown';
import { Tx } from './tx';
import { openVhost } from './vhost';

/** Options of `prepareHosts` (and of prepareDomains): a domain's options, for every domain of the fleet. */
export interface FleetOptions extends Omit<PrepareOptions, 'macs' | 'afterStep'> {
  /**
   * How many domains have their devices made at the same time (default
   * UV_THREADPOOL_SIZE, else 4: the native calls run on that pool).
   */
  concurrency?: number | undefined;
  /**
   * Called after each step of each domain has succeeded (`iface` -1 for
   * 'state'); a throw aborts and undoes the whole fleet, as a failure of the
   * step itself would. For tests.
   */
  afterStep?: ((step: Step, iface: number, domain: string) => void | Promise<void>) | undefined;
}

/** `err` (an Error) with the domain named at the front of its message; its code, field and the rest unchanged. */
function inDomain(err: unknown, name: string): unknown {
  if (err instanceof Error && !err.message.startsWith(`domain ${name}: `)) err.message = `domain ${name}: ${err.message}`;
  return err;
}

/** Runs `fn(domain n)` on every domain, `err` named after the domain it came from. */
async function forDomain<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw inDomain(err, name);
  }
}

/**
 * Runs `fn` on `items`, at most `limit` at a time, in order of start. After
 * the first failure nothing new starts; the calls under way finish; the first
 * failure is thrown, the later ones recorded on it as suppressed.
 */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const failures: unknown[] = [];
  const worker = async () => {
    while (!failures.length && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failures.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (!failures.length) return;
  for (const other of failures.slice(1)) suppress(failures[0], other, 'preparing another domain');
  throw failures[0];
}

/**
 * The guest MACs of every domain, chosen together: a MAC written in one
 * domain's XML and in another's is refused (EADDRINUSE, naming the second
 * domain and field); a generated MAC is never one another guest of the fleet
 * has, nor one `taken` says is in use (macTakenBy the namespace's links).
 */
export function fleetMacs(defs: readonly DomainDef[], random: (n: number) => Uint8Array, taken?: (mac: string) => boolean): GuestMac[][] {
  const owner = new Map<string, string>();
  for (const def of defs)
    for (const i of def.interfaces) {
      if (!i.mac) continue;
      const other = owner.get(i.mac);
      if (other !== undefined && other !== def.name)
        throw inDomain(fieldError('EADDRINUSE', `${i.path}/mac/@address`, i.mac, `MAC ${i.mac} is domain ${other}'s too; give each guest its own <mac address>`), def.name);
      owner.set(i.mac, def.name);
    }
  const used = new Set(owner.keys());
  return defs.map((def) => {
    const macs = domainMacs(def, random, (m) => used.has(m) || !!taken?.(m));
    for (const m of macs) if (m.generated) used.add(m.mac);
    return macs;
  });
}

/** An exact target dev name asked by two domains of the fleet: EEXIST, naming the second domain and its field. */
function checkNamesApart(domains: readonly { name: string; plans: readonly InterfacePlan[] }[]): void {
  const owner = new Map<string, string>();
  for (const d of domains)
    for (const p of d.plans) {
      if (p.link.kind === 'existing' || p.link.name.includes('%')) continue;
      const other = owner.get(p.link.name);
      if (other !== undefined)
        throw inDomain(fieldError('EEXIST', `${p.path}/target/@dev`, p.link.name, `domain ${other} asks for a link named ${p.link.name} too; give each its own target dev or omit it`), d.name);
      owner.set(p.link.name, d.name);
    }
}

/** One domain of the fleet along the way. */
interface Member {
  xml: DomainXml;
  name: string;
  statePath: string;
  plans: InterfacePlan[];
  existing: Map<number, LinkInfo>;
  decided: { plan: InterfacePlan; decision: DriverDecision; vhost: FdSet }[];
  prepared: PreparedInterface[];
  liveXml: string;
}

const tmpName = (file: string, n: number) => path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now().toString(36)}.${n}.tmp`);

/** Lets the event loop run between two pieces of a long synchronous job. */
const yieldLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Writes every member's live XML (created exclusively: it marks the domain
 * active) and inactive XML (a stale one replaced) into `dir`, atomically as
 * writeNewFileAtomic does, but together and off the event loop: the
 * temporary files are written and fsynced at once, then hard-linked (live)
 * or renamed (inactive) to their names, then the directory is fsynced once.
 * Each file is recorded in `tx` once it is the fleet's.
 */
async function writeStates(members: readonly Member[], dir: string, tx: Tx): Promise<void> {
  await fs.promises.mkdir(dir, { recursive: true, mode: 0o755 });
  const tmps: (string | undefined)[] = [];
  try {
    const written = await Promise.allSettled(
      members.flatMap((m, k) =>
        [m.liveXml, m.xml.text].map(async (text, i) => {
          const n = 2 * k + i;
          const tmp = tmpName(i === 0 ? m.statePath : inactiveXmlPath(dir, m.name), n);
          const h = await fs.promises.open(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
          tmps[n] = tmp;
          try {
            await h.writeFile(text);
            await h.sync();
          } finally {
            await h.close();
          }
        }),
      ),
    );
    firstFailure(written);
    const published = await Promise.allSettled(
      members.map((m, k) =>
        forDomain(m.name, async () => {
          try {
            await fs.promises.link(tmps[2 * k] as string, m.statePath);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
            throw fieldError('EEXIST', 'name', m.name, `domain ${m.name} is already prepared (live state ${m.statePath}); tear it down first`);
          }
          // Once the live file is the fleet's, so is the inactive one: a stale copy is replaced.
          tx.file(m.statePath);
          const inactive = inactiveXmlPath(dir, m.name);
          tx.file(inactive);
          await fs.promises.rename(tmps[2 * k + 1] as string, inactive);
        }),
      ),
    );
    firstFailure(published);
  } finally {
    await Promise.all(tmps.map((tmp) => (tmp === undefined ? undefined : fs.promises.rm(tmp, { force: true }))));
  }
  const d = await fs.promises.open(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** Throws the first rejection of `settled`, the later ones recorded on it as suppressed. */
function firstFailure(settled: readonly PromiseSettledResult<unknown>[]): void {
  const failed = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (!failed.length) return;
  for (const e of failed.slice(1)) suppress(failed[0], e, 'writing another state file');
  throw failed[0];
}

/**
 * Prepares every interface of several domains as one transaction (see
 * `prepareHost` for one domain): all of them are prepared, or on any failure
 * everything done for any of them is undone and the error, its message
 * starting with `domain NAME: ` and its `field` the XML field, is rethrown.
 * Results are in the order of `inputs`. `Kind` is the class of each result.
 */
export async function prepareHosts<T extends PreparedHost = PreparedHost>(
  inputs: readonly (string | DomainXml)[],
  o: FleetOptions = {},
  Kind: PreparedHostClass<T> = PreparedHost as PreparedHostClass<T>,
): Promise<T[]> {
  const { afterStep, concurrency, ...rest } = o;
  const netns = netnsOf(o);
  const root = stateDir(o.stateDir);
  const dir = o.scope ?? root;
  const po: PrepareOptions = { ...rest, netns };
  // Parsed one at a time, the event loop let run in between.
  const xmls: DomainXml[] = [];
  for (const x of inputs) {
    if (typeof x !== 'string') xmls.push(x);
    else {
      xmls.push(DomainXml.parse(x));
      await yieldLoop();
    }
  }
  const seen = new Set<string>();
  for (const xml of xmls) {
    const name = xml.def.name;
    if (seen.has(name)) throw fieldError('EEXIST', 'name', name, `domain ${name} is given twice; each domain of a fleet needs its own <name>`);
    seen.add(name);
    const statePath = liveXmlPath(dir, name);
    if (fs.existsSync(statePath)) throw fieldError('EEXIST', 'name', name, `domain ${name} is already prepared (live state ${statePath}); tear it down first`);
  }
  if (!xmls.length) return [];
  // Generated MACs avoid the links' (listed first for that; preflight uses the same listing).
  let listed: LinkInfo[] | undefined;
  if (xmls.some((x) => x.def.interfaces.some((i) => !i.mac))) listed = await listLinks({ netns });
  const macs = fleetMacs(
    xmls.map((x) => x.def),
    o.random ?? randomBytes,
    listed && macTakenBy(listed),
  );

  const releases: (() => Promise<void>)[] = [];
  const tx = new Tx(netns);
  try {
    const members: Member[] = [];
    for (const [n, xml] of xmls.entries()) {
      const def = xml.def;
      const nets = await forDomain(def.name, () =>
        allocateFor(
          def.name,
          def.interfaces,
          macs[n].map((m) => m.mac),
          { ...po, stateDir: root, scope: dir },
        ),
      );
      releases.push(nets.release);
      const plans = planDomain(def, macs[n], nets.actuals, o.accel);
      members.push({ xml, name: def.name, statePath: liveXmlPath(dir, def.name), plans, existing: new Map(), decided: [], prepared: [], liveXml: '' });
    }
    checkNamesApart(members);

    // Preflight of every domain against one listing of the namespace's links.
    const links = members.some((m) => needsLinks(m.plans)) ? (listed ?? (await listLinks({ netns }))) : [];
    for (const m of members) m.existing = await forDomain(m.name, async () => preflight(m.plans, links));

    // The driver decisions, before any link exists; a vhost device found
    // unusable is not opened again (its probe answers for every interface).
    const unusable = new Map<string, VhostProbe>();
    for (const m of members)
      await forDomain(m.name, async () => {
        for (const plan of m.plans) {
          const device = plan.vhostDevice ?? o.vhostDevice ?? '';
          const known = plan.vhost === 'off' ? undefined : unusable.get(device);
          const { probe, fds } = known ? { probe: known, fds: new FdSet([]) } : await openVhost(plan, o.vhostDevice);
          tx.fds(fds);
          if (probe && !probe.usable) unusable.set(device, probe);
          m.decided.push({ plan, decision: decideDriver(plan, probe), vhost: fds });
          await afterStep?.('vhost', plan.index, m.name);
        }
      });

    // The devices: several domains at once, each domain's interfaces in order.
    const limit = concurrency ?? (Number(process.env.UV_THREADPOOL_SIZE) || 4);
    await eachLimited(members, limit, (m) =>
      forDomain(m.name, async () => {
        const ctx: ConnectContext = { tx, netns, o: po, links, step: async (s, iface) => afterStep?.(s, iface, m.name) };
        for (const { plan, decision, vhost } of m.decided) {
          const c = await connect(plan, ctx, m.existing);
          tx.fds(c.fds);
          m.prepared.push({ plan, decision, name: c.name, ifindex: c.ifindex, kind: c.kind, created: plan.link.kind !== 'existing', fds: c.fds, vhostFds: vhost });
        }
        m.liveXml = m.xml.live(m.prepared.map(liveResult));
      }),
    );

    await writeStates(members, dir, tx);
    for (const m of members) await forDomain(m.name, async () => afterStep?.('state', -1, m.name));
    return members.map((m) => new Kind(m.xml, m.prepared, m.liveXml, m.statePath, { ...po, stateDir: root, scope: dir }));
  } catch (err) {
    const errors = await tx.undo();
    for (const release of releases) await release().catch((e) => errors.push(e));
    if (errors.length) suppress(err, errors[0], 'undoing the fleet');
    throw err;
  }
}

/**
 * Tears several prepared domains down together (see `teardownDomains`):
 * every domain's recorded links (also those attached since, per its live
 * XML) deleted in ONE kernel group delete per namespace, then per domain
 * its downscripts, live and inactive XML and network connections, and last
 * the fds netfd still holds. A domain whose live XML is gone has the links
 * it created deleted by ifindex, as its own `teardown()` would. Everything
 * is attempted; then the first failure is thrown (message starting with
 * `domain NAME: `), the others recorded on it as suppressed. Domains torn
 * down already are skipped; each one's own `teardown()` does nothing after.
 */
export async function teardownHosts(domains: readonly PreparedHost[]): Promise<void> {
  const batch = domains.flatMap((d) => {
    const b = d.forBatch();
    return b ? [{ d, ...b }] : [];
  });
  if (!batch.length) return;
  const outcomes = await teardownDomains(batch.map((b) => b.item));
  const errors: unknown[] = [];
  for (const out of outcomes) if (out.error) errors.push(inDomain(out.error, out.name));
  // Live XML gone: the links each recorded, by ifindex, together per namespace; its inactive XML.
  const orphans = new Map<string | undefined, { names: string[]; indexes: number[] }>();
  for (const [n, b] of batch.entries()) {
    if (outcomes[n].live || outcomes[n].error) continue;
    fs.rmSync(inactiveXmlPath(path.dirname(b.d.statePath), b.d.name), { force: true });
    if (!b.created.length) continue;
    const o = orphans.get(b.d.netns) ?? { names: [], indexes: [] };
    o.names.push(b.d.name);
    o.indexes.push(...b.created);
    orphans.set(b.d.netns, o);
  }
  for (const [netns, o] of orphans) await deleteLinks(o.indexes, { netns }).catch((e) => errors.push(inDomain(e, o.names.join(', '))));
  for (const b of batch) {
    try {
      b.d.closeFds();
    } catch (e) {
      errors.push(inDomain(e, b.d.name));
    }
  }
  if (!errors.length) return;
  for (const e of errors.slice(1)) suppress(errors[0], e, 'tearing down another domain');
  throw errors[0];
}
