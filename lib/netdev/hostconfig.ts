// An interface's host-side settings beyond making its device, applied as
// libvirt applies them to the taps and macvtaps it makes: MTU (a tap in a
// bridge takes the bridge's when <mtu> is absent), the bridge port's isolated
// flag and VLANs, interrupt coalescing, the addresses and routes of a
// type='ethernet' tap, <bandwidth> (tc) or else the noqueue root qdisc, and
// <script>. Each names its iproute2 equivalent; a failure is the interface's
// failure (its setup is undone), except noqueue, which libvirt too treats as
// best effort.
import { execFile } from 'node:child_process';
import { addBridgeVlan, deleteBridgeVlan, setBridgePort } from '../sys/bridge';
import { setCoalesce } from '../sys/coalesce';
import { addAddress, addRoute } from '../sys/addr';
import { NetfdError } from '../errors';
import { LinkInfo } from '../sys/link';
import { setRootQdisc } from '../sys/qdisc';
import type { HostConfig, InterfacePlan } from '../policy';
import type { VlanDef } from '../xml/interface';
import { setBandwidth } from './bandwidth';

/** How long a <script> or <downscript> may run. */
export const SCRIPT_TIMEOUT_MS = 30_000;

/** The MTU to give a new device: <mtu>, else a bridged tap's bridge's (libvirt), else the kernel's default. */
export function mtuFor(plan: InterfacePlan, bridge: LinkInfo | undefined): number | undefined {
  return plan.host.mtu ?? (plan.link.kind === 'tap' && bridge ? bridge.mtu : undefined);
}

/**
 * The VLAN entries of a bridge port for libvirt's <vlan>, as
 * `bridge vlan add dev PORT vid N [pvid] [untagged]`: one tag without trunk
 * is an access port (pvid untagged); a trunk carries every tag tagged, the
 * native one (nativeMode) also as pvid, untagged when nativeMode='untagged'.
 * The bridge's default VLAN 1 is taken off the port unless a tag names it.
 */
export function vlanEntries(v: VlanDef): { vid: number; pvid: boolean; untagged: boolean }[] {
  if (!v.trunk) return [{ vid: v.tags[0].id, pvid: true, untagged: true }];
  return v.tags.map((t) => ({ vid: t.id, pvid: t.nativeMode !== undefined, untagged: t.nativeMode === 'untagged' }));
}

/** Runs <script> or <downscript> with the device's name, as libvirt does; a failure names the script and its exit. */
export function runScript(path: string, dev: string, field: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(path, [dev], { timeout: SCRIPT_TIMEOUT_MS, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } }, (err, _out, stderr) => {
      if (!err) return resolve();
      const e = err as NodeJS.ErrnoException & { code?: string | number; signal?: string };
      const how = typeof e.code === 'number' ? `exit ${e.code}` : e.signal ? `signal ${e.signal}` : (e.code ?? e.message);
      reject(new NetfdError(`${field}: ${path} ${dev} failed (${how})${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`, { code: 'SCRIPT_FAILED', field, value: path }));
    });
  });
}

/**
 * libvirt's noqueue root qdisc, set on a device just made and still down
 * when no <bandwidth> sets the root qdisc: the kernel then never attaches its
 * default qdisc (pfifo_fast) at up for noqueue to replace, which costs it
 * about as much as the rest of the tap's configuration. True when set here
 * (or tried: a failure is a warning, as in applyHostConfig); false when
 * applyHostConfig must do it.
 */
export async function noqueueBeforeUp(plan: InterfacePlan, dev: { index: number; name: string }, netns: string | undefined, warn: (m: string) => void): Promise<boolean> {
  if (!noqueueAtCreate(plan)) return false;
  await setRootQdisc(dev.index, 'noqueue', { netns }).catch((e) => warn(noqueueWarning(dev.name, (e as Error).message)));
  return true;
}

/** Whether the device's root qdisc is libvirt's noqueue, set as it is made (no <bandwidth> sets it later). */
export const noqueueAtCreate = (plan: InterfacePlan): boolean => !plan.host.bandwidth;

/** The warning when noqueue could not be set on `dev` (libvirt goes on without it). */
export const noqueueWarning = (dev: string, why: string): string => `${dev}: the noqueue root qdisc could not be set (${why}); the kernel's default stays`;

/**
 * Everything after the device is made, configured and up: port flags and
 * VLANs (a tap in a bridge), coalescing, addresses and routes, <bandwidth> or
 * the noqueue qdisc (unless `qdiscSet`: noqueueBeforeUp did), then <script>
 * (last: it may expect the rest in place). `tc` names the tc binary for
 * <bandwidth> (default NETFD_TC, /usr/sbin/tc).
 */
export async function applyHostConfig(plan: InterfacePlan, dev: { index: number; name: string }, netns: string | undefined, warn: (m: string) => void, tc?: string, qdiscSet = false): Promise<void> {
  const h: HostConfig = plan.host;
  const t = { netns };
  const at = (what: string) => `${plan.path}/${what}`;
  if (h.isolated !== undefined) await withField(at('port/@isolated'), h.isolated, () => setBridgePort(dev.index, { ...t, isolated: h.isolated }));
  if (h.vlan) {
    const entries = vlanEntries(h.vlan);
    for (const e of entries) await withField(at('vlan'), e.vid, () => addBridgeVlan(dev.index, { ...t, ...e }));
    if (!entries.some((e) => e.vid === 1)) await withField(at('vlan'), 1, () => deleteBridgeVlan(dev.index, { ...t, vid: 1 }));
  }
  if (h.coalesce) await withField(at('coalesce/rx/frames/@max'), h.coalesce.rxMaxFrames, () => setCoalesce(dev.index, { ...t, rxMaxFrames: h.coalesce?.rxMaxFrames }));
  for (const ip of h.ip?.addresses ?? []) await withField(at('source/ip'), ip.address, () => addAddress(dev.index, { ...t, ...ip }));
  for (const r of h.ip?.routes ?? []) await withField(at('source/route'), r.address, () => addRoute({ ...t, ...r, dev: dev.index, metric: r.metric ?? 1 }));
  // libvirt sets noqueue on every tap and macvtap it makes, and goes on if tc
  // cannot; with <bandwidth> virNetDevBandwidthSet first deletes the root
  // qdisc (and the ingress one), so noqueue never stays: the shaped side gets
  // htb, or the kernel's default root qdisc when only the policed side is given.
  if (h.bandwidth) await setBandwidth(h.bandwidth, dev.name, plan.path, { ...t, tc });
  else if (!qdiscSet) await setRootQdisc(dev.index, 'noqueue', t).catch((e) => warn(noqueueWarning(dev.name, (e as Error).message)));
  if (h.script) await runScript(h.script, dev.name, at('script/@path'));
}

/** Runs `fn`; an error it throws is reported for the XML field that asked for the change. */
async function withField<T>(field: string, value: unknown, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const err = e as NetfdError;
    throw new NetfdError(`${field}: ${err.message}`, { code: err.code ?? 'EIO', field, value, errno: err.errno, syscall: err.syscall, extack: err.extack, cause: e });
  }
}
