// The agent's side of the CNI plugin (op `cni`): the plugin binary forwards
// a runtime's call (the CNI_* environment and the configuration) and prints
// what this answers, `{exit, stdout}`: the result or the CNI error object.
//
// ADD makes the device of the configuration's <interface>, recorded before
// anything is made (cni-store.ts; the devices in cni-device.ts):
// type='ethernet', a tap inside CNI_NETNS named CNI_IFNAME (vnet header,
// <driver queues> multiqueue), MAC and MTU as configured; type='direct', a
// macvtap on a device of the agent's namespace (the host's, or --netns's)
// made inside CNI_NETNS in one RTM_NEWLINK with IFLA_NET_NS_FD, with the
// guest's MAC (52:54:00 when none is given), which the kernel refuses when
// the parent or a sibling has it; type='network', the same macvtap on a
// device of the network's pool in its forward mode, allocated in the
// network's ledger first (cni-pool.ts); type='bridge', a tap in the agent's
// namespace that is a port of the bridge there (a bridge port cannot be in
// another namespace), whose fds only the pod claims. DEL is idempotent
// (twice, without CNI_NETNS, after the namespace is gone); CHECK compares
// kind, name, mode, MAC, MTU and state (and a bridged tap's bridge) with the
// record and prevResult; GC removes the network's attachments not in
// cni.dev/valid-attachments; STATUS asks the tun driver, the master, the
// bridge or the pool; VERSION. The result's interface names the agent's
// socket (socketPath, 1.1.0), where a process in the pod claims the
// device's fds (op cni-claim, cni-claim.ts). IPAM is delegated to the
// `ipam.type` plugin for root's calls (cni-ipam.ts; refused for a bridged
// tap, which has no device in the pod). Attachments count against their
// caller's limits. runtimeConfig.deviceID names a VF: the macvtap's master.
import { NetfdError, suppress } from '../errors';
import { parseConfig, CniConfig } from '../cni/config';
import { checkArgs, CniEnv, parseEnv } from '../cni/env';
import { CHECK_FAILED, CNI_CODES, CniError, errorJson, unsupportedField } from '../cni/errors';
import { CniResult, readDns, readResult, resultJson } from '../cni/result';
import { CNI_VERSION, SUPPORTED_VERSIONS, versionResult } from '../cni/version';
import { tapHostMac } from '../policy/mac';
import { usesVnetHdr } from '../policy/interface';
import { listAddresses } from '../sys/addr';
import { deleteLink, getLink, LinkInfo, setLink } from '../sys/link';
import { tunFeatures } from '../sys/tap';
import type { Client } from './admission';
import { guestMacOf, bridgeLink, deviceMaster, deviceOf, hostTapName, makeBridged, makeMacvtap, makeTap, mayAddIn, nsStat, recordedLink, removeAttachment, testHold } from './cni-device';
import { allocatePool, poolOwner, poolStatus, releasePool } from './cni-pool';
import { cniStore, CniRecord } from './cni-store';
import type { Context, Handler } from './context';
import { configureIface, execIpam, ipamAdd, ipamGc, mayDelegate, RawEnv } from './cni-ipam';
import { interfaceObjects } from './objects';
import { DEFAULT_SOCKET } from './protocol';
import type { AgentLogger } from './options';

/** What the plugin prints and its exit status. */
export interface CniAnswer {
  exit: 0 | 1;
  stdout: string;
}

/** The configuration's cniVersion when it is one netfd speaks (for the error object before the configuration is read), else the newest. */
function versionOf(text: string): string {
  try {
    const v = (JSON.parse(text) as { cniVersion?: unknown })?.cniVersion;
    return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v) ? v : CNI_VERSION;
  } catch {
    return CNI_VERSION;
  }
}

/** The agent's socket path (its option, else the default; with an inherited socket, the default). */
function agentSocket(ctx: Context): string {
  const s = (ctx.o as { socket?: unknown }).socket;
  return typeof s === 'string' ? s : DEFAULT_SOCKET;
}

const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);

/** Refuses (2) what the configuration asks that this agent does not do (yet), naming it. */
function refuseUnapplied(c: CniConfig): void {
  const i = c.iface;
  if (i.type === 'bridge' && c.ipam)
    throw unsupportedField(
      'ipam',
      c.ipam.type,
      "a type='bridge' attachment is a tap on the node's bridge, with no device in the pod to put addresses on: the guest takes its addresses on the bridge's network",
    );
}

async function add(ctx: Context, caller: { uid: number; pid?: number | undefined }, env: CniEnv, c: CniConfig, raw: RawEnv, text: string, log: AgentLogger): Promise<string> {
  const store = cniStore(ctx);
  const uid = caller.uid;
  const containerId = env.containerId as string;
  const ifname = env.ifname as string;
  const netns = env.netns as string;
  return store.exclusive(uid, containerId, ifname, async () => {
    const st = nsStat(netns);
    if (st === null) throw new NetfdError(`CNI_NETNS ${netns} is no network namespace (it does not exist)`, { code: 'ENOENT', errno: -2, field: 'CNI_NETNS', value: netns });
    mayAddIn(netns, st, caller, ctx.o.netns);
    const pooled = c.iface.type === 'network';
    // A macvtap on a device of the agent's namespace: the one named, or one of the network's pool.
    const direct = c.iface.type === 'direct' || pooled;
    const bridged = c.iface.type === 'bridge';
    // libvirt's default mode for type='direct' (the shorthand `master` says bridge).
    const mode = c.iface.source.mode ?? 'vepa';
    const queues = c.iface.driver?.queues ?? 1;
    const vnetHdr = c.iface.model === undefined || usesVnetHdr(c.iface.model);
    // The guest's MAC, one for the attachment; a generated one avoids the MACs of the links listed now.
    const mac = bridged || direct ? guestMacOf(c, c.iface.mac === undefined ? await ctx.links() : []) : undefined;
    const r: CniRecord = {
      v: 1,
      uid,
      containerId,
      ifname,
      network: c.name,
      netns,
      netnsIno: st.ino,
      netnsDev: st.dev,
      state: 'adding',
      kind: direct ? 'macvtap' : 'tap',
      ...(direct && !pooled ? { parent: c.iface.source.dev, mode } : {}),
      ...(c.runtimeConfig.deviceID !== undefined ? { pciID: c.runtimeConfig.deviceID } : {}),
      // A bridged tap is named (and recorded) before it is made: DEL finds it in the agent's namespace after any crash.
      ...(bridged ? { hostName: hostTapName(uid, containerId, ifname), bridge: c.iface.source.bridge, ...(ctx.o.netns !== undefined ? { hostNs: ctx.o.netns } : {}) } : {}),
      ...(bridged ? { guestMac: mac } : {}),
      // A pool's connection: its owner and MAC recorded before the ledger has it.
      ...(pooled ? { pool: { network: c.iface.source.network as string, owner: poolOwner(store, uid, containerId, ifname), mac: mac as string } } : {}),
      queues,
      vnetHdr,
      vhost: c.iface.driver?.name === 'vhost',
      xml: c.xml,
      since: new Date().toISOString(),
    };
    const prev: CniResult = c.prevResult ? readResult(c.prevResult, 'prevResult') : { interfaces: [], ips: [], routes: [], dns: {} };
    const index = prev.interfaces.length;
    store.create(r);
    await testHold('recorded', log, r);
    let made: number | undefined;
    let link: LinkInfo;
    let ipam: CniResult | undefined;
    try {
      if (pooled) {
        await allocatePool(ctx, store, r, log);
        await testHold('allocated', log, r);
      }
      made = direct
        ? await makeMacvtap(c, ctx.o.netns, netns, ifname, { master: r.parent as string, mode: r.mode as string, mac: mac as string })
        : bridged
          ? await makeBridged(c, ctx.o.netns, r.hostName as string, r.guestMac as string, vnetHdr, queues)
          : await makeTap(netns, ifname, vnetHdr, queues);
      await testHold('tap-made', log, r);
      r.ifindex = made;
      store.update(r);
      await testHold('ifindex-recorded', log, r);
      // The host side of a tap gets the guest's MAC with 0xFE first, as libvirt gives it (a macvtap has the guest's, set as it was made).
      if (!direct && !bridged) await setLink(made, { netns, mac: c.iface.mac === undefined ? undefined : tapHostMac(c.iface.mac), mtu: c.iface.mtu, up: true });
      await testHold('configured', log, r);
      if (c.ipam) {
        // Recorded first: a DEL after a crash from here on runs the IPAM DEL too.
        r.ipam = true;
        store.update(r);
        await testHold('ipam-recorded', log, r);
        ipam = await ipamAdd(raw, c, text, index);
        await configureIface(netns, made, ipam, index);
        await testHold('ipam-configured', log, r);
      }
      link = await getLink(made, { netns: deviceOf(r).netns });
      r.state = 'ready';
      r.mac = link.mac ?? undefined;
      // The guest's MAC, for the launcher: a macvtap's own; a tap's host side has another, so the configuration's (if any; a bridged tap's was chosen above).
      r.guestMac = direct ? r.mac : bridged ? r.guestMac : c.iface.mac;
      r.mtu = link.mtu;
      store.update(r);
      await testHold('ready', log, r);
    } catch (e) {
      if (r.ipam) await execIpam('DEL', raw, c, text).catch((x: unknown) => suppress(e, x, `IPAM DEL (${c.ipam?.type})`));
      if (made !== undefined) await deleteLink(made, { netns: deviceOf(r).netns }).catch((x: unknown) => suppress(e, x, `deleting ${ifname} in ${netns}`));
      if (r.pool) await releasePool(ctx, r, log).catch((x: unknown) => suppress(e, x, `releasing the device of network ${r.pool?.network}`));
      try {
        store.drop(uid, containerId, ifname);
      } catch (x) {
        suppress(e, x, 'removing the record');
      }
      throw e;
    }
    log.info({ containerId, ifname, netns, kind: r.kind, ifindex: link.index, mac: link.mac, ips: ipam?.ips.map((i) => i.address) }, `CNI ADD: ${r.kind} made`);
    // socketPath: where a process in the pod claims the device's fds (op cni-claim; 1.1.0 results only).
    const socketPath = c.socket ?? agentSocket(ctx);
    const listed = bridged
      ? // As the reference bridge plugin lists them: the bridge, then the port (both on the node, no sandbox); the pod claims the port's fds by CNI_IFNAME.
        [
          { name: r.bridge as string, mac: (await bridgeLink(r.bridge as string, r.hostNs)).mac ?? undefined },
          { name: r.hostName as string, ...(link.mac ? { mac: link.mac } : {}), mtu: link.mtu, socketPath },
        ]
      : [{ name: ifname, ...(link.mac ? { mac: link.mac } : {}), mtu: link.mtu, sandbox: netns, socketPath, ...(r.pciID !== undefined ? { pciID: r.pciID } : {}) }];
    const result: CniResult = {
      interfaces: [...prev.interfaces, ...listed],
      ips: [...prev.ips, ...(ipam?.ips ?? [])],
      routes: [...prev.routes, ...(ipam?.routes ?? [])],
      // A previous plugin's dns, else the configuration's (as the reference plugins prefer it to IPAM's), else IPAM's.
      dns: Object.keys(prev.dns).length ? prev.dns : c.dns ? readDns(c.dns, 'dns') : (ipam?.dns ?? {}),
    };
    return `${JSON.stringify(resultJson(result, c.cniVersion))}\n`;
  });
}

async function del(ctx: Context, uid: number, env: CniEnv, c: CniConfig, raw: RawEnv, text: string, log: AgentLogger): Promise<void> {
  const store = cniStore(ctx);
  const containerId = env.containerId as string;
  const ifname = env.ifname as string;
  await store.exclusive(uid, containerId, ifname, async () => {
    // As the reference plugins: IPAM DEL first, whatever is left (it is idempotent too); root's calls only.
    if (c.ipam && uid === 0) await execIpam('DEL', raw, c, text);
    const r = store.get(uid, containerId, ifname);
    if (r) await removeAttachment(store, r, log, (x) => releasePool(ctx, x, log));
  });
}

async function check(ctx: Context, uid: number, env: CniEnv, c: CniConfig, raw: RawEnv, text: string): Promise<void> {
  if (!c.prevResult) throw new CniError(CNI_CODES.INVALID_CONFIG, 'CHECK needs prevResult (the result of the ADD)');
  const prev = readResult(c.prevResult, 'prevResult');
  const containerId = env.containerId as string;
  const ifname = env.ifname as string;
  const fail = (what: string) => new CniError(CHECK_FAILED, `${ifname} of container ${containerId}: ${what}`);
  const r = cniStore(ctx).get(uid, containerId, ifname);
  if (!r || r.state !== 'ready') throw fail('netfd has no such attachment (it was never added, or deleted)');
  if (nsStat(env.netns as string)?.ino !== r.netnsIno) throw fail(`CNI_NETNS ${env.netns} is not the namespace it was added in (${r.netns})`);
  const at = deviceOf(r);
  const l = await recordedLink(r);
  if (!l) throw fail(`the ${r.kind} ${at.name} is gone from ${at.netns ?? "the agent's namespace"}`);
  // A bridged tap is listed as a node interface (no sandbox) under its own name.
  const mine = prev.interfaces.find((i) => i.name === at.name && (r.hostName !== undefined ? i.sandbox === undefined : i.sandbox === undefined || i.sandbox === env.netns));
  if (!mine) throw fail(`prevResult lists no interface ${at.name} ${r.hostName !== undefined ? 'on the node' : `in ${env.netns}`}`);
  if (r.bridge !== undefined) {
    const br = await bridgeLink(r.bridge, r.hostNs).catch(() => null);
    if (!br || l.master !== br.index) throw fail(`${at.name} is no longer a port of bridge ${r.bridge}`);
  }
  if (mine.mac !== undefined && mine.mac.toLowerCase() !== l.mac) throw fail(`its MAC is ${l.mac}, prevResult says ${mine.mac}`);
  if (l.mac !== r.mac) throw fail(`its MAC is ${l.mac}, ADD set ${r.mac}`);
  if (l.mtu !== r.mtu) throw fail(`its MTU is ${l.mtu}, ADD set ${r.mtu}`);
  if (mine.mtu !== undefined && mine.mtu !== l.mtu) throw fail(`its MTU is ${l.mtu}, prevResult says ${mine.mtu}`);
  if (r.kind === 'macvtap' && l.mode !== (r.mode === 'passthrough' ? 'passthru' : r.mode)) throw fail(`its mode is ${l.mode}, ADD made it ${r.mode}`);
  if (!l.up) throw fail('it is down (ADD set it up)');
  if (c.ipam) {
    await execIpam('CHECK', raw, c, text);
    // The addresses prevResult gives this interface are on it (ip.ValidateExpectedInterfaceIPs).
    const index = prev.interfaces.indexOf(mine);
    const have = new Set((await listAddresses({ netns: r.netns, link: l.index })).map((x) => `${x.address}/${x.prefix}`));
    for (const ip of prev.ips) if (ip.interface === index && !have.has(ip.address)) throw fail(`it lacks the address ${ip.address} that prevResult gives it`);
  }
}

async function gc(ctx: Context, uid: number, c: CniConfig, raw: RawEnv, text: string, log: AgentLogger): Promise<void> {
  if (!c.validAttachments) throw new CniError(CNI_CODES.INVALID_CONFIG, 'GC needs cni.dev/valid-attachments (the attachments to keep)');
  const keep = new Set(c.validAttachments.map((x) => `${x.containerID}\0${x.ifname}`));
  const store = cniStore(ctx);
  let first: unknown;
  for (const r of store.list(uid)) {
    if (r.network !== c.name || keep.has(`${r.containerId}\0${r.ifname}`)) continue;
    try {
      await store.exclusive(uid, r.containerId, r.ifname, async () => {
        const now = store.get(uid, r.containerId, r.ifname);
        if (now) await removeAttachment(store, now, log, (x) => releasePool(ctx, x, log));
      });
    } catch (e) {
      if (first === undefined) first = e;
      else suppress(first, e, `removing ${r.ifname} of container ${r.containerId}`);
    }
  }
  // Then the IPAM plugin's own GC (root's calls only, as every delegation).
  if (c.ipam && uid === 0) {
    try {
      const ran = await ipamGc(raw, c, text);
      log.info({ network: c.name, ipam: c.ipam.type, ran }, ran ? 'CNI GC: IPAM plugin collected too' : 'CNI GC: the IPAM plugin has no GC (it does not speak 1.1.0)');
    } catch (e) {
      if (first === undefined) first = e;
      else suppress(first, e, `GC of IPAM plugin ${c.ipam.type}`);
    }
  }
  if (first !== undefined) throw first;
}

async function status(ctx: Context, c: CniConfig, hostNs: string | undefined): Promise<void> {
  try {
    await tunFeatures();
  } catch (e) {
    throw new CniError(CNI_CODES.NOT_AVAILABLE, `the tun driver does not answer: ${(e as Error).message}`, 'netfd makes taps through /dev/net/tun (modprobe tun)');
  }
  if (c.iface.type === 'network') {
    const network = c.iface.source.network as string;
    try {
      await poolStatus(ctx, network);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code !== 'NO_DEVICE' && code !== 'NETWORK_INACTIVE' && code !== 'ENOENT') throw e;
      throw new CniError(CNI_CODES.NOT_AVAILABLE, (e as Error).message, `a network attachment needs network '${network}' active with a device free for one more connection`);
    }
  }
  if (c.iface.type === 'bridge') {
    try {
      await bridgeLink(c.iface.source.bridge as string, hostNs);
    } catch (e) {
      if (!(e instanceof NetfdError) || e.field !== 'bridge') throw e;
      throw new CniError(CNI_CODES.NOT_AVAILABLE, e.message, 'a bridge attachment needs its bridge on the node');
    }
  }
  const master = c.iface.type === 'direct' ? c.iface.source.dev : undefined;
  if (master === undefined) return;
  try {
    await getLink(master, { netns: hostNs });
  } catch (e) {
    if (!['ENOENT', 'ENODEV'].includes((e as { code?: string }).code ?? '')) throw e;
    throw new CniError(CNI_CODES.NOT_AVAILABLE, `master ${master} does not exist in the agent's network namespace`, 'a macvtap attachment needs its master device on the node');
  }
}

/** One CNI call: the answer the plugin prints; every failure is the CNI error object (exit 1). */
export async function runCni(ctx: Context, client: Client, a: Record<string, unknown>, log: AgentLogger): Promise<CniAnswer> {
  const config = a.config as string;
  let version = versionOf(config);
  try {
    const raw: RawEnv = { CNI_CONTAINERID: str(a.containerId), CNI_NETNS: str(a.netns), CNI_IFNAME: str(a.ifname), CNI_ARGS: str(a.args), CNI_PATH: str(a.path) };
    const env = parseEnv({ CNI_COMMAND: str(a.command), ...raw });
    if (env.command === 'VERSION') return { exit: 0, stdout: `${JSON.stringify(versionResult(versionOf(config)))}\n` };
    // A caller the ACL lets ask nothing is refused before a deviceID sends the agent into sysfs.
    ctx.admission.mayAsk(client, 'op');
    const c = parseConfig(config, env.command, { deviceMaster: deviceMaster(ctx.o.sysfsRoot, env.command) });
    version = c.cniVersion;
    const uid = client.caller.uid;
    switch (env.command) {
      case 'ADD': {
        checkArgs(env.args);
        refuseUnapplied(c);
        // What the attachment touches, as for any other caller's interface.
        const o = interfaceObjects(c.iface);
        ctx.admission.check(client, o.objects, 'interface', o.value);
        mayDelegate(uid, c);
        // Each attachment is one interface and its record's bytes against the caller's limits (with its domains), counted from its record on.
        cniStore(ctx);
        const adding = { interfaces: 1, domains: 0, bytes: Buffer.byteLength(c.xml) + 1024 };
        return { exit: 0, stdout: await ctx.admission.withinLimits(client, adding, () => add(ctx, client.caller, env, c, raw, config, log)) };
      }
      // DEL, CHECK and GC act on the caller's own attachments only (the ACL
      // allowed each when it was added); another caller's look like none.
      case 'DEL':
        await del(ctx, uid, env, c, raw, config, log);
        break;
      case 'CHECK':
        checkArgs(env.args);
        refuseUnapplied(c);
        mayDelegate(uid, c);
        await check(ctx, uid, env, c, raw, config);
        break;
      case 'GC':
        await gc(ctx, uid, c, raw, config, log);
        break;
      case 'STATUS':
        await status(ctx, c, ctx.o.netns);
        break;
    }
    return { exit: 0, stdout: '' };
  } catch (e) {
    log.info({ command: a.command, containerId: a.containerId, ifname: a.ifname, err: (e as Error)?.message }, 'CNI call failed');
    return { exit: 1, stdout: `${JSON.stringify(errorJson(version, e))}\n` };
  }
}

/** The `cni` op. */
export const cniHandler: Handler = async (ctx, client, a, log) => ({ result: await runCni(ctx, client, a, log) });
