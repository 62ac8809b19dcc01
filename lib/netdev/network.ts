// Domains meet networks here: each <interface type='network'> gets a device
// of its network's pool before the host is touched, and gives it back when
// the interface goes (teardown, detach, or a failed setup). The networks'
// store itself (`Networks`, ./networks.ts) is loaded only when a domain has
// such an interface.
import { NetfdError, suppress } from '../errors';
import type { Target } from '../sys/link';
import type { NetworkOptions } from '../network/store';
import type { ActualDirect, InterfaceDef } from '../xml/domain';
import type { Networks } from './networks';

/**
 * The networks (./networks.ts), loaded when a domain first uses one: most
 * domains use none, and loading the store with its parsers and ledger took
 * a `netfd launch` about 20 ms of its start (README, "Launch").
 */
export function networksFor(o: NetworkOptions): Networks {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use (see above)
  const { Networks: Store } = require('./networks') as typeof import('./networks');
  return new Store(o);
}

export interface ConnectOptions extends NetworkOptions, Target {
  /** The directory holding the domain's live XML (default: the state directory). */
  scope?: string;
  /** The link group the domain's devices are created in (recorded with each connection). */
  group?: number;
  /** Where warnings go (a reclaimed connection, a VF without netdev...); default process.emitWarning. */
  onWarning?: (message: string) => void;
}

const warn = (o: ConnectOptions, warnings: readonly string[]) => {
  for (const w of warnings) (o.onWarning ?? ((m: string) => process.emitWarning(m, 'NetfdWarning')))(w);
};

/** The ones of `ifaces` that use a network, with the MAC each uses. */
type NetworkIface = Pick<InterfaceDef, 'type' | 'source'> & { mac?: string; path?: string };

/**
 * A pool device for every type='network' interface of `ifaces` (by
 * position; undefined for the others), each recorded in its network's
 * ledger. If one allocation fails, those made are released and it throws.
 */
export async function allocateFor(
  domain: string,
  ifaces: readonly NetworkIface[],
  macs: readonly string[],
  o: ConnectOptions,
): Promise<{ actuals: (ActualDirect | undefined)[]; release: () => Promise<void> }> {
  const actuals: (ActualDirect | undefined)[] = ifaces.map(() => undefined);
  const taken: { network: string; mac: string }[] = [];
  const release = () =>
    releaseFor(
      domain,
      taken.map((t) => ({ type: 'network' as const, source: { network: t.network }, mac: t.mac })),
      o,
    );
  if (!ifaces.some((i) => i.type === 'network')) return { actuals, release };
  const networks = networksFor(o);
  try {
    for (const [n, i] of ifaces.entries()) {
      if (i.type !== 'network') continue;
      const network = i.source.network as string;
      const a = await networks.allocate(network, { domain, scope: o.scope, mac: macs[n], netns: o.netns, group: o.group }).catch((e: NetfdError) => {
        throw e instanceof NetfdError && e.field === 'network' && i.path
          ? new NetfdError(`${i.path}/source/@network: ${e.message}`, { code: e.code, field: `${i.path}/source/@network`, value: network })
          : e;
      });
      taken.push({ network, mac: macs[n] });
      warn(o, a.warnings);
      actuals[n] = { dev: a.dev, mode: a.mode };
    }
  } catch (err) {
    await release().catch((e) => {
      suppress(err, e, 'releasing the devices taken');
    });
    throw err;
  }
  return { actuals, release };
}

/** Ends the network connections of `ifaces` (those with type='network' and a MAC). */
export async function releaseFor(domain: string, ifaces: readonly NetworkIface[], o: ConnectOptions): Promise<void> {
  const mine = ifaces.filter((i) => i.type === 'network' && i.source.network && i.mac);
  if (!mine.length) return;
  const networks = networksFor(o);
  let first: unknown;
  for (const i of mine) {
    try {
      warn(o, (await networks.release(i.source.network as string, { domain, scope: o.scope, mac: i.mac as string })).warnings);
    } catch (e) {
      first ??= e;
    }
  }
  if (first) throw first;
}
