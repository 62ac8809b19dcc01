// The op `cni-claim`: a process in a pod takes the queue fds of the tap or
// macvtap the CNI plugin made there (and vhost-net fds when the configuration asked
// <driver name='vhost'> and the device opens), sent with the reply over
// SCM_RIGHTS. The ADD result's interface names the socket (socketPath).
//
// What authorises is the network namespace, not the user: the caller's pid
// (SO_PEERCRED, taken when it connected) must be in the namespace the
// attachment was added in, /proc/PID/ns/net having the st_dev and st_ino
// recorded at ADD; otherwise ACCESS_DENIED naming both. Whoever is in the
// pod's namespace can open the tap there anyway with CAP_NET_ADMIN; the claim
// gives it to the pod's unprivileged launcher. The ACL is not asked.
//
// What is guaranteed against pid races: the process's start time (field 22
// of /proc/PID/stat) is read before the namespace is compared and again after
// the fds are opened, and its namespace is stat'd again then; any change (the
// process exited, the pid was reused, it moved to another namespace) refuses
// the claim and closes the fds. So at the moment the fds were open, one and
// the same process with that pid was in the attachment's namespace. What is
// not: that this process is the one that connected, if that one exited and
// its pid was reused before the claim by a process in the same pod's
// namespace (which could claim the fds itself). The tap is opened by name in
// the recorded namespace, after checking that path still names the recorded
// namespace, and its ifindex must be the recorded one; a macvtap's character
// device is opened by its recorded ifindex, as sysfs inside that namespace
// gives it (never /dev/tapN by number alone), and its name must be the
// recorded one. A type='bridge' attachment's tap is in the agent's namespace
// (a port of the node's bridge): opened there by its recorded name and
// ifindex, and claimed, as every other, only from the pod's namespace.
import fs from 'node:fs';
import { NetfdError } from '../errors';
import { OwnsFds } from '../sys/fds';
import { MacvtapFds } from '../sys/macvtap';
import { Tap } from '../sys/tap';
import { VhostFds } from '../sys/vhost';
import * as v from '../validate';
import type { Client } from './admission';
import { deviceOf, nsStat, pidNetns, recordedLink } from './cni-device';
import { cniStore, CniRecord } from './cni-store';
import type { Handler, Result } from './context';
import type { AgentLogger } from './options';

/** The start time of process `pid` (clock ticks since boot, /proc/PID/stat field 22), or null when it is gone. */
export function startTime(pid: number, proc = '/proc'): string | null {
  let text: string;
  try {
    text = fs.readFileSync(`${proc}/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold anything; the fields after its last ')' are 3, 4, ….
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return rest[22 - 3] ?? null;
}

const same = (a: { dev: number; ino: number } | null, r: CniRecord): boolean => a !== null && a.ino === r.netnsIno && (r.netnsDev === undefined || a.dev === r.netnsDev);

function denied(message: string, value: unknown): NetfdError {
  return new NetfdError(message, { code: 'ACCESS_DENIED', field: 'caller', value, hint: 'claim from a process inside the pod whose network namespace netfd added the attachment in' });
}

/** Where process `pid` is now, for a refusal. */
const where = (pid: number): string => {
  const ns = pidNetns(pid);
  return ns ? `net:[${ns.ino}]` : 'gone';
};

/** The attachment `containerId`/`ifname`, whoever added it, that is in the namespace `ns` (the caller's); ENOENT when there is none at all. */
function findRecord(ctx: Parameters<Handler>[0], containerId: string, ifname: string, ns: { dev: number; ino: number } | null, pid: number): CniRecord {
  const store = cniStore(ctx);
  const all = store
    .uids()
    .map((uid) => store.get(uid, containerId, ifname))
    .filter((r): r is CniRecord => r !== undefined && r.state === 'ready');
  if (!all.length)
    throw new NetfdError(`netfd has no attachment ${ifname} of container ${containerId} (it was never added, or deleted)`, { code: 'ENOENT', field: 'args.containerId', value: containerId });
  const mine = all.find((r) => same(ns, r));
  if (!mine)
    throw denied(
      `the caller (pid ${pid}, network namespace ${ns ? `net:[${ns.ino}]` : 'unknown: the process is gone'}) is not in the network namespace of ${ifname} of container ${containerId} (net:[${all.map((r) => r.netnsIno).join('], net:[')}])`,
      pid,
    );
  return mine;
}

/** The attachment's queue fds: the tap opened by name, or the macvtap's device by ifindex; either must be the recorded one. */
async function openQueues(r: CniRecord, queues: number): Promise<OwnsFds> {
  const vnetHdr = r.vnetHdr ?? true;
  const made = `${deviceOf(r).name} in ${deviceOf(r).netns ?? "the agent's namespace"} is not the ${r.kind} netfd made`;
  if (r.kind === 'macvtap') {
    const m = await MacvtapFds.open(r.ifindex as number, { netns: r.netns, queues, vnetHdr });
    if (m.name !== r.ifname) {
      m.close();
      throw new NetfdError(`${made} (ifindex ${r.ifindex} is ${m.name} now)`, { code: 'ENOENT', field: 'args.ifname', value: r.ifname });
    }
    return m;
  }
  // A tap in the pod, or a bridged one in the agent's namespace (by its recorded name there).
  const at = deviceOf(r);
  const tap = await Tap.create({ netns: at.netns, name: at.name, exclusive: false, persist: true, vnetHdr, queues, multiQueue: queues > 1 });
  if (tap.ifindex !== r.ifindex) {
    tap.close();
    throw new NetfdError(`${made} (ifindex ${tap.ifindex}, not ${r.ifindex})`, { code: 'ENOENT', field: 'args.ifname', value: r.ifname });
  }
  return tap;
}

/** The claim: the device's queue fds, then the vhost fds. */
export async function claim(ctx: Parameters<Handler>[0], client: Client, a: Record<string, unknown>, log: AgentLogger): Promise<Result> {
  const containerId = a.containerId as string;
  const ifname = v.ifname(a.ifname as string, 'args.ifname');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(containerId))
    throw new NetfdError(`invalid args.containerId ${JSON.stringify(containerId)}`, { code: 'INVALID_ARGUMENT', field: 'args.containerId', value: containerId });
  const pid = client.caller.pid;
  if (pid === undefined || pid <= 0)
    throw denied('the caller has no pid the agent can see (SO_PEERCRED gave none, e.g. from another pid namespace): its network namespace cannot be told', pid ?? null);
  const started = startTime(pid);
  const r = findRecord(ctx, containerId, ifname, started === null ? null : pidNetns(pid), pid);
  return cniStore(ctx).exclusive(r.uid, r.containerId, r.ifname, async () => {
    const l = await recordedLink(r);
    if (!l) throw new NetfdError(`the ${r.kind} ${ifname} of container ${containerId} is gone from ${r.netns}`, { code: 'ENOENT', field: 'args.ifname', value: ifname });
    const queues = r.queues ?? 1;
    const tap = await openQueues(r, queues);
    let vhost: VhostFds | undefined;
    let vhostWhy: string | undefined;
    try {
      if (r.vhost) {
        try {
          vhost = await VhostFds.open({ device: ctx.o.vhostDevice, count: queues });
        } catch (e) {
          vhostWhy = (e as Error).message;
        }
      }
      // After the fds are open: the same process (start time) in the same namespace, and the path still that namespace.
      if (startTime(pid) !== started || !same(pidNetns(pid), r)) throw denied(`the caller (pid ${pid}) left the attachment's namespace or exited while the fds were opened (now ${where(pid)})`, pid);
      if (r.hostName === undefined && !same(nsStat(r.netns), r))
        throw new NetfdError(`${r.netns} no longer names the namespace ${ifname} was added in`, { code: 'ENOENT', field: 'args.containerId', value: containerId });
    } catch (e) {
      tap.close();
      vhost?.close();
      throw e;
    }
    log.info({ containerId, ifname, netns: r.netns, pid, uid: client.caller.uid, tapFds: tap.fds.length, vhostFds: vhost?.fds.length ?? 0 }, 'CNI attachment claimed');
    return {
      result: {
        containerId,
        ifname,
        ifindex: r.ifindex,
        kind: r.kind,
        mac: l.mac,
        guestMac: r.guestMac ?? null,
        mtu: l.mtu,
        vnetHdr: r.vnetHdr ?? true,
        tapFds: tap.fds.length,
        vhostFds: vhost?.fds.length ?? 0,
        ...(vhostWhy !== undefined ? { vhostUnavailable: vhostWhy } : {}),
      },
      fds: [...tap.fds, ...(vhost?.fds ?? [])],
      after: () => {
        tap.close();
        vhost?.close();
      },
    };
  });
}

/** The `cni-claim` op. */
export const cniClaimHandler: Handler = (ctx, client, a, log) => claim(ctx, client, a, log);
