// macvtap on real devices, each test in a fresh namespace with veth peers.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { createMacvtap, Macvtap, MacvtapFds } from '../../lib/sys/macvtap';
import { deleteLink, deleteLinks, getLink, listLinks, setLink, attachToBridge, detachFromBridge } from '../../lib/sys/link';
import { ip, ipLink, needsRoot, run, withNetns } from '../helpers/host';

t.test('macvtap in all four modes matches ip -d -j link show', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const v0mac = ipLink(ns, 'v0').address;
    for (const [mode, kernelMode] of [
      ['vepa', 'vepa'],
      ['bridge', 'bridge'],
      ['private', 'private'],
      ['passthrough', 'passthru'],
    ]) {
      const mac = mode === 'passthrough' ? undefined : '52:54:00:00:00:' + String(kernelMode.length).padStart(2, '0');
      const l = await createMacvtap({ netns: ns, link: 'v0', mode, name: `mvt-${kernelMode}`, mac });
      const seen = ipLink(ns, l.name);
      t.equal(seen.linkinfo?.info_kind, 'macvtap', `${mode}: kind`);
      t.equal(seen.linkinfo?.info_data?.mode, kernelMode, `${mode}: mode`);
      t.equal(seen.link, 'v0', `${mode}: parent`);
      t.equal(seen.address, mac ?? v0mac, `${mode}: MAC${mac ? '' : " (passthru takes the parent's)"}`);
      t.equal(l.mode, kernelMode, 'reported mode');
      t.equal(l.kind, 'macvtap');
      await deleteLink(l.name, { netns: ns });
    }
  });
});

t.test('name templates, errors with errno, extack and the host unchanged', { skip: needsRoot }, async (t) => {
  await withNetns(
    t,
    async (ns) => {
      const a = await createMacvtap({ netns: ns, link: 'v0', mode: 'bridge' });
      const b = await createMacvtap({ netns: ns, link: 'v0', mode: 'bridge', template: 'mvt%d' });
      t.equal(a.name, 'macvtap0', 'default template macvtap%d');
      t.equal(b.name, 'mvt0');
      await t.rejects(createMacvtap({ netns: ns, link: 'v0', mode: 'bridge', name: 'mvt0' }), { code: 'EEXIST', errno: -17, syscall: 'rtnetlink', message: /mvt0.*File exists/ });
      await t.rejects(createMacvtap({ netns: ns, link: 'nosuch', mode: 'bridge' }), { code: 'ENODEV', message: /nosuch/ });
      await t.rejects(setLink('br0', { netns: ns, master: 'br0' }), { code: 'ELOOP', extack: 'Can not enslave a bridge to a bridge', message: /kernel: Can not enslave/ });
      const names = () => ip(['-n', ns, '-o', 'link', 'show']).split('\n').length;
      const before = names();
      await t.rejects(createMacvtap({ netns: ns, link: 'v0', mode: 'bridge', name: 'bad name' }), { code: 'INVALID_ARGUMENT' });
      t.equal(names(), before, 'bad input leaves the namespace as it was');
      await deleteLinks([a.index, b.index], { netns: ns });
    },
    { bridge: true },
  );
});

t.test('link up/down, MAC, bridge attach and detach', { skip: needsRoot }, async (t) => {
  await withNetns(
    t,
    async (ns) => {
      const l = await createMacvtap({ netns: ns, link: 'v0', mode: 'vepa', name: 'mvt0' });
      await setLink('mvt0', { netns: ns, up: true });
      t.ok(ipLink(ns, 'mvt0').flags.includes('UP'), 'up');
      t.ok((await getLink('mvt0', { netns: ns })).up);
      await setLink(l.index, { netns: ns, up: false, mac: '52:54:00:aa:bb:cc' });
      t.notOk(ipLink(ns, 'mvt0').flags.includes('UP'), 'down');
      t.equal(ipLink(ns, 'mvt0').address, '52:54:00:aa:bb:cc', 'MAC set');
      await attachToBridge('v1', 'br0', { netns: ns });
      t.equal(ipLink(ns, 'v1').master, 'br0', 'attached');
      t.equal((await getLink('v1', { netns: ns })).master, (await getLink('br0', { netns: ns })).index);
      await detachFromBridge('v1', { netns: ns });
      t.equal(ipLink(ns, 'v1').master, undefined, 'detached');
      const all = await listLinks({ netns: ns });
      t.same(all.map((x) => x.name).sort(), ['br0', 'lo', 'mvt0', 'v0', 'v1']);
    },
    { bridge: true },
  );
});

t.test('many links are deleted together; gone ones count as deleted', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const made = [];
    for (let i = 0; i < 20; i++) made.push(await createMacvtap({ netns: ns, link: 'v0', mode: 'bridge', name: `m${i}` }));
    await deleteLink('m3', { netns: ns });
    const r = await deleteLinks(
      made.map((l) => l.index),
      { netns: ns },
    );
    t.same(r, { deleted: 20, grouped: true });
    t.same((await listLinks({ netns: ns })).map((l) => l.name).sort(), ['lo', 'v0', 'v1']);
    // A link the kernel will not delete (loopback): the error names it and the
    // other link is still deleted... one by one after the group attempt.
    const m = await createMacvtap({ netns: ns, link: 'v0', mode: 'bridge', name: 'keep' });
    await t.rejects(deleteLinks([m.index, 1], { netns: ns }), { code: 'EOPNOTSUPP', message: /link index 1/ });
    t.equal(ipLink(ns, 'lo').group, 'default', 'loopback back in its old group');
    t.same(await deleteLinks([], { netns: ns }), { deleted: 0, grouped: false });
  });
});

t.test('deleteLinks via a group: the links are moved into it (where a killed caller finds them), never with a link not deleted', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const groupOf = (name: string) => Number(ipLink(ns, name).group);
    // Two "domains": a1, a2 in group 0x1000001, b1 in 0x1000002, and c1 in 0x1000003 kept.
    const a1 = await createMacvtap({ netns: ns, link: 'v0', mode: 'bridge', name: 'a1', group: 0x1000001 });
    const a2 = await createMacvtap({ netns: ns, link: 'v0', mode: 'bridge', name: 'a2', group: 0x1000001 });
    const b1 = await createMacvtap({ netns: ns, link: 'v0', mode: 'bridge', name: 'b1', group: 0x1000002 });
    const c1 = await createMacvtap({ netns: ns, link: 'v0', mode: 'bridge', name: 'c1', group: 0x1000003 });
    t.equal(groupOf('a1'), 0x1000001, 'ip reports the group made');

    // A group holding a link not among those deleted is refused, nothing changed.
    await t.rejects(deleteLinks([a1.index, b1.index], { netns: ns, via: 0x1000003 }), { code: 'EBUSY', message: /c1.*not to be deleted/ });
    t.same([groupOf('a1'), groupOf('b1'), groupOf('c1')], [0x1000001, 0x1000002, 0x1000003], 'no link moved');
    await t.rejects(deleteLinks([a1.index, b1.index], { netns: ns, via: 0 }), { code: 'INVALID_ARGUMENT', field: 'via' });

    // Paused between the move and the delete (the window a SIGKILL can hit): every link is in `via`.
    const pause = `/tmp/netfd-pause-${process.pid}`;
    fs.writeFileSync(pause, '');
    const { spawn } = await import('node:child_process');
    const child = spawn(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'sys', 'link.js'))}).deleteLinks([${a1.index}, ${a2.index}, ${b1.index}], { netns: ${JSON.stringify(ns)}, via: 0x1000001 })`,
      ],
      {
        env: { ...process.env, NETFD_TEST_DELETE_LINKS_PAUSE: pause },
        stdio: 'ignore',
      },
    );
    try {
      for (let i = 0; i < 500 && groupOf('b1') !== 0x1000001; i++) await new Promise((r) => setTimeout(r, 20));
      t.same([groupOf('a1'), groupOf('a2'), groupOf('b1'), groupOf('c1')], [0x1000001, 0x1000001, 0x1000001, 0x1000003], "b1 moved into a's group; a's links stay");
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    } finally {
      fs.rmSync(pause, { force: true });
    }
    // What a restarted caller does: delete a's group (a1 a2 b1 go with it).
    const again = await deleteLinks([a1.index, a2.index, b1.index], { netns: ns, via: 0x1000001 });
    t.same(again, { deleted: 3, grouped: true });
    t.same((await listLinks({ netns: ns })).map((l) => l.name).sort(), ['c1', 'lo', 'v0', 'v1'], 'c1 alone is left');
    await deleteLink(c1.index, { netns: ns });
  });
});

// Two namespaces, each with a macvtap of the same ifindex: /dev/tap<ifindex>
// belongs to the first. Opening the second must reach the second device.
t.test('the macvtap char device is the right one when ifindexes collide', { skip: needsRoot }, async (t) => {
  await withNetns(t, (a) =>
    withNetns(t, async (b) => {
      ip(['-n', a, 'link', 'add', 'link', 'v0', 'name', 'mvt0', 'index', '77', 'type', 'macvtap', 'mode', 'bridge']);
      ip(['-n', b, 'link', 'add', 'link', 'v0', 'name', 'mvt0', 'index', '77', 'type', 'macvtap', 'mode', 'bridge']);
      const devOf = (ns: string) => run('ip', ['netns', 'exec', ns, 'cat', '/sys/class/net/mvt0/macvtap/tap77/dev']).trim();
      const [da, db] = [devOf(a), devOf(b)];
      t.not(da, db, 'two different char devices');
      const rdev = (fd: number) => {
        const st = fs.fstatSync(fd);
        return `${Math.floor(st.rdev / 256) & 0xfff}:${(st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00)}`;
      };
      const fa = await MacvtapFds.open('mvt0', { netns: a });
      const fb = await MacvtapFds.open(77, { netns: b, queues: 2 });
      t.equal(rdev(fa.fds[0]), da, 'namespace a: its own device');
      t.equal(fb.fds.length, 2, 'two queues');
      for (const fd of fb.fds) t.equal(rdev(fd), db, "namespace b: its own device, not /dev/tap77's");
      t.equal(fb.node, null, 'b used a private node');
      t.ok(
        fb.fds.every((fd) => fs.readlinkSync(`/proc/self/fd/${fd}`) !== '/dev/tap77'),
        'not the shared node',
      );
      t.notOk(fs.existsSync('/sys/tap77'), 'the private node lived only in a private mount');
      fa.close();
      fb.close();
      await t.rejects(MacvtapFds.open('v0', { netns: a }), { code: 'EINVAL', message: /v0 is a veth, not a macvtap/ });
    }),
  );
});

t.test('Macvtap.create opens queues and destroy removes the link', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const m = await Macvtap.create({ netns: ns, link: 'v0', mode: 'bridge', queues: 4, mac: '52:54:00:01:02:03' });
    t.equal(m.fds.length, 4);
    t.equal(ipLink(ns, m.name).address, '52:54:00:01:02:03');
    await m.destroy();
    t.throws(() => ipLink(ns, m.name), 'link removed');
    t.equal(m.fds.length, 0, 'fds closed');
  });
});

t.test('into: a macvtap made in another namespace on a parent in this one, never existing here', { skip: needsRoot }, async (t) => {
  await withNetns(t, (host) =>
    withNetns(t, async (pod) => {
      const hostLinks = () => (JSON.parse(ip(['-n', host, '-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname).sort();
      const before = hostLinks();
      // Both namespaces have v0 and v1 at the same ifindexes: the new device's is picked in the pod.
      const l = await createMacvtap({ netns: host, link: 'v0', mode: 'private', name: 'net1', into: pod, mac: '52:54:00:ab:cd:ef' });
      t.match(l, { name: 'net1', kind: 'macvtap', mode: 'private', mac: '52:54:00:ab:cd:ef' }, 'what the pod sees');
      const seen = ipLink(pod, 'net1');
      t.equal(seen.ifindex, l.index, "its ifindex is the pod's");
      t.equal(seen.linkinfo?.info_kind, 'macvtap');
      t.same(hostLinks(), before, 'nothing new in the parent’s namespace');
      const fds = await MacvtapFds.open(l.index, { netns: pod, queues: 2 });
      t.equal(fds.name, 'net1', 'its character device opens in the pod, by ifindex');
      t.equal(fds.fds.length, 2);
      fds.close();

      await t.rejects(createMacvtap({ netns: host, link: 'v0', mode: 'bridge', name: 'net1', into: pod }), { code: 'EEXIST', message: /in network namespace/ }, 'the name is taken there');
      // The kernel compares MACs as a macvtap goes up (macvlan_open), with the up siblings, in whatever namespace.
      await setLink('net1', { netns: pod, up: true });
      const twin = await createMacvtap({ netns: host, link: 'v0', mode: 'bridge', name: 'net2', into: pod, mac: '52:54:00:ab:cd:ef' });
      await t.rejects(setLink(twin.index, { netns: pod, up: true }), { code: 'EADDRINUSE' }, "a sibling's MAC is refused as it goes up");
      await deleteLink(twin.index, { netns: pod });
      await t.rejects(createMacvtap({ netns: host, link: 'v0', mode: 'bridge', template: 'mv%d', into: pod }), { code: 'INVALID_ARGUMENT', field: 'name' }, 'a template is refused');
      await t.rejects(createMacvtap({ netns: host, link: 'nonesuch', mode: 'bridge', name: 'net2', into: pod }), { code: 'ENODEV' }, 'the parent is looked up where the request runs');
      await t.rejects(createMacvtap({ netns: host, link: 'v0', mode: 'bridge', name: 'net2', into: `${pod}-gone` }), { code: 'ENOENT', message: /network namespace/ });
      t.same((JSON.parse(ip(['-n', pod, '-j', 'link', 'show'])) as { ifname: string }[]).map((x) => x.ifname).sort(), ['lo', 'net1', 'v0', 'v1'], 'the refusals made nothing');
      await deleteLink('net1', { netns: pod });
    }),
  );
});
