// `npm run bench [-- SECTION|SUITE ...] [--count N]`: netfd against the
// tools a user would otherwise run (iproute2, bare qemu, qemu-bridge-helper,
// ls), section by section; progress on stdout, the LAST line one JSON object
// of the figures. Sections and their suites (one file each):
//   cli       coldstart (`netfd list` with nothing running vs `node -e 0`)
//   links     macvtap (create/delete vs ip, ip -batch), domain (prepare +
//             teardown vs one long-running ip -batch -), fleet (100 domains
//             prepared at once and torn down in one batch vs ip -batch)
//   networks  pool (allocate/release over a <pf> pool, PF expansion vs ls)
//   guest     throughput (iperf3 through netfd's tap fd vs bare qemu's own
//             tap), launch (netfd launch vs bare qemu, spawn to first ping)
//   agent     clients (100 at once vs ip -batch), tap (one tap fd vs
//             qemu-bridge-helper), fairness (hello under another user's flood),
//             cni (a macvtap ADD+DEL through netfd's CNI plugin vs the
//             reference macvlan plugin)
// Naming a section runs its suites; naming a suite runs it alone, in its
// section's context. The harness is harness.ts; each suite's file says what
// its figures mean.
//
// SAFETY: the host's own interfaces are never touched. Everything happens in
// scratch network namespaces made for the run (test/helpers/host.ts for links
// and agent, scripts/guest.js for the guest) and temporary directories,
// removed in a `finally`, on SIGINT/SIGTERM and on exit, also when a suite
// fails.
//
// Adding a suite: a file exporting a Suite<Context> (its name, goals, derived
// ratios and a run(ctx, results) that puts its figures into results), listed
// with its section below.
import { agent } from './agent';
import { cli, coldstart } from './cli';
import { clients } from './clients';
import { cni } from './cni';
import { domain } from './domain';
import { fairness } from './fairness';
import { fleet } from './fleet';
import { guest } from './guest';
import { main, section } from './harness';
import { launch } from './launch';
import { links } from './links';
import { macvtap } from './macvtap';
import { networks, pool } from './pool';
import { tap } from './tap';
import { throughput } from './throughput';

main([section(cli, [coldstart]), section(links, [macvtap, domain, fleet]), section(networks, [pool]), section(guest, [throughput, launch]), section(agent, [clients, tap, fairness, cni])]);
