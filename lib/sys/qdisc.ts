// The root queueing discipline of a link over rtnetlink (RTM_NEWQDISC,
// RTM_GETQDISC). Each function names its tc equivalent.
import { call, invalid } from '../errors';
import { getLink, netnsOf, Target } from './link';
import { native } from './native';
import * as v from '../validate';

/** Root qdisc kinds netfd sets: only ones that take no options. */
export const ROOT_QDISC_KINDS = ['noqueue'] as const;
/** A root qdisc kind netfd sets. */
export type RootQdiscKind = (typeof ROOT_QDISC_KINDS)[number];

/**
 * `tc qdisc replace dev LINK root noqueue`: RTM_NEWQDISC with
 * NLM_F_CREATE|NLM_F_REPLACE, tcm_parent TC_H_ROOT, tcm_handle 0 (the kernel
 * picks one, e.g. 8001:) and TCA_KIND. libvirt puts noqueue on the taps and
 * macvtaps it creates (virNetDevBandwidthSetRootQDisc runs
 * `tc qdisc add dev X root handle 0: noqueue`).
 */
export async function setRootQdisc(link: string | number, kind: RootQdiscKind, t: Target = {}): Promise<void> {
  const ref = v.linkRef(link);
  if (!(ROOT_QDISC_KINDS as readonly unknown[]).includes(kind)) throw invalid('kind', kind, `a root qdisc kind netfd sets: ${ROOT_QDISC_KINDS.join(', ')}`);
  await call(native().setRootQdisc({ netns: netnsOf(t), link: ref, kind }));
}

/** A device's root qdisc, as `tc qdisc show dev X root` shows it. */
export interface QdiscInfo {
  kind: string;
  /** As tc prints it: '8001:' */
  handle: string;
}

const tcHandle = (h: number) => `${(h >>> 16).toString(16)}:${h & 0xffff ? (h & 0xffff).toString(16) : ''}`;

/**
 * `tc qdisc show dev LINK root`: the root qdisc's kind and handle, or null
 * when the kernel reports none (a link that is down has the hidden noop).
 */
export async function getRootQdisc(link: string | number, t: Target = {}): Promise<QdiscInfo | null> {
  const ref = v.linkRef(link);
  const netns = netnsOf(t);
  const index = typeof ref === 'number' ? ref : (await getLink(ref, { netns })).index;
  const root = (await call(native().listQdiscs({ netns }))).find((q) => q.index === index && q.root);
  return root ? { kind: root.kind, handle: tcHandle(root.handle) } : null;
}
