// The links section: its suites (macvtap, domain) share one scratch network
// namespace (netfd-bench-<pid>: veth v0/v1 and bridge br0, all up, made and
// removed by the tests' namespace helper) and a temporary directory, removed
// in a `finally`, on SIGINT/SIGTERM and on exit, also when a suite fails.
import { log, msSince, now, scratch, type Section } from './harness';
import { netfd, type Netfd } from './netfd';

export interface LinksContext {
  ns: string;
  /** A temporary directory of this section's. */
  tmp: string;
  /** N: links per create/delete figure (`--count`). */
  count: number;
  netfd: Netfd;
  /** Calls in flight for the concurrent create: the libuv threadpool's size. */
  poolSize: number;
}

export const links: Section<LinksContext> = {
  name: 'links',
  async run(env, runSuites) {
    const lib = netfd();
    const s = scratch(env, `netfd-bench-${process.pid}`);
    try {
      const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
      // Warm-up, untimed: loads the addon and opens the namespace once.
      const w = await lib.createMacvtap({ netns: s.ns, link: 'v0', mode: 'bridge', name: 'warm0' });
      await lib.deleteLink(w.index, { netns: s.ns });
      const t0 = now();
      await runSuites({ ns: s.ns, tmp: s.tmp, count: env.count, netfd: lib, poolSize });
      log(`links: done in ${(msSince(t0) / 1000).toFixed(1)} s`);
    } finally {
      s.remove();
    }
  },
};

/** Indexes of the links in the namespace whose names start with prefix. */
export async function linksNamed(ctx: LinksContext, prefix: string): Promise<number[]> {
  return (await ctx.netfd.listLinks({ netns: ctx.ns })).filter((l) => l.name.startsWith(prefix)).map((l) => l.index);
}

export async function expectLinks(ctx: LinksContext, prefix: string, count: number): Promise<void> {
  const found = (await linksNamed(ctx, prefix)).length;
  if (found !== count) throw new Error(`expected ${count} links named ${prefix}*, found ${found}`);
}

export async function removeAll(ctx: LinksContext, prefix: string): Promise<void> {
  const indexes = await linksNamed(ctx, prefix);
  if (indexes.length) await ctx.netfd.deleteLinks(indexes, { netns: ctx.ns });
  await expectLinks(ctx, prefix, 0);
}
