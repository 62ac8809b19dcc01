// Guest -> peer TCP through netfd's tap fd against bare qemu opening its own
// tap (iperf3 client in the guest, `iperf3 -s -1` on b1), virtio-net:
//   tap_netfd_mbps / tap_bare_mbps   through netfd's tap fd (launchDomain) /
//                                 with qemu opening its own pre-created tap tb0
//                                 on br0 (`ip netns exec NS qemu ... -netdev
//                                 tap,ifname=tb0,...`, otherwise netfd's argv);
//                                 medians of alternating runs
//   tap_throughput_parity         their ratio
//   e1000_netfd_mbps, virtio_vs_e1000_ratio   the same through netfd with e1000
//   netfd_prepare_spawn_ms        in-process: launchDomain() called -> qemu
//                                 spawned (prepare + argv), median
// NETFD_BENCH_THROUGHPUT_ROUNDS (3) rounds, each netfd virtio, bare virtio,
// netfd e1000.
import type { ConsoleLine } from '../scripts/guest';
import { bootGuest, GUEST_ADDR, IPERF3_TIME_S, type GuestContext } from './guest';
import type { Results, Suite } from './harness';
import { envCount, log, median, msSince, now, rotation, round } from './harness';

const GOALS = { tap_throughput_parity: '>= 0.95' };

/** Mbit/s the peer received, from `NETFD-IPERF3 client PEER sender=XMbit/s receiver=YMbit/s`. */
function receiverMbps(line: ConsoleLine): number {
  const m = / receiver=([0-9.]+)Mbit\/s/.exec(line.text);
  if (!m) throw new Error(`cannot parse ${JSON.stringify(line.text)}`);
  return Number(m[1]);
}

const KINDS = {
  netfd: { how: 'netfd', model: 'virtio', what: 'virtio, netfd tap fd' },
  bare: { how: 'bare', model: 'virtio', what: 'virtio, qemu opens tb0' },
  e1000: { how: 'netfd', model: 'e1000', what: 'e1000, netfd tap fd' },
} as const;

async function guestThroughput(g: GuestContext, results: Results): Promise<void> {
  const rounds = envCount('NETFD_BENCH_THROUGHPUT_ROUNDS', 3);
  const params = { ip0: GUEST_ADDR, peer0: g.net.bridgePeer, ping0: 1, iperf3: 'client', iperf3_time: IPERF3_TIME_S };
  const mbps = { netfd: [] as number[], bare: [] as number[], e1000: [] as number[] };
  log(`guest throughput: ${rounds} rounds of (netfd virtio, bare qemu virtio, netfd e1000), iperf3 ${IPERF3_TIME_S} s guest -> ${g.net.bridgePeer}`);
  const t0 = now();
  for (let r = 0; r < rounds; r++) {
    // netfd and bare alternate which goes first; e1000 comes last.
    for (const key of [...rotation(r, ['netfd', 'bare'] as const), 'e1000' as const]) {
      const k = KINDS[key];
      const label = `round ${r + 1}/${rounds} ${k.what}`;
      const run = await bootGuest(g, { how: k.how, model: k.model, params, label });
      const x = receiverMbps(run.iperf!);
      mbps[key].push(x);
      if (run.prepareSpawnMs !== null) g.prepareSpawnMs.push(run.prepareSpawnMs);
      log(`guest ${label}: ${x.toFixed(0)} Mbit/s (${run.iperf!.text.replace(/^NETFD-IPERF3 client \S+ /, '')}), ping after ${((run.ping.at - run.t0) / 1000).toFixed(1)} s`);
    }
  }
  const med = { netfd: median(mbps.netfd), bare: median(mbps.bare), e1000: median(mbps.e1000) };
  log(
    `guest throughput (${(msSince(t0) / 1000).toFixed(1)} s): medians netfd ${med.netfd.toFixed(0)}, bare qemu ${med.bare.toFixed(0)}, e1000 ${med.e1000.toFixed(0)} Mbit/s; ` +
      `parity ${(med.netfd / med.bare).toFixed(3)} (goal ${GOALS.tap_throughput_parity}); virtio/e1000 ${(med.netfd / med.e1000).toFixed(2)}`,
  );
  results.guest_iperf3_time_s = IPERF3_TIME_S;
  results.tap_netfd_mbps = round(med.netfd, 1);
  results.tap_bare_mbps = round(med.bare, 1);
  results.e1000_netfd_mbps = round(med.e1000, 1);
  results.tap_netfd_mbps_runs = mbps.netfd;
  results.tap_bare_mbps_runs = mbps.bare;
  results.e1000_netfd_mbps_runs = mbps.e1000;
  if (g.prepareSpawnMs.length) {
    results.netfd_prepare_spawn_ms = round(median(g.prepareSpawnMs), 2);
    log(`netfd in-process launchDomain() -> qemu spawned: median ${results.netfd_prepare_spawn_ms} ms over ${g.prepareSpawnMs.length} launches`);
  }
}

export const throughput: Suite<GuestContext> = {
  name: 'throughput',
  goals: GOALS,
  ratios: [
    ['tap_throughput_parity', 'tap_netfd_mbps', 'tap_bare_mbps'],
    ['virtio_vs_e1000_ratio', 'tap_netfd_mbps', 'e1000_netfd_mbps'],
  ],
  run: guestThroughput,
};
