// IPAM delegation for the CNI plugin, as the reference plugins do it
// (macvlan: ipam.ExecAdd / ExecCheck / ExecDel, then ipam.ConfigureIface):
// the agent execs the plugin named by the configuration's `ipam.type`, found
// in CNI_PATH, with the call's CNI_* environment and the configuration on
// stdin, and reads its result; ADD then puts the addresses and routes on the
// tap in the pod's namespace, with that interface's index in the result.
//
// The agent runs as root: it execs a program named by the caller, from
// directories the caller names. So only root's calls (the runtime's) get
// IPAM; another caller's ADD with `ipam` is ACCESS_DENIED, and its DEL and
// CHECK do not exec (it never had an attachment with IPAM). The type is a
// plain name (config.ts), never a path.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NetfdError } from '../errors';
import type { CniConfig } from '../cni/config';
import { CNI_CODES, CniError } from '../cni/errors';
import { CniResult, readResult } from '../cni/result';
import { addAddress, addRoute } from '../sys/addr';

/** The longest an IPAM plugin may take (host-local waits on its lock; dhcp on its daemon). */
const IPAM_TIMEOUT_MS = 60_000;
/** The most output read from one. */
const MAX_OUTPUT = 1024 * 1024;

/** The IPAM plugin `type` in CNI_PATH (the first directory that has it, executable), as libcni's FindInPath. */
export function findPlugin(type: string, dirs: readonly string[]): string {
  for (const d of dirs) {
    const f = path.join(d, type);
    try {
      if (fs.statSync(f).isFile()) {
        fs.accessSync(f, fs.constants.X_OK);
        return f;
      }
    } catch {
      // not here
    }
  }
  throw new NetfdError(`failed to find plugin "${type}" in path [${dirs.join(' ')}]`, { code: 'ENOENT', errno: -2, field: 'ipam.type', value: type });
}

/** Only root's calls exec an IPAM plugin (ACCESS_DENIED otherwise). */
export function mayDelegate(uid: number, c: CniConfig): void {
  if (c.ipam && uid !== 0)
    throw new NetfdError(`IPAM delegation (ipam.type=${JSON.stringify(c.ipam.type)}) is for root's calls only: the agent would exec a plugin the caller names, as root`, {
      code: 'ACCESS_DENIED',
      field: 'ipam',
      value: c.ipam.type,
    });
}

/** The call's CNI_* variables as the runtime gave them (CNI_COMMAND aside). */
export type RawEnv = Partial<Record<'CNI_CONTAINERID' | 'CNI_NETNS' | 'CNI_IFNAME' | 'CNI_ARGS' | 'CNI_PATH', string>>;

/** Runs the IPAM plugin for `command` (ADD, CHECK, DEL, GC, VERSION) as libcni does, with the same CNI_* variables; its stdout, or its error object as a CniError. */
export async function execIpam(command: 'ADD' | 'CHECK' | 'DEL' | 'GC' | 'VERSION', raw: RawEnv, c: CniConfig, configText: string): Promise<string> {
  const type = (c.ipam as { type: string }).type;
  const file = findPlugin(type, (raw.CNI_PATH ?? '').split(':').filter(Boolean));
  const childEnv: NodeJS.ProcessEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command };
  for (const [k, val] of Object.entries(raw)) if (val !== undefined) childEnv[k] = val;
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const p = spawn(file, [], { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'], timeout: IPAM_TIMEOUT_MS });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    p.stdout.on('data', (b: Buffer) => {
      size += b.length;
      if (size <= MAX_OUTPUT) out.push(b);
      else p.kill('SIGKILL');
    });
    p.stderr.on('data', (b: Buffer) => {
      if (err.length < 64) err.push(b);
    });
    p.on('error', reject);
    p.on('close', (c) => resolve({ code: c, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8').slice(0, 4096) }));
    p.stdin.on('error', () => undefined);
    p.stdin.end(configText);
  });
  if (code === 0) return stdout;
  let e: { code?: unknown; msg?: unknown; details?: unknown } | undefined;
  try {
    e = JSON.parse(stdout) as typeof e;
  } catch {
    // no error object
  }
  if (e && typeof e.code === 'number' && typeof e.msg === 'string') throw new CniError(e.code, `IPAM plugin ${type}: ${e.msg}`, typeof e.details === 'string' ? e.details : undefined);
  throw new CniError(
    CNI_CODES.IO_FAILURE,
    `IPAM plugin ${type} ${code === null ? 'was killed (timeout or too much output)' : `exited ${code}`} without an error object`,
    (stderr || stdout).trim() || undefined,
  );
}

/**
 * GC delegated, as the spec asks of a plugin that delegates IPAM: the IPAM
 * plugin gets the same GC (the configuration with cni.dev/valid-attachments)
 * when its VERSION lists 1.1.0; an older one has no GC (Debian 12's reference
 * plugins speak up to 1.0.0), so it is not called: false.
 */
export async function ipamGc(raw: RawEnv, c: CniConfig, configText: string): Promise<boolean> {
  const type = (c.ipam as { type: string }).type;
  const out = await execIpam('VERSION', raw, c, JSON.stringify({ cniVersion: c.cniVersion }));
  let versions: unknown;
  try {
    versions = (JSON.parse(out) as { supportedVersions?: unknown }).supportedVersions;
  } catch {
    throw new CniError(CNI_CODES.DECODING_FAILURE, `IPAM plugin ${type} answered VERSION without JSON`, out.slice(0, 4096));
  }
  if (!Array.isArray(versions) || !versions.includes('1.1.0')) return false;
  await execIpam('GC', raw, c, configText);
  return true;
}

/** The IPAM plugin's ADD result, its ips pointing at interface `index` of netfd's result (as the reference plugins set them). */
export async function ipamAdd(raw: RawEnv, c: CniConfig, configText: string, index: number): Promise<CniResult> {
  const out = await execIpam('ADD', raw, c, configText);
  let json: unknown;
  try {
    json = JSON.parse(out);
  } catch {
    throw new CniError(CNI_CODES.DECODING_FAILURE, `IPAM plugin ${(c.ipam as { type: string }).type} printed no JSON result`, out.slice(0, 4096));
  }
  const r = readResult(json, 'the IPAM result');
  for (const ip of r.ips) ip.interface = index;
  return r;
}

/** ipam.ConfigureIface for the tap: its addresses, then its routes (a route without gw takes the ips' gateway of its family, as the reference does). */
export async function configureIface(netns: string, ifindex: number, r: CniResult, index: number): Promise<void> {
  const ips = r.ips.filter((ip) => ip.interface === index);
  for (const ip of ips) {
    const [address, prefix] = ip.address.split('/') as [string, string];
    await addAddress(ifindex, { netns, address, prefix: Number(prefix) });
  }
  for (const rt of r.routes) {
    const [dst, prefix] = rt.dst.split('/') as [string, string];
    const v6 = dst.includes(':');
    const gw = rt.gw ?? ips.find((ip) => ip.gateway !== undefined && ip.gateway.includes(':') === v6)?.gateway;
    await addRoute({ netns, address: dst, prefix: Number(prefix), gateway: gw, dev: ifindex, ...(rt.priority !== undefined ? { metric: rt.priority } : {}) });
  }
}
