// The CNI plugin binary (build/Release/netfd-cni) run as a runtime runs it:
// the CNI_* environment and the configuration on stdin, nothing else; the
// pods (scratch namespaces), configurations and environments of its tests.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { ClientReply, RunningAgent, TestUser, until } from './agent';
import { addNetns, fdTable, ip, removeNetns, scratchDir } from './host';
import { asUser, readablePath } from './readable';

/** The plugin binary node-gyp builds. */
export const PLUGIN = path.join(__dirname, '..', '..', 'build', 'Release', 'netfd-cni');

/** Why the plugin cannot be run here, or false. */
export const noPlugin: string | false = fs.existsSync(PLUGIN) ? false : `${PLUGIN} is not built (npx node-gyp rebuild)`;

export interface PluginRun {
  /** Exit status. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout as JSON, or undefined when empty. */
  json: Record<string, unknown> | undefined;
}

/** The environment of a call: exactly the CNI_* variables given (and NETFD_AGENT_SOCKET when set), as libcni builds it. */
export type PluginEnv = Partial<Record<'CNI_COMMAND' | 'CNI_CONTAINERID' | 'CNI_NETNS' | 'CNI_IFNAME' | 'CNI_ARGS' | 'CNI_PATH' | 'NETFD_AGENT_SOCKET', string>>;

/** The reference plugins of Debian's containernetworking-plugins. */
export const REFERENCE = '/usr/lib/cni';

/** Why the reference plugins cannot be chained here, or false. */
export const noReference: string | false = ['static', 'tuning'].every((p) => fs.existsSync(path.join(REFERENCE, p)))
  ? false
  : `${REFERENCE}/static and tuning are not installed (apt-get install containernetworking-plugins)`;

/** Execs the plugin with `env` and `stdin` (asynchronously: a fake agent in this process keeps answering); `as` runs a copy of it as another user (inside namespace `as.ns` when given: ip netns exec, then setpriv), `binary` another plugin (a reference one). */
export function runPlugin(env: PluginEnv, stdin: string, o: { timeoutMs?: number; binary?: string; as?: { uid: number; gid: number; binary: string; ns?: string } } = {}): Promise<PluginRun> {
  return new Promise((resolve, reject) => {
    const clean: Record<string, string> = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
    for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
    const inNs = o.as?.ns;
    const p = inNs
      ? spawn('ip', ['netns', 'exec', inNs, 'setpriv', `--reuid=${o.as?.uid}`, `--regid=${o.as?.gid}`, '--clear-groups', o.as?.binary as string], { env: clean, stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(o.as?.binary ?? o.binary ?? PLUGIN, [], { env: clean, stdio: ['pipe', 'pipe', 'pipe'], ...(o.as ? { uid: o.as.uid, gid: o.as.gid } : {}) });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), o.timeoutMs ?? 30_000);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      let json: Record<string, unknown> | undefined;
      if (stdout.trim() !== '') {
        try {
          json = JSON.parse(stdout) as Record<string, unknown>;
        } catch {
          json = undefined;
        }
      }
      resolve({ code, stdout, stderr, json });
    });
    p.stdin.on('error', () => undefined);
    p.stdin.end(stdin);
  });
}

let pods = 0;

/** A container's namespace for the body, removed after it (also when it fails), unless the body removed it. */
export async function withPod<T>(t: Test, host: string, body: (pod: string, netns: string) => Promise<T>): Promise<T> {
  const pod = `${host}-pod${++pods}`;
  addNetns(pod, { veth: false });
  t.teardown(() => removeNetns(pod, { allowFail: true }));
  try {
    return await body(pod, `/run/netns/${pod}`);
  } finally {
    removeNetns(pod, { allowFail: true });
  }
}

/** The agent's CNI records, every caller's ("UID/FILE"). */
export const records = (a: RunningAgent): string[] => {
  const dir = path.join(a.stateDir, 'cni');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .flatMap((uid) => fs.readdirSync(path.join(dir, uid)).map((f) => `${uid}/${f}`))
    .sort();
};

/** The agent's open fds (targets), without the ones that come and go with a request. */
export const agentFds = (a: RunningAgent): string[] =>
  fdTable(a.proc.pid as number)
    .map(([fd, target]) => `${fd} ${target}`)
    .sort();

/**
 * The agent holds no fd it did not hold at `before` (agentFds), once its idle
 * netlink sockets closed (within 5 s). One open at `before` that closed since
 * is no leak: a cached socket idles out on its own time.
 */
export async function noNewAgentFds(t: Test, a: RunningAgent, before: readonly string[]): Promise<void> {
  const added = () => agentFds(a).filter((f) => !before.includes(f));
  await until("the agent's idle netlink sockets closed", () => added().length === 0, 5000).catch(() => undefined);
  t.same(added(), [], 'the agent holds no fd it did not hold before');
}

/** A netfd configuration of network vmnet (type='ethernet' unless `extra` says otherwise). */
export const config = (cniVersion: string, extra: Record<string, unknown> = {}) => JSON.stringify({ cniVersion, name: 'vmnet', type: 'netfd', ...extra });

/** The environment of a call on attachment (id, ifname) in `netns`. */
export const envOf = (a: RunningAgent, command: string, id: string, netns?: string, ifname = 'net1'): PluginEnv => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: id,
  CNI_NETNS: netns,
  CNI_IFNAME: ifname,
  CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default',
  NETFD_AGENT_SOCKET: a.socket,
});

/** What test/helpers/cni-claim.js reports. */
export type Claimed = ClientReply & { wrote?: number; read?: string | null };

/** The launcher's claim (test/helpers/cni-claim.js) as `user` (null: root) inside namespace `ns`, or in the test's own with null; resolves with its report. It writes `frame` (hex; by default a broadcast IPv4 header that is no valid packet); with `onClaimed` (run once it wrote it) it also reads an ARP frame. */
export async function claimAs(
  user: TestUser | null,
  ns: string | null,
  socket: string,
  id: string,
  ifname: string,
  onClaimed?: () => void,
  frame = `ffffffffffff02000000000108004500001c000100004001${'00'.repeat(30)}`,
): Promise<Claimed> {
  const argv = [process.execPath, user ? readablePath('test', 'helpers', 'cni-claim.js') : path.join(__dirname, 'cni-claim.js'), socket, id, ifname, frame, onClaimed ? '0806' : '-'];
  const u = user ? asUser(user, argv) : { file: argv[0] as string, args: argv.slice(1), options: {} };
  const [file, args] = ns === null ? [u.file, u.args] : ['ip', ['netns', 'exec', ns, u.file, ...u.args]];
  const proc = spawn(file, args, { ...u.options, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let claimed = false;
  const killer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
  proc.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    if (!claimed && out.includes('CLAIMED\n')) {
      claimed = true;
      onClaimed?.();
    }
  });
  const code = await new Promise((r) => proc.once('close', r));
  clearTimeout(killer);
  const last = out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  if (code !== 0 || !last) throw new Error(`cni-claim exited ${String(code)}: ${out}${err}`);
  return JSON.parse(last) as Claimed;
}

/** Packets `dev` in namespace `ns` received. */
export const rxPackets = (ns: string, dev = 'net1'): number => (JSON.parse(ip(['-n', ns, '-j', '-s', 'link', 'show', dev])) as { stats64: { rx: { packets: number } } }[])[0].stats64.rx.packets;

/** `n` containers' namespaces for the body (their names), removed after it, also when it or their setup fails. */
export async function withPods<T>(t: Test, host: string, n: number, body: (pods: string[]) => Promise<T>): Promise<T> {
  const made: string[] = [];
  const removeAll = () => {
    for (const pod of made.splice(0)) removeNetns(pod, { allowFail: true });
  };
  t.teardown(removeAll);
  try {
    for (let i = 0; i < n; i++) {
      const pod = `${host}-pod${++pods}`;
      addNetns(pod, { veth: false });
      made.push(pod);
    }
    return await body([...made]);
  } finally {
    removeAll();
  }
}

/**
 * The agent's test hold (lib/agent/cni-device.ts testHold): NETFD_TEST_CNI_HOLD
 * names a scratch file for the agents this test starts (restored at its
 * end); the returned function writes the step to hold at ('' for none).
 */
export function cniHold(t: Test): (step: string) => void {
  const file = path.join(scratchDir(t, 'netfd-cni-hold-'), 'step');
  const before = process.env.NETFD_TEST_CNI_HOLD;
  process.env.NETFD_TEST_CNI_HOLD = file;
  t.teardown(() => {
    if (before === undefined) delete process.env.NETFD_TEST_CNI_HOLD;
    else process.env.NETFD_TEST_CNI_HOLD = before;
  });
  return (step) => fs.writeFileSync(file, step);
}
