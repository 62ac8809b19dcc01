// Launch time: `netfd launch` (the CLI; qemu's console comes through its
// stdout) against bare qemu with its own tap tb0, from the spawn to the
// guest's NETFD-PING-OK console line; medians of NETFD_BENCH_LAUNCH_PAIRS (5)
// alternating pairs:
//   launch_netfd_cli_ms / launch_bare_qemu_ms, launch_overhead_ms = the
//   difference (launch_overhead_preboot_ms: the same with the guest's own
//   uptime at the ping subtracted, which removes most boot noise)
import { bootGuest, BARE_TAP, GUEST_ADDR, type GuestContext } from './guest';
import type { Results, Suite } from './harness';
import { envCount, log, median, msSince, now, rotation, round } from './harness';

const GOALS = { launch_overhead_ms: '< 150', launch_overhead_preboot_ms: '< 150' };

async function guestLaunch(g: GuestContext, results: Results): Promise<void> {
  const pairs = envCount('NETFD_BENCH_LAUNCH_PAIRS', 5);
  const params = { ip0: GUEST_ADDR, peer0: g.net.bridgePeer, ping0: 1 };
  const ms = { cli: [] as number[], bare: [] as number[] };
  const preboot = { cli: [] as number[], bare: [] as number[] };
  log(`guest launch: ${pairs} pairs of \`netfd launch\` (CLI) and bare qemu with ${BARE_TAP}, spawn -> NETFD-PING-OK`);
  const t0 = now();
  for (let i = 0; i < pairs; i++) {
    for (const how of rotation(i, ['cli', 'bare'] as const)) {
      const label = `launch ${i + 1}/${pairs} ${how === 'cli' ? 'netfd launch' : 'bare qemu'}`;
      const run = await bootGuest(g, { how, model: 'virtio', params, label });
      const total = run.ping.at - run.t0;
      const m = / t=([0-9.]+)/.exec(run.ping.text);
      const uptime = m ? Number(m[1]) * 1000 : NaN;
      ms[how].push(total);
      preboot[how].push(total - uptime);
      log(`guest ${label}: ping after ${total} ms (guest uptime ${Number.isFinite(uptime) ? uptime.toFixed(0) : '?'} ms)`);
    }
  }
  const d = median(ms.cli) - median(ms.bare);
  const dPre = median(preboot.cli) - median(preboot.bare);
  log(
    `guest launch (${(msSince(t0) / 1000).toFixed(1)} s): medians netfd launch ${median(ms.cli).toFixed(0)} ms, bare qemu ${median(ms.bare).toFixed(0)} ms; ` +
      `overhead ${d.toFixed(0)} ms (goal ${GOALS.launch_overhead_ms}); without the guest's own boot time ${dPre.toFixed(0)} ms (goal ${GOALS.launch_overhead_preboot_ms})`,
  );
  results.launch_netfd_cli_ms = round(median(ms.cli), 1);
  results.launch_bare_qemu_ms = round(median(ms.bare), 1);
  results.launch_netfd_cli_ms_runs = ms.cli;
  results.launch_bare_qemu_ms_runs = ms.bare;
  results.launch_preboot_netfd_cli_ms = round(median(preboot.cli), 1);
  results.launch_preboot_bare_qemu_ms = round(median(preboot.bare), 1);
  results.launch_overhead_note =
    'netfd launch CLI (node startup included; qemu console through its stdout) vs ip netns exec qemu with its own tap; spawn to NETFD-PING-OK; medians of alternating runs';
}

export const launch: Suite<GuestContext> = {
  name: 'launch',
  goals: GOALS,
  diffs: [
    ['launch_overhead_ms', 'launch_netfd_cli_ms', 'launch_bare_qemu_ms'],
    ['launch_overhead_preboot_ms', 'launch_preboot_netfd_cli_ms', 'launch_preboot_bare_qemu_ms'],
  ],
  run: guestLaunch,
};
