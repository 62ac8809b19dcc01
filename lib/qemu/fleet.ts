// Launching several domains at once: their interfaces prepared together
// (prepareDomains: one transaction for the fleet), then one qemu per domain
// started on its fds, all at the same time. All or nothing: when a qemu
// fails to start, the others are stopped and every domain is torn down.
import { suppress } from '../errors';
import { teardownHosts } from '../netdev/fleet';
import { stateDir } from '../state/dirs';
import type { DomainXml } from '../xml/domain';
import { prepareDomains } from './domain';
import { launchDomain, LaunchedDomain, LaunchOptions } from './launch';

/** Options of {@link launchDomains}: those of launchDomain, for every domain, and the fleet's prepare concurrency. */
export interface FleetLaunchOptions extends Omit<LaunchOptions, 'macs' | 'afterStep'> {
  /** How many domains have their devices made at the same time (see prepareDomains). */
  concurrency?: number | undefined;
}

/**
 * Launches several domains: their interfaces prepared at once (see
 * `prepareDomains`), then a qemu per domain, all started together, each
 * supervised as `launchDomain` does it (torn down when its qemu exits).
 * Resolves once every qemu is up, in the order of `inputs`. When anything
 * fails, every qemu started is stopped, every domain torn down, and the
 * first error (its message starting with `domain NAME: `) is thrown.
 */
export async function launchDomains(inputs: readonly (string | DomainXml)[], o: FleetLaunchOptions = {}): Promise<LaunchedDomain[]> {
  const follow = (o.macvtapLinks ?? 'follow') === 'follow';
  const dir = stateDir(o.stateDir);
  const domains = await prepareDomains(inputs, { ...o, stateDir: dir, macvtapsDown: follow });
  const started = await Promise.allSettled(domains.map((d) => launchDomain(d, { ...o, stateDir: dir })));
  const failures = started.flatMap((r, n) => (r.status === 'rejected' ? [{ name: domains[n].name, err: r.reason as unknown }] : []));
  if (!failures.length) return started.map((r) => (r as PromiseFulfilledResult<LaunchedDomain>).value);
  // A domain whose qemu failed is torn down already (launchDomain's own rollback).
  const up = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const errors: unknown[] = [];
  await Promise.all(up.map((l) => l.stop().catch((e) => errors.push(e))));
  await teardownHosts(domains).catch((e) => errors.push(e));
  const [first, ...others] = failures.map((f) => {
    if (f.err instanceof Error && !f.err.message.startsWith(`domain ${f.name}: `)) f.err.message = `domain ${f.name}: ${f.err.message}`;
    return f.err;
  });
  for (const e of [...others, ...errors]) suppress(first, e, 'stopping the fleet');
  throw first;
}
