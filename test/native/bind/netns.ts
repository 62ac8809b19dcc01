// native/bind/netns.cc through lib/sys/netns.ts: a netlink socket opened once
// inside a namespace and reused by the link wrappers given it as `netns`.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { native } from '../../../lib/sys/native';
import { NetnsHandle } from '../../../lib/sys/netns';
import { deleteLink, getLink, listLinks, setLink } from '../../../lib/sys/link';
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
  await t.rejects(NetnsHandle.open('/dev/null'), { code: 'EINVAL', syscall: 'setns' });
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
