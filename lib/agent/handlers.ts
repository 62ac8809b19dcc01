// What the agent does for each operation of the protocol: HANDLERS, one
// function per op. A handler gets the request's arguments as parseRequest
// checked them, decides by the ACL (admission) before it changes anything,
// and answers a result, the fds that go with it, and what to do once the
// reply is sent.
import fs from 'node:fs';
import { NetfdError } from '../errors';
import { followLiveXml } from '../netdev/direct';
import { recordPciAddresses } from '../netdev/live';
import { withDomainLock } from '../state/lock';
import { Networks } from '../netdev/networks';
import { Accel } from '../policy';
import { probeHost, CHECK_IDS, CheckId } from '../host/probe';
import { hostDetach, interfaceByMac } from '../qemu/hotplug';
import { parsePci } from '../qemu/pci';
import * as v from '../validate';
import { isObjectName } from '../xml/dom';
import { DomainXml, PciAddress } from '../xml/domain';
import type { Client } from './admission';
import type { Op } from './protocol';
import type { Context, Handler } from './context';
import { attach, prepare } from './prepare';
import { cniHandler } from './cni';
import { cniClaimHandler } from './cni-claim';
import { Held } from './records';

export type { Context, Handler, Result } from './context';

/** A domain or network name from a request (INVALID_ARGUMENT naming `field`). */
function objectName(name: string, field: string): string {
  if (typeof name !== 'string' || !isObjectName(name))
    throw new NetfdError(`invalid ${field} ${JSON.stringify(name)}: 1-200 bytes, no whitespace or /`, { code: 'INVALID_ARGUMENT', field, value: name });
  return name;
}

/** The accelerator a client names in `prepare` (INVALID_ARGUMENT otherwise). */
function accelArg(x: unknown): Accel | undefined {
  if (x === undefined) return undefined;
  if (x !== 'kvm' && x !== 'tcg') throw new NetfdError(`invalid args.accel ${JSON.stringify(x)}: kvm or tcg`, { code: 'INVALID_ARGUMENT', field: 'args.accel', value: x });
  return x;
}

/** The caller's domain `name` (another user's looks like none: ENOENT). */
function own(ctx: Context, client: Client, name: unknown): Held {
  const n = objectName(name as string, 'args.name');
  const h = ctx.records.held.get(ctx.records.key(client.caller.uid, n));
  if (!h) throw new NetfdError(`${client.user} has no domain ${n} on this agent (list shows yours)`, { code: 'ENOENT', field: 'args.name', value: n });
  return h;
}

/**
 * Releases a domain at once: it goes into the deletion queue (reaper.ts),
 * which deletes its devices (its whole link group), then its files and
 * network connections; its name is free from now on, its devices count
 * against its owner's limits until they are gone.
 */
export async function releaseDomain(ctx: Pick<Context, 'records'>, h: Held, why: string): Promise<void> {
  await ctx.records.queue.enqueue(h, why);
}

function listed(ctx: Context, h: Held, client: Client) {
  let interfaces: { dev?: string; mac?: string; type: string; source: unknown }[] = [];
  try {
    interfaces = DomainXml.parse(fs.readFileSync(ctx.records.files(h.record).live, 'utf8'), { live: true }).def.interfaces.map((i) => ({
      dev: i.target?.dev,
      mac: i.mac,
      type: i.type,
      source: i.source,
    }));
  } catch {
    // being prepared or released: no live XML right now
  }
  return { name: h.record.name, state: h.client === client ? 'held' : h.client ? 'held elsewhere' : 'unclaimed', since: h.record.since, interfaces };
}

/** A network administration op: a valid name first (but for net-define), then the ACL's `all`, then `run`. */
function netAdmin(named: boolean, run: (nets: Networks, name: string, a: Record<string, unknown>) => unknown): Handler {
  return async (ctx, client, a, _log, op) => {
    const nets = new Networks(ctx.records.host());
    const name = named ? objectName(a.name as string, 'args.name') : '';
    ctx.admission.check(client, [{ kind: 'all' }], 'op', op);
    return { result: await run(nets, name, a) };
  };
}

/** Every operation of the protocol (OPS), and what the agent does for it. */
export const HANDLERS: Readonly<Record<Op, Handler>> = {
  hello: async (ctx, client) => ({ result: { version: 1, uid: client.caller.uid, gid: client.caller.gid, user: client.user, graceMs: ctx.grace() } }),
  prepare: async (ctx, client, a, log) => prepare(ctx, client, a.xml as string, a.qmp as string | undefined, accelArg(a.accel), a.running as boolean | undefined, log),
  'set-running': async (ctx, client, a, log) => {
    // The owner's word on its guest's vCPUs; it can do no more than
    // set its own domain's macvtaps (and a passthrough one's device) up or down.
    const h = own(ctx, client, a.name);
    const r = h.record;
    r.running = a.running as boolean;
    ctx.records.write(r);
    // A shared parent an administrator set down stays down.
    await followLiveXml(ctx.records.files(r).live, r.running, { ...ctx.records.host(r), parents: 'passthrough' });
    log.info({ domain: r.name, running: r.running }, r.running ? 'vCPUs run: macvtaps up' : 'vCPUs paused: macvtaps down');
    return { result: { name: r.name, running: r.running } };
  },
  'record-pci': async (ctx, client, a) => {
    const h = own(ctx, client, a.name);
    const livePath = ctx.records.files(h.record).live;
    const aliases = new Set(DomainXml.parse(fs.readFileSync(livePath, 'utf8'), { live: true }).def.interfaces.map((i) => i.alias ?? `net${i.index}`));
    const addresses = new Map<string, PciAddress>();
    (a.addresses as string[]).forEach((x, k) => {
      const eq = x.indexOf('=');
      const pci = eq > 0 ? parsePci(x.slice(eq + 1)) : null;
      if (!pci)
        throw new NetfdError(`args.addresses[${k}] must be ALIAS=BB:SS.F (hex, e.g. net0=00:03.0), not ${JSON.stringify(x)}`, { code: 'INVALID_ARGUMENT', field: `args.addresses[${k}]`, value: x });
      const alias = x.slice(0, eq);
      if (!aliases.has(alias))
        throw new NetfdError(`domain ${h.record.name} has no interface ${alias} (it has: ${[...aliases].join(', ') || 'none'})`, { code: 'ENODEV', field: `args.addresses[${k}]`, value: x });
      addresses.set(alias, pci);
    });
    const liveXml = await recordPciAddresses(livePath, addresses);
    return { result: { name: h.record.name, liveXml } };
  },
  release: async (ctx, client, a) => {
    const h = own(ctx, client, a.name);
    await ctx.records.exclusive(ctx.records.key(h.record.uid, h.record.name), () => releaseDomain(ctx, h, 'its owner released it'));
    return { result: { name: h.record.name } };
  },
  claim: async (ctx, client, a, log) => {
    const h = own(ctx, client, a.name);
    const key = ctx.records.key(h.record.uid, h.record.name);
    clearTimeout(h.timer);
    h.timer = undefined;
    h.client?.domains.delete(key);
    h.client = client;
    client.domains.add(key);
    log.info({ domain: h.record.name }, 'claimed');
    return { result: { name: h.record.name, liveXml: fs.readFileSync(ctx.records.files(h.record).live, 'utf8') } };
  },
  list: async (ctx, client) => ({
    result: [...ctx.records.held.values()]
      .filter((h) => h.record.uid === client.caller.uid)
      .map((h) => listed(ctx, h, client))
      .sort((x, y) => x.name.localeCompare(y.name)),
  }),
  dumpxml: async (ctx, client, a) => {
    const h = own(ctx, client, a.name);
    // The inactive definition is the one the domain was prepared from (the record's; attach changes the live XML alone).
    return { result: { xml: a.inactive ? h.record.xml : fs.readFileSync(ctx.records.files(h.record).live, 'utf8') } };
  },
  attach: async (ctx, client, a, log) => attach(ctx, client, own(ctx, client, a.name), a.xml as string, log),
  detach: async (ctx, client, a) => {
    const { records } = ctx;
    const h = own(ctx, client, a.name);
    const mac = v.mac(a.mac as string, 'args.mac');
    const scope = records.scope(h.record.uid);
    return records.exclusive(records.key(h.record.uid, h.record.name), async () => {
      const livePath = records.files(h.record).live;
      const live = DomainXml.parse(fs.readFileSync(livePath, 'utf8'), { live: true });
      const { iface } = interfaceByMac(h.record.name, live, mac, a.mac as string);
      h.live = undefined; // the live XML changes: the release's teardown reads it
      const d = await withDomainLock(scope, h.record.name, () => hostDetach(h.record.name, live, livePath, iface, records.host(h.record)));
      h.record.interfaces = Math.max(0, h.record.interfaces - 1);
      h.record.devices = h.record.devices.filter((x) => x.name !== iface.target?.dev);
      records.write(h.record);
      h.bytes = records.stateBytes(h.record);
      return { result: d };
    });
  },
  probe: async (ctx, client, a, _log, op) => {
    // It makes root create scratch namespaces and devices and run qemu.
    ctx.admission.check(client, [{ kind: 'all' }], 'op', op);
    const only = a.only as string[] | undefined;
    for (const id of only ?? [])
      if (!(CHECK_IDS as readonly string[]).includes(id))
        throw new NetfdError(`unknown probe check ${JSON.stringify(id)}; known: ${CHECK_IDS.join(', ')}`, { code: 'INVALID_ARGUMENT', field: 'args.only', value: id });
    const report = await probeHost({ only: only as CheckId[] | undefined, vhostDevice: ctx.o.vhostDevice, sysfsRoot: ctx.o.sysfsRoot });
    return { result: { ...report, agentWarnings: await ctx.checkBridges() } };
  },
  'net-list': async (ctx, client, a) => {
    const { rows, warnings } = new Networks(ctx.records.host()).list();
    const mine = rows.filter((r) => (a.all || r.active) && ctx.admission.allows(client.caller, { kind: 'network', value: r.name }));
    return { result: { rows: mine, warnings } };
  },
  'net-dumpxml': async (ctx, client, a) => {
    const name = objectName(a.name as string, 'args.name');
    ctx.admission.check(client, [{ kind: 'network', value: name }], 'args.name', name);
    return { result: { xml: new Networks(ctx.records.host()).dumpxml(name, { inactive: a.inactive as boolean | undefined }) } };
  },
  'net-define': netAdmin(false, (nets, _name, a) => nets.define(a.xml as string)),
  'net-undefine': netAdmin(true, (nets, name) => nets.undefine(name)),
  'net-start': netAdmin(true, async (nets, name) => {
    const st = await nets.start(name);
    return { name, pool: st.pool, connections: st.connections.length, warnings: st.warnings };
  }),
  'net-destroy': netAdmin(true, (nets, name) => nets.destroy(name)),
  'net-autostart': netAdmin(true, (nets, name, a) => {
    nets.setAutostart(name, a.enable as boolean);
    return { name, autostart: a.enable };
  }),
  cni: cniHandler,
  'cni-claim': cniClaimHandler,
};
