// The CNI plugin binary (build/Release/netfd-cni) run as a runtime runs it:
// the CNI_* environment and the configuration on stdin, nothing else.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

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

/** Execs the plugin with `env` and `stdin` (asynchronously: a fake agent in this process keeps answering); `as` runs a copy of it as another user, `binary` another plugin (a reference one). */
export function runPlugin(env: PluginEnv, stdin: string, o: { timeoutMs?: number; binary?: string; as?: { uid: number; gid: number; binary: string } } = {}): Promise<PluginRun> {
  return new Promise((resolve, reject) => {
    const clean: Record<string, string> = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
    for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
    const p = spawn(o.as?.binary ?? o.binary ?? PLUGIN, [], { env: clean, stdio: ['pipe', 'pipe', 'pipe'], ...(o.as ? { uid: o.as.uid, gid: o.as.gid } : {}) });
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
