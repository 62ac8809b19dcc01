// A domain's host side, set up and taken down, against the same links made
// by one long-running `ip -batch -`:
//   prepare_teardown_ms_p50/_p99  prepareDomain() + teardown() of a domain with
//                                 4 interfaces (2 macvtap on v0, 2 tap on br0),
//                                 200 cycles (+ prepare_ms_p50, teardown_ms_p50)
//   ip_domain_cycle_ms_p50/_p99   the same 4 links created, configured and
//                                 deleted one by one by ONE long-running
//                                 `ip -batch -` process fed over stdin, per cycle
//   prepare_teardown_leaks        after those cycles: fds left open + links left
//                                 in the namespace + files left in the state dir
// and the ratio prepare_teardown_vs_kernel. The domain's live XML goes to a
// temporary directory.
import fs from 'node:fs';
import path from 'node:path';
import type { Results, Suite } from './harness';
import { interleaved, log, msSince, now, percentile, round, timed } from './harness';
import { ipAsync, IpBatchProcess } from './ip';
import type { LinksContext } from './links';
import { nativeBinding } from './netfd';

const GOALS = { prepare_teardown_vs_kernel: '<= 1.3', prepare_teardown_leaks: '== 0' };
const DOMAIN_CYCLES = 200;
const DOMAIN_WARMUP = 5;
/** A domain with 2 macvtaps on v0 (bridge, vepa) and 2 taps on br0; vhost off. */
const DOMAIN_XML = `<domain type='qemu'>
  <name>bench</name>
  <memory unit='MiB'>256</memory>
  <devices>
    <interface type='direct'><source dev='v0' mode='bridge'/><model type='virtio'/><driver name='qemu'/></interface>
    <interface type='direct'><source dev='v0' mode='vepa'/><model type='virtio'/><driver name='qemu'/></interface>
    <interface type='bridge'><source bridge='br0'/><model type='virtio'/><driver name='qemu'/></interface>
    <interface type='bridge'><source bridge='br0'/><model type='virtio'/><driver name='qemu'/></interface>
  </devices>
</domain>
`;
/** The links the scratch namespace holds between benchmarks. */
const BASE_LINKS = ['lo', 'v0', 'v1', 'br0'];
/**
 * What a user with ip does for the same domain: the taps created (persistent,
 * as `ip tuntap add` makes them), given a host MAC, attached to br0 and up, as
 * netfd does in one request per tap; the macvtaps created with their MAC and
 * set up; then the four deleted one by one.
 */
const IP_DOMAIN_CYCLE = [
  'link add link v0 name ipm0 address 52:54:00:be:00:01 type macvtap mode bridge',
  'link set ipm0 up',
  'link add link v0 name ipm1 address 52:54:00:be:00:02 type macvtap mode vepa',
  'link set ipm1 up',
  'tuntap add mode tap name ipt0 vnet_hdr',
  'link set ipt0 address fe:54:00:be:00:03 master br0 up',
  'tuntap add mode tap name ipt1 vnet_hdr',
  'link set ipt1 address fe:54:00:be:00:04 master br0 up',
  'link del ipm0',
  'link del ipm1',
  'link del ipt0',
  'link del ipt1',
];

/**
 * This process's open fds, number -> target, with the addon's idle netlink
 * sockets closed first (they are kept for reuse, not leaked). The directory
 * handle readdir used is closed by the time of readlink and drops out (ENOENT).
 */
export function openFds(): Map<string, string> {
  nativeBinding().closeNetlinkCache();
  const fds = new Map<string, string>();
  for (const n of fs.readdirSync('/proc/self/fd')) {
    try {
      fds.set(n, fs.readlinkSync(`/proc/self/fd/${n}`));
    } catch {
      // gone meanwhile
    }
  }
  return fds;
}

async function prepareTeardown(ctx: LinksContext, results: Results): Promise<void> {
  const { netfd, ns } = ctx;
  const stateDir = path.join(ctx.tmp, 'state');
  fs.mkdirSync(stateDir);
  // libuv opens /dev/null at a process's first asynchronous spawn and keeps
  // it: spawn one before counting fds, also when this suite runs alone.
  await ipAsync(ns, ['link', 'show', 'dev', 'lo']);
  const fdsBefore = openFds();

  const prepareMs: number[] = [];
  const teardownMs: number[] = [];
  const cycleNetfd = async () => {
    const [p, prepare] = await timed(() => netfd.prepareDomain(DOMAIN_XML, { netns: ns, stateDir }));
    const [, teardown] = await timed(() => p.teardown());
    prepareMs.push(prepare);
    teardownMs.push(teardown);
    return prepare + teardown;
  };

  // Warm-up, untimed; the first cycle also checks what a cycle does.
  log(`domain: ${DOMAIN_WARMUP} warm-up prepare+teardown cycles`);
  {
    const p = await netfd.prepareDomain(DOMAIN_XML, { netns: ns, stateDir });
    const kinds = p.interfaces
      .map((i) => i.kind)
      .sort()
      .join(',');
    const extra = (await netfd.listLinks({ netns: ns })).filter((l) => !BASE_LINKS.includes(l.name)).length;
    const liveXml = fs.existsSync(path.join(stateDir, 'bench.xml'));
    await p.teardown();
    if (kinds !== 'macvtap,macvtap,tap,tap' || extra !== 4 || !liveXml)
      throw new Error(`prepareDomain: expected 2 macvtaps + 2 taps and a live XML, got [${kinds}], ${extra} new links, live XML ${liveXml}`);
    for (let i = 1; i < DOMAIN_WARMUP; i++) await cycleNetfd();
  }

  const ip = new IpBatchProcess(ns);
  const killIp = () => ip.kill();
  process.once('exit', killIp);
  let ms: { netfd: number[]; ip: number[] };
  try {
    const cycleIp = async () => (await timed(() => ip.run(IP_DOMAIN_CYCLE)))[1];
    for (let i = 0; i < DOMAIN_WARMUP; i++) await cycleIp();
    prepareMs.length = teardownMs.length = 0;

    log(`domain: ${DOMAIN_CYCLES} cycles each of netfd prepare+teardown and ip -batch, interleaved`);
    const t0 = now();
    // Alternating which goes first, so neither always follows the other.
    ms = await interleaved(DOMAIN_CYCLES, { netfd: cycleNetfd, ip: cycleIp }, ['netfd', 'ip']);
    log(`domain: ${(msSince(t0) / 1000).toFixed(1)} s`);
  } finally {
    await ip.close();
    process.removeListener('exit', killIp);
  }

  // Leaks: the ip child's pipes are closed now, so any fd not open before is
  // netfd's.
  const leakedFds = [...openFds()].filter(([n, target]) => fdsBefore.get(n) !== target).map(([n, target]) => `${n} -> ${target}`);
  const leakedLinks = (await netfd.listLinks({ netns: ns })).filter((l) => !BASE_LINKS.includes(l.name)).map((l) => l.name);
  const leakedFiles = fs.readdirSync(stateDir);
  const leaks = leakedFds.length + leakedLinks.length + leakedFiles.length;

  const f = (x: number) => x.toFixed(2);
  const p50 = percentile(ms.netfd, 50);
  const ip50 = percentile(ms.ip, 50);
  log(`netfd prepare+teardown: p50 ${f(p50)} ms, p99 ${f(percentile(ms.netfd, 99))} ms (prepare p50 ${f(percentile(prepareMs, 50))} ms, teardown p50 ${f(percentile(teardownMs, 50))} ms)`);
  log(`ip -batch same links: p50 ${f(ip50)} ms, p99 ${f(percentile(ms.ip, 99))} ms; netfd/ip ${(p50 / ip50).toFixed(2)} (goal ${GOALS.prepare_teardown_vs_kernel})`);
  log(`leaks: ${leaks} (goal ${GOALS.prepare_teardown_leaks}): ${leakedFds.length} fds, ${leakedLinks.length} links, ${leakedFiles.length} state files`);
  if (leaks) log(`leaked: ${[...leakedFds, ...leakedLinks.map((l) => `link ${l}`), ...leakedFiles.map((x) => `file ${x}`)].join(', ')}`);

  results.prepare_teardown_cycles = DOMAIN_CYCLES;
  results.prepare_teardown_ms_p50 = round(p50);
  results.prepare_teardown_ms_p99 = round(percentile(ms.netfd, 99));
  results.prepare_ms_p50 = round(percentile(prepareMs, 50));
  results.teardown_ms_p50 = round(percentile(teardownMs, 50));
  results.ip_domain_cycle_ms_p50 = round(ip50);
  results.ip_domain_cycle_ms_p99 = round(percentile(ms.ip, 99));
  results.prepare_teardown_leaks = leaks;
}

export const domain: Suite<LinksContext> = {
  name: 'domain',
  goals: GOALS,
  ratios: [['prepare_teardown_vs_kernel', 'prepare_teardown_ms_p50', 'ip_domain_cycle_ms_p50']],
  run: prepareTeardown,
};
