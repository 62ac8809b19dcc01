// The guest section: one guest image (scripts/guest.js), booted under TCG in
// a scratch namespace of its own (netfd-bench-<pid>-xxxx, from
// guest.scratchNetns: bridge br0 whose veth port's peer b1 is 10.0.0.1) with
// one NIC; all packets stay inside that namespace. Suites: throughput, launch.
// Every qemu, netfd CLI and iperf3 started is killed, and the namespace and
// temporary directory removed, at the end, on failure, on SIGINT/SIGTERM and
// on exit.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GuestImage, GuestNet, GuestParams, ConsoleLine } from '../scripts/guest';
import { log, median, msSince, now, round, sleep, type Section } from './harness';
import { guestScripts, netfd, NETFD_BIN, type Netfd } from './netfd';
import { closedOf, endOf, killAndWait, running, tailOf, timeout, type Closed } from './proc';

const GUEST_MAC = '52:54:00:be:00:10';
/**
 * The host side of the bare-qemu tap: fe:, as netfd gives its taps, but not
 * netfd's own fe:54:00:be:00:10 for GUEST_MAC (netfd refuses a MAC already on
 * the bridge).
 */
const BARE_TAP_MAC = 'fe:54:00:be:01:10';
export const BARE_TAP = 'tb0';
export const GUEST_ADDR = '10.0.0.2/24';
export const IPERF3_TIME_S = 4;
const IPERF3_PORT = 5201;
const BOOT_TIMEOUT_MS = 60_000; // spawn -> NETFD-PING-OK (TCG: ~5 s virtio, ~8 s e1000)
const IPERF3_TIMEOUT_MS = IPERF3_TIME_S * 1000 + 30_000; // ping -> NETFD-IPERF3
const POWEROFF_TIMEOUT_MS = 15_000; // last marker -> NETFD-POWEROFF
const EXIT_TIMEOUT_MS = 20_000; // NETFD-POWEROFF -> qemu (and netfd) gone
const SERVER_TIMEOUT_MS = 10_000; // iperf3 -s listening / gone after its one test
/** Console lines that end a run as a failure. */
const GUEST_FAIL = /^NETFD-(PING-FAIL|IP-FAIL|NICS-FAIL|IPERF3-FAIL)/;

type Guest = ReturnType<typeof guestScripts>;
type Console = InstanceType<Guest['Console']>;

/** A process the section started, with how to stop it gracefully and its pids for a SIGKILL. */
interface Tracked {
  label: string;
  pids: () => number[];
  stop: () => Promise<unknown>;
}

/** The guest section's namespace, temporary directory and the processes it started. */
export interface GuestContext {
  netfd: Netfd;
  guest: Guest;
  ns: string;
  net: GuestNet;
  tmp: string;
  stateDir: string;
  img: GuestImage;
  procs: Set<Tracked>;
  /** In-process launchDomain() -> qemu spawned, ms, of every netfd launch so far. */
  prepareSpawnMs: number[];
  /** In-process qemu spawned -> launchDomain() resolved (QMP greeted, query-status up, PCI addresses recorded), ms. */
  spawnReadyMs: number[];
}

function track(g: GuestContext, label: string, pids: () => number[], stop: () => Promise<unknown>): Tracked {
  const entry = { label, pids, stop };
  g.procs.add(entry);
  return entry;
}

async function untrack(g: GuestContext, entry: Tracked): Promise<void> {
  await entry.stop().catch((err: Error) => console.error(`[bench] stopping ${entry.label}: ${err.message}`));
  g.procs.delete(entry);
}

/** Synchronous, for signals and exit: SIGKILL everything, delete the namespace and the directory. */
function removeAll(g: Partial<GuestContext> & { procs: Set<Tracked> }, removeNs: (() => void) | null): void {
  for (const e of g.procs) {
    for (const pid of e.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  g.procs.clear();
  if (removeNs && g.ns) {
    // Anything still inside the namespace is ours (its name is unique to this run).
    const left = spawnSync('ip', ['netns', 'pids', g.ns], { encoding: 'utf8' }).stdout?.split(/\s+/).filter(Boolean) ?? [];
    for (const pid of left) {
      console.error(`[bench] killing process ${pid} left in ${g.ns}`);
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
    removeNs();
    log(`removed namespace ${g.ns}`);
  }
  if (g.tmp) fs.rmSync(g.tmp, { recursive: true, force: true });
}

export const guest: Section<GuestContext> = {
  name: 'guest',
  // The suites' netfd launches measure it (throughput's in-process ones).
  goals: { netfd_prepare_spawn_ms: '< 10' },
  async run(env, runSuites) {
    const t0 = now();
    const partial: Partial<GuestContext> & { procs: Set<Tracked> } = { procs: new Set() };
    let removeNs: (() => void) | null = null;
    let removed = false;
    const remove = () => {
      if (removed) return;
      removed = true;
      removeAll(partial, removeNs);
    };
    env.onCleanup(remove);
    try {
      const guest = guestScripts();
      const img = guest.image();
      if (img.stamp.iperf3 !== 'yes') throw new Error(`the guest image has no iperf3 (stamp iperf3=${img.stamp.iperf3}); rebuild it with scripts/guest-image.sh`);
      if (spawnSync('iperf3', ['--version'], { stdio: 'ignore' }).status !== 0) throw new Error('no iperf3 on this host (apt-get install iperf3)');
      log(`guest: image ${img.stamp.kernel_version ?? '?'} (${img.stamp.boot ?? '?'}) ready in ${(msSince(t0) / 1000).toFixed(1)} s`);
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-bench-guest-'));
      partial.tmp = tmp;
      const stateDir = path.join(tmp, 'state');
      fs.mkdirSync(stateDir);
      const s = guest.scratchNetns('netfd-bench');
      partial.ns = s.ns;
      removeNs = s.remove;
      const ip = (...a: string[]) => execFileSync('ip', ['-n', s.ns, ...a], { stdio: ['ignore', 'ignore', 'pipe'] });
      ip('tuntap', 'add', 'dev', BARE_TAP, 'mode', 'tap', 'vnet_hdr');
      ip('link', 'set', BARE_TAP, 'address', BARE_TAP_MAC, 'master', s.net.bridge, 'up');
      log(`guest: namespace ${s.ns}: bridge ${s.net.bridge}, peer ${s.net.bridgePeerDev} ${s.net.bridgePeer}, bare tap ${BARE_TAP} (vnet_hdr) on ${s.net.bridge}`);
      const g: GuestContext = Object.assign(partial, { netfd: netfd(), guest, ns: s.ns, net: s.net, tmp, stateDir, img, prepareSpawnMs: [], spawnReadyMs: [] });
      try {
        await runSuites(g);
      } finally {
        // Graceful: stops what is still running (netfd tears its domain down).
        for (const e of [...g.procs]) await untrack(g, e);
      }
      if (g.spawnReadyMs.length) {
        env.results.netfd_spawn_ready_ms = round(median(g.spawnReadyMs), 2);
        log(`netfd in-process qemu spawned -> launchDomain() resolved: median ${env.results.netfd_spawn_ready_ms} ms over ${g.spawnReadyMs.length} launches`);
      }
      env.results.guest_section_s = round(msSince(t0) / 1000, 1);
      log(`guest: done in ${env.results.guest_section_s} s`);
    } finally {
      remove();
    }
  },
};

// ---- one boot -------------------------------------------------------------

interface Run {
  con: Console;
  exited: Promise<Closed>;
  entry: Tracked;
  stderr?: () => string;
}

/**
 * Waits for a console line matching re; a GUEST_FAIL line, the end of the
 * console or the timeout fails with the console's last lines (and stderr's).
 */
async function waitMarker(run: Run, re: RegExp, ms: number, label: string): Promise<ConsoleLine> {
  const { con } = run;
  const what = re.source.replace(/^\^/, '').trim();
  const why = (s: string) => {
    const stderr = run.stderr ? run.stderr() : '';
    return new Error(`${label}: ${s}; last console lines:\n${con.tail()}${stderr ? `\nstderr:\n${stderr}` : ''}`);
  };
  const line = await con.wait(new RegExp(`${re.source}|${GUEST_FAIL.source}`), ms).catch(() => {
    throw why(con.ended ? `qemu's console ended before ${what}` : `no ${what} on the guest console within ${ms} ms`);
  });
  if (GUEST_FAIL.test(line.text)) throw why(`the guest reported ${JSON.stringify(line.text)}`);
  return line;
}

/** Whether /proc/PID/net/tcp (PID's namespace) has a listener on 10.0.0.1:port and PID is iperf3 by now. */
function iperf3Listening(pid: number | undefined, port: number): boolean {
  try {
    if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'iperf3') return false; // still `ip netns exec`
    const want = `0100000A:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    return fs
      .readFileSync(`/proc/${pid}/net/tcp`, 'utf8')
      .split('\n')
      .slice(1)
      .some((l) => {
        const f = l.trim().split(/\s+/);
        return f[1] === want && f[3] === '0A';
      });
  } catch {
    return false;
  }
}

/** The argv netfd generates, with the fd netdev replaced by qemu opening BARE_TAP itself. */
function bareArgv(argv: readonly string[]): string[] {
  const at = argv.flatMap((a, i) => (a === '-netdev' ? [i + 1] : []));
  if (at.length !== 1) throw new Error(`expected one -netdev in netfd's argv, got ${at.length}`);
  const m = /^tap,id=([^,]+),fd=\d+,vhost=off$/.exec(argv[at[0]]);
  if (!m) throw new Error(`unexpected -netdev ${argv[at[0]]} (want one queue, vhost off)`);
  const out = [...argv];
  out[at[0]] = `tap,id=${m[1]},ifname=${BARE_TAP},script=no,downscript=no,vhost=off,vnet_hdr=on`;
  return out;
}

/**
 * argv for comparing command lines: the QMP socket as one token (previewDomain's
 * `-qmp unix:PATH,server=on,wait=off`, which launchDomain runs as the socket it
 * made and hands to qemu, `-chardev socket,id=ID,fd=N,server=on,wait=off -mon
 * chardev=ID,mode=control`), and without the monitor launchDomain adds for
 * itself (`-chardev socket,id=MONITOR_ID,fd=N -mon
 * chardev=MONITOR_ID,mode=control`), which previewDomain does not show.
 */
function comparable(argv: readonly string[], monitorId: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const id = argv[i] === '-chardev' ? /^socket,id=([^,]+),/.exec(argv[i + 1] ?? '')?.[1] : undefined;
    if (id !== undefined && argv[i + 2] === '-mon' && argv[i + 3] === `chardev=${id},mode=control`) {
      if (id !== monitorId && /,fd=\d+,server=on,wait=off$/.test(argv[i + 1])) out.push('-qmp-');
      i += 3;
      continue;
    }
    if (argv[i] === '-qmp') {
      out.push('-qmp-');
      i += 1;
      continue;
    }
    out.push(argv[i]);
  }
  return out;
}

/** `ip netns exec NS iperf3 -s -1` on the bridge peer; resolves once it listens. */
async function startIperf3Server(g: GuestContext) {
  const child = spawn('ip', ['netns', 'exec', g.ns, 'iperf3', '-s', '-1', '-B', g.net.bridgePeer, '-p', String(IPERF3_PORT)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const closed = closedOf(child);
  const out = tailOf(child.stdout);
  const err = tailOf(child.stderr);
  const entry = track(
    g,
    'iperf3 server',
    () => (child.pid ? [child.pid] : []),
    () => killAndWait(child, closed),
  );
  const t0 = Date.now();
  while (!iperf3Listening(child.pid, IPERF3_PORT)) {
    if (!running(child)) throw new Error(`iperf3 -s in ${g.ns} exited: ${err() || out() || 'no output'}`);
    if (Date.now() - t0 > SERVER_TIMEOUT_MS) throw new Error(`iperf3 -s in ${g.ns} not listening on ${g.net.bridgePeer}:${IPERF3_PORT} within ${SERVER_TIMEOUT_MS} ms`);
    await sleep(20);
  }
  return { closed, entry, output: () => `${out()}\n${err()}`.trim() };
}

export interface Boot {
  /** Date.now() just before the spawn or launchDomain call. */
  t0: number;
  ping: ConsoleLine;
  iperf: ConsoleLine | null;
  /** netfd only: launchDomain() called -> qemu spawned, ms. */
  prepareSpawnMs: number | null;
}

/**
 * Boots the guest once with one NIC of `model` on br0, started `how`:
 *   'netfd'  launchDomain() in this process (qemu gets netfd's tap fd);
 *   'cli'    `node bin/netfd.js --netns NS --state-dir DIR launch FILE`;
 *   'bare'   `ip netns exec NS qemu-system-x86_64 ...` with netfd's argv for
 *            the same domain but -netdev tap,ifname=tb0 (qemu opens the tap).
 * Waits for NETFD-PING-OK, NETFD-IPERF3 (when params.iperf3), NETFD-POWEROFF
 * and the exit (status 0) of qemu (and the CLI). Always leaves nothing running.
 */
export async function bootGuest(g: GuestContext, { how, model, params, label }: { how: 'netfd' | 'cli' | 'bare'; model: string; params: GuestParams; label: string }): Promise<Boot> {
  const name = `bench-${how}-${model}`;
  const xml = g.guest.domainXml({ name, image: g.img, nics: [{ type: 'bridge', model, mac: GUEST_MAC }], params });
  const server = params.iperf3 === 'client' ? await startIperf3Server(g) : null;
  let run: Run | null = null;
  try {
    let t0: number;
    let prepareSpawnMs: number | null = null;
    if (how === 'netfd') {
      // launchDomain calls child_process.spawn through the module object: note when it spawns qemu.
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the module object itself, to wrap its spawn
      const cp = require('node:child_process') as { spawn: (this: unknown, file: string, ...rest: unknown[]) => ChildProcess };
      const realSpawn = cp.spawn;
      let spawnedAt: bigint | null = null;
      cp.spawn = function spawnSpy(file, ...rest) {
        if (spawnedAt === null && /qemu-system/.test(file)) spawnedAt = now();
        return realSpawn.call(this, file, ...rest);
      };
      const h0 = now();
      t0 = Date.now();
      let l;
      try {
        l = await g.netfd.launchDomain(xml, { netns: g.ns, stateDir: g.stateDir, stdio: 'pipe' });
      } finally {
        cp.spawn = realSpawn;
      }
      if (spawnedAt !== null) {
        prepareSpawnMs = Number((spawnedAt as bigint) - h0) / 1e6;
        g.spawnReadyMs.push(msSince(spawnedAt));
      }
      const launched = l;
      const entry = track(
        g,
        label,
        () => (running(launched.child) ? [launched.pid] : []),
        () => launched.stop(3000),
      );
      run = { con: new g.guest.Console(launched.child.stdout!), exited: launched.exited, entry };
      // The bare runs use previewDomain's argv: it must be what launchDomain ran.
      const p = await g.netfd.previewDomain(xml, { qmp: launched.qmp });
      if (JSON.stringify(comparable(p.argv, g.netfd.MONITOR_ID)) !== JSON.stringify(comparable(launched.argv, g.netfd.MONITOR_ID)))
        throw new Error(`previewDomain's argv differs from launchDomain's:\n  ${JSON.stringify(p.argv)}\n  ${JSON.stringify(launched.argv)}`);
    } else if (how === 'cli') {
      const file = path.join(g.tmp, `${name}.xml`);
      fs.writeFileSync(file, xml);
      const pidFile = path.join(g.stateDir, `${name}.pid`);
      let qemuPid: number | null = null;
      const qemu = () => {
        if (qemuPid === null) {
          try {
            qemuPid = (JSON.parse(fs.readFileSync(pidFile, 'utf8')) as { pid: number }).pid;
          } catch {
            // not launched yet, or gone
          }
        }
        return qemuPid;
      };
      t0 = Date.now();
      const child = spawn(process.execPath, [NETFD_BIN, '--netns', g.ns, '--state-dir', g.stateDir, 'launch', file], { stdio: ['ignore', 'pipe', 'pipe'] });
      const closed = closedOf(child);
      const stderr = tailOf(child.stderr);
      const entry = track(
        g,
        label,
        () => [qemu(), running(child) ? child.pid! : null].filter((p): p is number => !!p),
        async () => {
          qemu();
          await killAndWait(child, closed, 10_000); // netfd stops qemu on SIGTERM and tears down
          if (qemuPid) {
            try {
              process.kill(qemuPid, 'SIGKILL'); // only if netfd could not
            } catch {
              // gone, as it should be
            }
          }
        },
      );
      run = { con: new g.guest.Console(child.stdout), exited: closed, entry, stderr };
    } else {
      const qmp = path.join(g.tmp, `${name}.qmp`);
      const argv = bareArgv((await g.netfd.previewDomain(xml, { qmp })).argv);
      t0 = Date.now();
      const child = spawn('ip', ['netns', 'exec', g.ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
      const closed = closedOf(child);
      const stderr = tailOf(child.stderr, process.stderr);
      const entry = track(
        g,
        label,
        () => (running(child) ? [child.pid!] : []),
        () => killAndWait(child, closed),
      );
      run = { con: new g.guest.Console(child.stdout), exited: closed, entry, stderr };
    }
    const ping = await waitMarker(run, /^NETFD-PING-OK /, BOOT_TIMEOUT_MS, label);
    const iperf = server ? await waitMarker(run, /^NETFD-IPERF3 client /, IPERF3_TIMEOUT_MS, label) : null;
    await waitMarker(run, /^NETFD-POWEROFF/, POWEROFF_TIMEOUT_MS, label);
    const e = await timeout(run.exited, EXIT_TIMEOUT_MS, `${label}: still running after the guest's poweroff`);
    if (e.error || e.code !== 0) throw new Error(`${label}: exited with ${endOf(e)}${run.stderr ? `: ${run.stderr()}` : ''}`);
    if (server) {
      const s = await timeout(server.closed, SERVER_TIMEOUT_MS, `${label}: iperf3 -s -1 still running after the test`);
      if (s.code !== 0) throw new Error(`${label}: iperf3 -s exited with ${s.signal ?? `code ${s.code}`}: ${server.output()}`);
    }
    return { t0, ping, iperf, prepareSpawnMs };
  } finally {
    if (run) await untrack(g, run.entry);
    if (server) await untrack(g, server.entry);
  }
}
