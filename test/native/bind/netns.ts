// native/bind/netns.cc through lib/sys/netns.ts: a netlink socket opened once
// inside a namespace and reused by the link wrappers given it as `netns`;
// and the socket cache of the operations without one.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import t from 'tap';
import { native } from '../../../lib/sys/native';
import { NetnsHandle } from '../../../lib/sys/netns';
import { deleteLink, getLink, linkGroups, listLinks, setLink } from '../../../lib/sys/link';
import { needsRoot, openFds } from '../../helpers/host';

const b = native();

t.test('bad arguments are TypeErrors', async (t) => {
  const any = (f: unknown) => f as (...a: unknown[]) => unknown;
  const calls: [string, () => unknown][] = [
    ['openNetnsHandle()', () => any(b.openNetnsHandle)()],
    ['openNetnsHandle netns missing', () => any(b.openNetnsHandle)({})],
    ['openNetnsHandle netns number', () => any(b.openNetnsHandle)({ netns: 3 })],
    ['closeNetnsHandle()', () => any(b.closeNetnsHandle)()],
    ['closeNetnsHandle object', () => any(b.closeNetnsHandle)({})],
    ['getLink handle object', () => any(b.getLink)({ link: 1, handle: {} })],
    ['listLinks handle number', () => any(b.listLinks)({ handle: 5 })],
  ];
  for (const [name, fn] of calls) t.throws(fn, TypeError, name);
});

t.test('namespace errors are Node-style, at open', async (t) => {
  await t.rejects(NetnsHandle.open('/nonexistent/ns'), { code: 'ENOENT', message: /network namespace \/nonexistent\/ns/ });
  await t.rejects(NetnsHandle.open('/dev/null'), { code: 'EINVAL', syscall: 'open', message: /not a namespace file/ });
  await t.rejects(NetnsHandle.open('relative/ns'), { code: 'INVALID_ARGUMENT', field: 'netns' });
});

t.test('a handle is one socket bound to its namespace, reused until closed', { skip: needsRoot }, async (t) => {
  const ns = `netfd-nsh-${process.pid}`;
  const ip = (...a: string[]) => {
    const r = spawnSync('ip', a, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${a.join(' ')}: ${r.stderr}`);
  };
  ip('netns', 'add', ns);
  let named = true;
  t.teardown(() => {
    if (named) spawnSync('ip', ['netns', 'del', ns]);
  });
  ip('-n', ns, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1');
  const before = openFds();
  const h = await NetnsHandle.open(ns);
  t.equal(h.netns, ns);
  t.equal(openFds().length, before.length + 1, 'one socket');

  t.same((await listLinks({ netns: h })).map((l) => l.name).sort(), ['d0', 'd1', 'lo']);
  await setLink('d0', { netns: h, up: true, mtu: 1400 });
  const links = await Promise.all(Array.from({ length: 16 }, () => getLink('d0', { netns: h })));
  t.ok(
    links.every((l) => l.up && l.mtu === 1400),
    'concurrent operations on one handle take turns',
  );
  t.equal(openFds().length, before.length + 1, 'still one socket: no socket per call');

  // The name goes; the socket keeps the namespace: calls by name fail, the handle still works.
  ip('netns', 'del', ns);
  named = false;
  await t.rejects(listLinks({ netns: ns }), { code: 'ENOENT' }, 'by name: gone');
  t.equal((await getLink('d0', { netns: h })).mtu, 1400, 'by handle: the namespace it was opened in');
  await deleteLink('d0', { netns: h });
  await t.rejects(getLink('d0', { netns: h }), { code: 'ENODEV' });

  h.close();
  h.close();
  t.ok(h.closed);
  t.same(openFds(), before, 'closed: no fd left');
  await t.rejects(listLinks({ netns: h }), { code: 'EBADF' }, 'a closed handle');
});

t.test('a closed handle is EBADF in the addon as well', { skip: needsRoot }, async (t) => {
  const raw = await b.openNetnsHandle({ netns: '/proc/self/ns/net' });
  b.closeNetnsHandle(raw);
  b.closeNetnsHandle(raw);
  await t.rejects(b.listLinks({ handle: raw }), { code: 'EBADF', syscall: 'rtnetlink' });
});

t.test('operations without a handle share a socket cache: one idle socket per namespace, by identity, closed when idle', { skip: needsRoot, timeout: 60_000 }, async (t) => {
  const ns = `netfd-nsc-${process.pid}`;
  const ip = (...a: string[]) => {
    const r = spawnSync('ip', a, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${a.join(' ')}: ${r.stderr}`);
  };
  const rawFds = () => fs.readdirSync('/proc/self/fd').length;
  ip('netns', 'add', ns);
  t.teardown(() => {
    b.closeNetlinkCache();
    spawnSync('ip', ['netns', 'del', ns]);
  });
  ip('-n', ns, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1');
  b.closeNetlinkCache();
  const before = rawFds();
  t.equal(b.netlinkCacheSize(), 0, 'empty after closeNetlinkCache');

  for (let i = 0; i < 20; i++) await getLink('d0', { netns: ns });
  t.equal(b.netlinkCacheSize(), 1, 'sequential calls reuse one socket');
  t.equal(rawFds(), before + 1, 'one fd kept');
  await getLink('lo');
  t.equal(b.netlinkCacheSize(), 2, "the process's own namespace has a socket of its own");
  const links = await Promise.all(Array.from({ length: 16 }, () => getLink('d0', { netns: ns })));
  t.ok(
    links.every((l) => l.name === 'd0'),
    'concurrent calls each get a socket in the namespace',
  );
  t.ok(b.netlinkCacheSize() >= 2 && b.netlinkCacheSize() <= 9, `at most 8 idle per namespace (${b.netlinkCacheSize()} in all)`);

  // A failed operation's socket is not kept.
  const n = b.netlinkCacheSize();
  await t.rejects(getLink('nope0', { netns: ns }), { code: 'ENODEV' });
  t.equal(b.netlinkCacheSize(), n - 1, 'the socket of a failed call was closed, not kept');

  // The same name, another namespace: the kept socket is not used for it.
  ip('netns', 'del', ns);
  await t.rejects(listLinks({ netns: ns }), { code: 'ENOENT', message: new RegExp(`network namespace ${ns}`) }, 'by name: gone, whatever is kept');
  ip('netns', 'add', ns);
  t.same(
    (await listLinks({ netns: ns })).map((l) => l.name),
    ['lo'],
    'a namespace made again under the name is a new one',
  );

  t.ok(b.closeNetlinkCache() >= 2, 'closeNetlinkCache says how many it closed');
  t.equal(rawFds(), before, 'and their fds are closed');

  await getLink('lo', { netns: ns });
  t.equal(b.netlinkCacheSize(), 1);
  const t0 = Date.now();
  while (b.netlinkCacheSize() && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 100));
  t.equal(b.netlinkCacheSize(), 0, 'an idle socket is closed by itself after a while');
  t.equal(rawFds(), before, 'no fd kept');
});

t.test('linkGroups: the groups listLinks reports, each once', { skip: needsRoot }, async (t) => {
  const ns = `netfd-nsg-${process.pid}`;
  spawnSync('ip', ['netns', 'add', ns]);
  t.teardown(() => {
    b.closeNetlinkCache();
    spawnSync('ip', ['netns', 'del', ns]);
  });
  spawnSync('ip', ['-n', ns, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
  await setLink('d0', { netns: ns, group: 0x1234567 });
  const groups = await linkGroups({ netns: ns });
  t.same(
    [...groups].sort((x, y) => x - y),
    [0, 0x1234567],
    'the default group and d0s',
  );
  t.same(new Set(groups), new Set((await listLinks({ netns: ns })).map((l) => l.group)), 'as listLinks has them');
  await t.rejects(linkGroups({ netns: '/nonexistent/ns' }), { code: 'ENOENT' });
  t.throws(() => (b.linkGroups as (o: unknown) => unknown)({ netns: 3 }), TypeError);
});
