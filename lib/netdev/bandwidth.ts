// libvirt's <bandwidth> on the tap or macvtap netfd made, as
// virNetDevBandwidthSet sets it: the same tc commands, units and order.
// The shaped direction gets an htb root qdisc (1:) with one class (1:1:
// rate, ceil, burst, quantum), an sfq leaf (2:) and libvirt's fw filter;
// the policed direction an ingress qdisc and a u32 filter matching
// everything with `police … drop`. Rates are libvirt's kilobytes per second,
// written as tc's `kbps` (1000 bytes/s); bursts its kibibytes, as `kb`.
import { NetfdError } from '../errors';
import type { BandwidthPlan } from '../policy';
import { runTc, TcOptions } from '../sys/tc';

/** One tc command and the XML element it applies (null: libvirt ignores its failure). */
export interface TcStep {
  args: string[];
  from: 'inbound' | 'outbound' | null;
}

/**
 * The htb class quantum libvirt gives (virNetDevBandwidthCmdAddOptimalQuantum):
 * the rate in bytes per second over an MTU of 1500, at least 1, so that a
 * slow class does not take htb's default (rate / r2q), which may be tiny.
 */
export const htbQuantum = (average: number): number => Math.max(1, Math.floor((average * 1024) / 8 / 1500));

/** tc stores a policer's burst in bytes in 32 bits: libvirt's default burst (the rate's worth) is capped at UINT_MAX/1024 KiB. */
const MAX_DEFAULT_BURST_KIB = Math.floor(0xffffffff / 1024);

/** The tc commands for `b` on device `dev`, in libvirt's order. Pure. */
export function bandwidthCommands(b: BandwidthPlan, dev: string): TcStep[] {
  // virNetDevBandwidthClear first; its failures (nothing to delete) are ignored.
  const steps: TcStep[] = [
    { args: ['qdisc', 'del', 'dev', dev, 'root'], from: null },
    { args: ['qdisc', 'del', 'dev', dev, 'ingress'], from: null },
  ];
  const e = b.egress;
  if (e) {
    const class11 = ['class', 'add', 'dev', dev, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', `${e.average}kbps`];
    if (e.peak !== undefined) class11.push('ceil', `${e.peak}kbps`);
    if (e.burst !== undefined) class11.push('burst', `${e.burst}kb`);
    class11.push('quantum', String(htbQuantum(e.average)));
    steps.push(
      { args: ['qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'htb', 'default', '1'], from: e.from },
      { args: class11, from: e.from },
      { args: ['qdisc', 'add', 'dev', dev, 'parent', '1:1', 'handle', '2:', 'sfq', 'perturb', '10'], from: e.from },
      { args: ['filter', 'add', 'dev', dev, 'parent', '1:0', 'protocol', 'all', 'prio', '1', 'handle', '1', 'fw', 'flowid', '1'], from: e.from },
    );
  }
  const i = b.ingress;
  if (i) {
    const burst = i.burst ?? Math.min(i.average, MAX_DEFAULT_BURST_KIB);
    steps.push(
      { args: ['qdisc', 'add', 'dev', dev, 'ingress'], from: i.from },
      {
        args: [
          'filter',
          'add',
          'dev',
          dev,
          'parent',
          'ffff:',
          'protocol',
          'all',
          'u32',
          'match',
          'u32',
          '0',
          '0',
          'police',
          'rate',
          `${i.average}kbps`,
          'burst',
          `${burst}kb`,
          'mtu',
          '64kb',
          'drop',
          'flowid',
          ':1',
        ],
        from: i.from,
      },
    );
  }
  return steps;
}

/** What a tc failure most likely means, for the message. */
const KERNEL_HINT = "the kernel may lack a piece libvirt's <bandwidth> uses (sch_htb, sch_sfq, cls_fw, sch_ingress, cls_u32, act_police): load the module, or drop the <bandwidth> direction";

/**
 * Runs the commands of `bandwidthCommands` in the device's namespace. A
 * failing command is the interface's failure (TC_FAILED naming the XML
 * element, with tc's message); the caller undoes the device, and the qdiscs
 * go with it.
 */
export async function setBandwidth(b: BandwidthPlan, dev: string, at: string, o: TcOptions): Promise<void> {
  for (const step of bandwidthCommands(b, dev)) {
    if (step.from === null) {
      await runTc(step.args, o).catch((e: NetfdError) => {
        if (e.code === 'TC_UNAVAILABLE') throw e;
      });
      continue;
    }
    const field = `${at}/bandwidth/${step.from}`;
    await runTc(step.args, o).catch((e: NetfdError) => {
      const hint = e.code === 'TC_FAILED' && /unknown|not found|failed to load/i.test(e.message) ? KERNEL_HINT : e.hint;
      throw new NetfdError(`${field}: ${e.message}`, { code: e.code, field, value: `tc ${step.args.join(' ')}`, cause: e, hint });
    });
  }
}
