// The two handlers that make devices for a user: prepare (a whole domain)
// and attach (one more interface of a domain the user holds). Each picks a
// fresh link group first, so its devices are found by group whatever the
// holder of their fds does to them.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { NetfdError } from '../errors';
import type { LinkInfo } from '../sys/link';
import { setInterfaceLinks } from '../netdev/direct';
import { prepareDomain } from '../qemu/domain';
import { withDomainLock } from '../state/lock';
import { removeFile, replaceFileAtomic } from '../state/atomic';
import { Accel, domainMacs, generateMac } from '../policy';
import { hostAttach, qemuNic } from '../qemu/hotplug';
import { DomainXml } from '../xml/domain';

import type { Client } from './admission';
import { interfaceObjects } from './objects';
import { parseError, type Parsed } from './parser';
import type { AgentLogger } from './options';
import { bytesOf, DomainRecord, Held } from './records';
import type { Context, Result } from './context';

/**
 * Up to this many bytes of XML a domain is parsed once, on the event loop
 * (in the heavy queue, users taking turns), for the ACL and the work alike:
 * the parse costs less than the worker's round trip and a second parse. A
 * larger document is parsed for the ACL on the worker first (parser.ts), so
 * one the ACL refuses never costs the event loop its parse.
 */
const PARSE_ON_LOOP_BYTES = 2048;

/**
 * Closes the agent's copies of fds handed to a client, off the event loop:
 * the last close of a tap queue detaches it, which waits out an RCU grace
 * period (about 2 ms) under rtnl when the client has closed its copy first.
 */
function closeOff(fds: readonly number[]): void {
  // Closing an fd this process owns fails only for a bad fd, which would be
  // a bug of the close above; there is nobody to tell at this point.
  for (const fd of fds) fs.close(fd, () => undefined);
}

/**
 * A link group no link in the agent's namespace and no record uses, and the
 * namespace's links as listed for that (the prepare's preflight sees the
 * same listing, which the prepares of a burst share: ctx.links).
 */
async function freeGroup(ctx: Context): Promise<{ group: number; links: LinkInfo[] }> {
  const links = await ctx.links();
  const used = new Set<number | null>(links.map((l) => l.group));
  for (const h of ctx.records.held.values()) used.add(h.record.group);
  for (;;) {
    const g = randomBytes(4).readUInt32BE(0);
    if (g >= 0x1000000 && !used.has(g) && !choosing.has(g)) return { group: g, links };
  }
}

/** The groups of the prepares under way (not held yet): a listing shared with them may not show their links yet. */
const choosing = new Set<number>();

export async function prepare(ctx: Context, client: Client, text: string, qmp: string | undefined, accel: Accel | undefined, running: boolean | undefined, log: AgentLogger): Promise<Result> {
  if (qmp !== undefined && !path.isAbsolute(qmp))
    throw new NetfdError(`args.qmp must be an absolute socket path, not ${JSON.stringify(qmp)}`, { code: 'INVALID_ARGUMENT', field: 'args.qmp', value: qmp });
  const { records, admission } = ctx;
  const uid = client.caller.uid;
  // The ACL before the expensive work: who may ask at all, then what the
  // interfaces touch (parsed off the event loop), then the full parse.
  admission.mayAsk(client, 'args.xml');
  let pre: Parsed;
  let xml: DomainXml | undefined;
  if (bytesOf(text) <= PARSE_ON_LOOP_BYTES) {
    xml = await admission.heavy.run(uid, () => {
      try {
        return DomainXml.parse(text, { singleUse: true });
      } catch (e) {
        throw parseError(e); // as the worker would have reported it
      }
    });
    pre = { name: xml.def.name, interfaces: xml.def.interfaces.map(interfaceObjects) };
  } else pre = await admission.parser.domain(uid, text);
  if (!pre.interfaces.length)
    throw new NetfdError(`domain ${pre.name} has no <interface>: the agent prepares interfaces, so there is nothing to ask it for (run qemu without it)`, {
      code: 'INVALID_ARGUMENT',
      field: '/domain/devices/interface',
      value: 0,
    });
  for (const i of pre.interfaces) admission.check(client, i.objects, i.path, i.value);
  xml ??= await admission.heavy.run(uid, () => DomainXml.parse(text, { singleUse: true }));
  const def = xml.def;
  const key = records.key(uid, def.name);
  return records.exclusive(key, async () => {
    if (records.held.has(key) || fs.existsSync(records.path(uid, def.name)))
      throw new NetfdError(`domain ${def.name} is already prepared by this agent; release it first`, { code: 'EEXIST', field: 'name', value: def.name });
    // The record holds the XML, and the live and inactive XML hold it again.
    const estimate = 3 * bytesOf(text) + 4096;
    return admission.withinLimits(client, { interfaces: def.interfaces.length, domains: 1, bytes: estimate }, async () => {
      const macs = domainMacs(def, randomBytes);
      const { group, links } = await freeGroup(ctx);
      choosing.add(group);
      try {
        const record: DomainRecord = {
          name: def.name,
          uid,
          gid: client.caller.gid,
          pid: client.caller.pid ?? 0,
          state: 'preparing',
          xml: text,
          macs,
          group,
          devices: [],
          interfaces: def.interfaces.length,
          ...(accel ? { accel } : {}),
          ...(running !== undefined ? { running } : {}),
          since: new Date().toISOString(),
        };
        records.write(record, true);
        let prepared;
        try {
          prepared = await prepareDomain(xml, { ...records.host(record), macs, accel, macvtapsDown: running === false, links });
        } catch (err) {
          removeFile(records.path(uid, def.name));
          throw err;
        }
        record.state = 'ready';
        record.devices = prepared.interfaces.filter((i) => i.created).map((i) => ({ ifindex: i.ifindex, kind: i.kind, name: i.name }));
        const recordBytes = records.write(record);
        log.info({ domain: def.name, devices: prepared.interfaces.map((i) => i.name), group: record.group }, 'prepared');
        const interfaces = prepared.interfaces.map((i) => ({
          dev: i.name,
          mac: i.plan.mac,
          alias: i.plan.deviceId,
          driver: i.decision.record,
          tapFds: i.fds.fds.length,
          vhostFds: i.vhostFds.fds.length,
        }));
        const result = { name: def.name, liveXml: prepared.liveXml, argv: prepared.argv(qmp ? { qmp } : {}), interfaces };
        // The reply's fds; the agent's own copies are handed over from the
        // prepared domain here. The first queue fd of each tap made stays
        // with the agent until the release's group delete takes the tap:
        // closing a tap's last fd unregisters it, which waits out the
        // kernel's grace period in whoever closes it (the client's path
        // otherwise). The rest are closed off the event loop once the reply
        // is sent.
        const fds = prepared.qemuFds();
        const owned = prepared.interfaces.map((i) => ({ i, queues: i.fds.release(), vhost: i.vhostFds.release() }));
        const kept = owned.filter(({ i, queues }) => i.created && i.kind === 'tap' && queues.length).map(({ queues }) => queues[0]!);
        const rest = owned.flatMap(({ queues, vhost }) => [...queues, ...vhost]).filter((fd) => !kept.includes(fd));
        const h: Held = { record, client, bytes: recordBytes + bytesOf(prepared.liveXml, text), fds: kept };
        records.held.set(key, h);
        if (client.conn.closed) ctx.orphan(h);
        else client.domains.add(key);
        return {
          result,
          fds,
          after: () => closeOff(rest),
        };
      } finally {
        choosing.delete(group);
      }
    });
  });
}

export async function attach(ctx: Context, client: Client, h: Held, ifaceXml: string, log: AgentLogger): Promise<Result> {
  const { records, admission } = ctx;
  const r = h.record;
  const name = r.name;
  const scope = records.scope(r.uid);
  admission.mayAsk(client, 'args.xml');
  const livePath = records.files(r).live;
  const pre = await admission.parser.interface(r.uid, fs.readFileSync(livePath, 'utf8'), ifaceXml);
  for (const i of pre.interfaces) admission.check(client, i.objects, i.path, i.value);
  return records.exclusive(records.key(r.uid, name), async () => {
    return withDomainLock(scope, name, async () => {
      const live = await admission.heavy.run(r.uid, () => DomainXml.parse(fs.readFileSync(livePath, 'utf8'), { live: true }));
      const probe = live.withInterface(ifaceXml).iface;
      return admission.withinLimits(client, { interfaces: 1, domains: 0, bytes: 2 * bytesOf(ifaceXml) + 1024 }, async () => {
        // The MAC is chosen (and recorded) before anything is made.
        const used = new Set(live.def.interfaces.map((i) => i.mac));
        let bytes = randomBytes(3);
        while (!probe.mac && used.has(generateMac(bytes))) bytes = randomBytes(3);
        const mac = probe.mac ?? generateMac(bytes);
        r.attaching = { xml: ifaceXml, mac };
        records.write(r);
        let host;
        try {
          host = await hostAttach(name, live, ifaceXml, { ...records.host(r), random: () => bytes, accel: r.accel, macvtapsDown: r.running !== undefined });
        } catch (err) {
          delete r.attaching;
          records.write(r);
          throw err;
        }
        const p = host.prepared;
        try {
          replaceFileAtomic(livePath, host.liveXml);
        } catch (err) {
          await host.undo(err);
          throw err;
        }
        // Following the owner's word on the vCPUs (set-running waits for
        // this domain lock, so a change said meanwhile is applied after).
        if (r.running === true)
          await setInterfaceLinks([host.iface], true, { ...records.host(r), parents: 'passthrough' }).catch((e) =>
            log.warn({ domain: name, dev: p.name, err: (e as Error).message }, 'setting an attached macvtap up failed'),
          );
        delete r.attaching;
        r.interfaces++;
        if (p.created) r.devices.push({ ifindex: p.ifindex, kind: p.kind, name: p.name });
        records.write(r);
        h.bytes = records.stateBytes(r);
        log.info({ domain: name, dev: p.name, mac: p.plan.mac }, 'attached');
        return {
          result: {
            alias: p.plan.deviceId,
            mac: p.plan.mac,
            targetDev: p.name,
            driver: p.decision.record,
            liveXml: host.liveXml,
            nic: qemuNic(p),
            tapFds: p.fds.fds.length,
            vhostFds: p.vhostFds.fds.length,
          },
          fds: [...p.fds.fds, ...p.vhostFds.fds],
          after: () => {
            p.fds.close();
            p.vhostFds.close();
          },
        };
      });
    });
  });
}
