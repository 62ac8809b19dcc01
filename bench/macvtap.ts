// macvtap create and delete, N links (`--count N`, default 1000) in bridge
// mode on v0, against iproute2:
//   ip_batch_ms_per_link          one `ip -batch` process creating N macvtaps, / N
//   ip_group_delete_ms_per_link   one `ip -batch` moving them to a group and
//                                 deleting the group, / N
//   netfd_create_ms_per_link      createMacvtap() with a few calls in flight
//                                 (as many as the libuv threadpool has threads), / N
//   netfd_create_seq_ms_per_link  createMacvtap() awaited one at a time, / N
//   bulk_delete_ms_per_link       one deleteLinks() of all N, / N (+ bulk_delete_grouped)
//   ip_spawn_ms_per_link          one `ip link add` process per link, over
//                                 min(N, 200) links, / that count
//   event_loop_max_ms             worst event-loop delay while netfd creates
//                                 and bulk-deletes (monitorEventLoopDelay)
// and the ratios create_vs_ip_batch and ip_spawn_vs_create.
import type { Results, Suite } from './harness';
import { log, pool, round, timed, withLoopMonitor } from './harness';
import { ipAsync, ipBatch } from './ip';
import { expectLinks, removeAll, type LinksContext } from './links';

const SPAWN_MAX = 200;

async function ipBatchCreateDelete(ctx: LinksContext, results: Results): Promise<void> {
  const n = ctx.count;
  const names = Array.from({ length: n }, (_, i) => `ipb${i}`);
  log(`ip -batch: creating ${n} macvtaps in one process`);
  const [, addMs] = await timed(() =>
    ipBatch(
      ctx.ns,
      ctx.tmp,
      'ipb-add',
      names.map((name) => `link add link v0 name ${name} type macvtap mode bridge`),
    ),
  );
  await expectLinks(ctx, 'ipb', n);
  log(`ip -batch: ${addMs.toFixed(1)} ms, ${(addMs / n).toFixed(3)} ms/link`);

  log('ip -batch: deleting them (set group 99 each, then delete group 99)');
  const [, delMs] = await timed(() => ipBatch(ctx.ns, ctx.tmp, 'ipb-del', [...names.map((name) => `link set dev ${name} group 99`), 'link del group 99']));
  await expectLinks(ctx, 'ipb', 0);
  log(`ip -batch group delete: ${delMs.toFixed(1)} ms, ${(delMs / n).toFixed(3)} ms/link`);

  results.ip_batch_ms_per_link = round(addMs / n);
  results.ip_group_delete_ms_per_link = round(delMs / n);
}

async function netfdCreateDelete(ctx: LinksContext, results: Results): Promise<void> {
  const { netfd, ns, count: n, poolSize } = ctx;
  const indexes = new Array<number>(n);
  log(`netfd: creating ${n} macvtaps, ${poolSize} in flight`);
  const [[, createMs], createLoopMax] = await withLoopMonitor(() =>
    timed(() =>
      pool(n, poolSize, async (i) => {
        indexes[i] = (await netfd.createMacvtap({ netns: ns, link: 'v0', mode: 'bridge', name: `nfd${i}` })).index;
      }),
    ),
  );
  await expectLinks(ctx, 'nfd', n);
  log(`netfd create: ${createMs.toFixed(1)} ms, ${(createMs / n).toFixed(3)} ms/link, event loop max ${createLoopMax.toFixed(2)} ms`);

  log(`netfd: deleteLinks() of all ${n}`);
  const [[r, deleteMs], deleteLoopMax] = await withLoopMonitor(() => timed(() => netfd.deleteLinks(indexes, { netns: ns })));
  await expectLinks(ctx, 'nfd', 0);
  log(`netfd bulk delete: ${deleteMs.toFixed(1)} ms, ${(deleteMs / n).toFixed(3)} ms/link, deleted ${r.deleted}, grouped ${r.grouped}, event loop max ${deleteLoopMax.toFixed(2)} ms`);

  results.netfd_create_ms_per_link = round(createMs / n);
  results.netfd_create_concurrency = poolSize;
  results.bulk_delete_ms_per_link = round(deleteMs / n);
  results.bulk_delete_grouped = r.grouped;
  results.event_loop_max_create_ms = round(createLoopMax);
  results.event_loop_max_delete_ms = round(deleteLoopMax);
  results.event_loop_max_ms = round(Math.max(createLoopMax, deleteLoopMax));
}

async function netfdCreateSeq(ctx: LinksContext, results: Results): Promise<void> {
  const { netfd, ns, count: n } = ctx;
  log(`netfd: creating ${n} macvtaps, one at a time`);
  const [, ms] = await timed(async () => {
    for (let i = 0; i < n; i++) await netfd.createMacvtap({ netns: ns, link: 'v0', mode: 'bridge', name: `nfs${i}` });
  });
  await expectLinks(ctx, 'nfs', n);
  log(`netfd sequential create: ${ms.toFixed(1)} ms, ${(ms / n).toFixed(3)} ms/link`);
  await removeAll(ctx, 'nfs');
  results.netfd_create_seq_ms_per_link = round(ms / n);
}

async function ipSpawn(ctx: LinksContext, results: Results): Promise<void> {
  const n = Math.min(ctx.count, SPAWN_MAX);
  log(`ip: one process per link, ${n} links`);
  const [, ms] = await timed(async () => {
    for (let i = 0; i < n; i++) await ipAsync(ctx.ns, ['link', 'add', 'link', 'v0', 'name', `ips${i}`, 'type', 'macvtap', 'mode', 'bridge']);
  });
  await expectLinks(ctx, 'ips', n);
  log(`ip spawn: ${ms.toFixed(1)} ms, ${(ms / n).toFixed(3)} ms/link`);
  await removeAll(ctx, 'ips');
  results.ip_spawn_count = n;
  results.ip_spawn_ms_per_link = round(ms / n);
}

export const macvtap: Suite<LinksContext> = {
  name: 'macvtap',
  goals: { create_vs_ip_batch: '<= 1.2', ip_spawn_vs_create: '>= 5', bulk_delete_ms_per_link: '<= 1', event_loop_max_ms: '< 5' },
  ratios: [
    ['create_vs_ip_batch', 'netfd_create_ms_per_link', 'ip_batch_ms_per_link'],
    ['ip_spawn_vs_create', 'ip_spawn_ms_per_link', 'netfd_create_ms_per_link'],
  ],
  async run(ctx, results) {
    await ipBatchCreateDelete(ctx, results);
    await netfdCreateDelete(ctx, results);
    await netfdCreateSeq(ctx, results);
    await ipSpawn(ctx, results);
  },
};
