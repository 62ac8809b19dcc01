// prepareDomain on real devices: every interface type, the driver policy with
// the real (absent) vhost-net and a stand-in device, a failure injected after
// every step, real failures, and name templates raced by two processes. Each
// test runs in its own namespace with veth peers and a bridge.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { Test } from 'tap';
import { STEPS } from '../../lib/netdev/connect';
import { teardownHosts } from '../../lib/netdev/fleet';
import { teardownFromLive } from '../../lib/netdev/teardown';
import { prepareDomain, prepareDomains } from '../../lib/qemu/domain';
import { DomainXml } from '../../lib/xml/domain';
import { ip, ipLink, ipLinks, needsRoot, openFds, withNetns } from '../helpers/host';

const domain = (ifaces: string, name = 'guest') => `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>128</memory>
  <devices>
${ifaces}
  </devices>
</domain>
`;

function tmpDir(t: Test, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Links of a namespace with what a rollback must restore: name, kind, MAC, master, up. */
function snapshot(ns: string): string[] {
  return ipLinks(ns)
    .map((l) => `${l.ifname} ${l.linkinfo?.info_kind ?? '-'} ${l.address} ${l.master ?? '-'} ${l.flags.includes('UP') ? 'up' : 'down'}`)
    .sort();
}

/** A vhost-net stand-in: a 0600 node with /dev/null's numbers (opens read-write). */
function vhostStandIn(t: Test): string {
  const dir = tmpDir(t, 'netfd-vhost-');
  const p = path.join(dir, 'vhost-net');
  const r = spawnSync('mknod', ['-m', '0600', p, 'c', '1', '3']);
  if (r.status !== 0) throw new Error(`mknod: ${r.stderr}`);
  return p;
}

const FOUR = `    <interface type='ethernet'><mac address='52:54:00:00:01:01'/><model type='virtio'/></interface>
    <interface type='bridge'><mac address='52:54:00:00:01:02'/><source bridge='br0'/><model type='e1000'/><driver name='qemu' queues='4'/></interface>
    <interface type='direct'><mac address='52:54:00:00:01:03'/><source dev='v0' mode='bridge'/><model type='virtio'/><driver queues='2'/></interface>
    <interface type='direct'><mac address='52:54:00:00:01:04'/><source dev='v1' mode='passthrough'/><model type='virtio'/><driver name='qemu'/></interface>
    <interface type='ethernet'><target dev='mine0' managed='no'/><model type='virtio'/><driver name='qemu'/></interface>`;

t.test('a domain with every interface kind: devices, fds, live XML, teardown', { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t, 'netfd-state-');
  await withNetns(
    t,
    async (ns) => {
      ip(['-n', ns, 'tuntap', 'add', 'mode', 'tap', 'name', 'mine0', 'vnet_hdr']);
      const v1mac = ipLink(ns, 'v1').address;
      const before = snapshot(ns);
      const text = domain(FOUR);
      const p = await prepareDomain(text, { netns: ns, stateDir });

      t.equal(p.interfaces.length, 5);
      const [eth, br, dir, pt, mine] = p.interfaces;
      t.match(eth, { kind: 'tap', name: 'vnet0', created: true, decision: { vhost: false, record: 'qemu' } }, 'ethernet: a tap from vnet%d; vhost-net absent here, so userspace');
      t.match(br, { kind: 'tap', name: 'vnet1', created: true, decision: { vhost: false, record: null } }, 'bridge: e1000 records no driver');
      t.match(dir, { kind: 'macvtap', name: 'macvtap0', created: true, decision: { vhost: false, record: 'qemu' } });
      t.match(pt, { kind: 'macvtap', name: 'macvtap1', created: true });
      t.match(mine, { kind: 'tap', name: 'mine0', created: false });
      t.same(
        p.interfaces.map((i) => i.fds.fds.length),
        [1, 1, 2, 1, 1],
        'queue fds: non-virtio drops queues; virtio queues=2 gives 2',
      );
      t.same(
        p.interfaces.map((i) => i.vhostFds.fds.length),
        [0, 0, 0, 0, 0],
        'no vhost fds',
      );

      const vnet0 = ipLink(ns, 'vnet0');
      t.equal(vnet0.address, 'fe:54:00:00:01:01', 'tap host side: guest MAC with first byte fe');
      t.ok(vnet0.flags.includes('UP'), 'tap up');
      t.equal(vnet0.linkinfo?.info_data?.vnet_hdr, true, 'virtio tap has vnet_hdr');
      t.equal(vnet0.master, undefined, 'ethernet tap is on no bridge');
      const vnet1 = ipLink(ns, 'vnet1');
      t.equal(vnet1.master, 'br0', 'bridge tap attached to br0');
      t.equal(vnet1.linkinfo?.info_data?.vnet_hdr, false, 'e1000 tap has no vnet_hdr');
      const m0 = ipLink(ns, 'macvtap0');
      t.match(m0, { link: 'v0', address: '52:54:00:00:01:03', linkinfo: { info_kind: 'macvtap', info_data: { mode: 'bridge' } } }, 'macvtap gets the guest MAC');
      t.ok(m0.flags.includes('UP'), 'macvtap up');
      const m1 = ipLink(ns, 'macvtap1');
      t.match(m1, { link: 'v1', address: '52:54:00:00:01:04', linkinfo: { info_data: { mode: 'passthru' } } }, 'passthrough macvtap gets the guest MAC');
      t.equal(ipLink(ns, 'v1').address, '52:54:00:00:01:04', 'passthrough: the parent carries the guest MAC while the guest runs');

      t.equal(fs.readFileSync(p.statePath, 'utf8'), p.liveXml, 'live XML written to the state dir');
      t.equal(p.statePath, path.join(stateDir, 'guest.xml'));
      t.equal(p.xml.text, text, 'config XML is exactly what was given');
      const live = DomainXml.parse(p.liveXml, { live: true }).def.interfaces;
      t.same(
        live.map((i) => i.target?.dev),
        ['vnet0', 'vnet1', 'macvtap0', 'macvtap1', 'mine0'],
        'live XML records target devs',
      );
      t.same(
        live.map((i) => i.driver?.name ?? null),
        ['qemu', null, 'qemu', 'qemu', 'qemu'],
        'live XML records the driver choice',
      );
      t.equal(live[1].driver, undefined, 'non-virtio: <driver> dropped with its name and queues');
      const mineMac = live[4].mac;
      t.match(mineMac, /^52:54:00:/, 'generated MAC recorded');

      const argv = p.argv({ qmp: '/tmp/x.qmp' });
      t.same(
        argv.filter((_, i) => argv[i - 1] === '-netdev'),
        ['tap,id=hostnet0,fd=3,vhost=off', 'tap,id=hostnet1,fd=4,vhost=off', 'tap,id=hostnet2,fds=5:6,vhost=off', 'tap,id=hostnet3,fd=7,vhost=off', 'tap,id=hostnet4,fd=8,vhost=off'],
      );
      t.equal(p.qemuFds().length, 6, 'qemuFds lists the fds in argv order');

      await p.teardown();
      await p.teardown(); // twice is harmless
      t.same(snapshot(ns), before, 'teardown removed what setup created and nothing else (v1 MAC restored)');
      t.equal(ipLink(ns, 'v1').address, v1mac);
      t.equal(ipLink(ns, 'mine0').linkinfo?.info_data?.persist, true, "managed='no' tap left as it was");
      t.notOk(fs.existsSync(p.statePath), 'live XML removed');
    },
    { bridge: true },
  );
});

t.test('a failure after every step of setup leaves no link, fd or file behind', { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t, 'netfd-state-');
  await withNetns(
    t,
    async (ns) => {
      ip(['-n', ns, 'tuntap', 'add', 'mode', 'tap', 'name', 'mine0', 'vnet_hdr']);
      const before = snapshot(ns);
      const fdsBefore = openFds();
      let cases = 0;
      for (const step of STEPS) {
        for (const iface of step === 'state' ? [-1] : [0, 1, 2, 3, 4]) {
          const boom = new Error(`injected after ${step} of ${iface}`);
          await t.rejects(
            prepareDomain(domain(FOUR), {
              netns: ns,
              stateDir,
              afterStep: (s, i) => {
                if (s === step && i === iface) throw boom;
              },
            }),
            boom,
            `failure after ${step} (interface ${iface}) is reported`,
          );
          t.same(snapshot(ns), before, `after ${step}/${iface}: links as before`);
          t.same(openFds(), fdsBefore, `after ${step}/${iface}: no fd left open`);
          t.same(fs.readdirSync(stateDir), [], `after ${step}/${iface}: no state file`);
          cases++;
        }
      }
      t.equal(cases, 21, 'every step of every interface was tried');
    },
    { bridge: true },
  );
});

t.test('real failures at setup are refused cleanly and name the field', { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t, 'netfd-state-');
  await withNetns(
    t,
    async (ns) => {
      ip(['-n', ns, 'link', 'add', 'vx0', 'type', 'veth', 'peer', 'name', 'vx1']);
      ip(['-n', ns, 'link', 'set', 'vx0', 'address', '52:54:00:00:02:02', 'master', 'br0']);
      ip(['-n', ns, 'link', 'add', 'link', 'v0', 'name', 'other0', 'address', '52:54:00:00:02:03', 'type', 'macvlan', 'mode', 'bridge']);
      ip(['-n', ns, 'link', 'add', 'taken0', 'type', 'veth', 'peer', 'name', 'taken1']);
      const before = snapshot(ns);
      const fdsBefore = openFds();
      const ok = `<interface type='bridge'><source bridge='br0'/><model type='virtio'/></interface>\n`;
      const cases: [string, string, { code: string; field?: string; value?: string; message?: RegExp }][] = [
        ['missing bridge', `<interface type='bridge'><source bridge='nobr'/></interface>`, { code: 'ENODEV', field: '/domain/devices/interface[2]/source/@bridge', value: 'nobr' }],
        ['bridge that is not a bridge', `<interface type='bridge'><source bridge='v1'/></interface>`, { code: 'INVALID_ARGUMENT', value: 'v1', message: /not a bridge/ }],
        ['missing macvtap parent', `<interface type='direct'><source dev='nodev'/></interface>`, { code: 'ENODEV', field: '/domain/devices/interface[2]/source/@dev' }],
        ['MAC already on the bridge', `<interface type='bridge'><mac address='52:54:00:00:02:02'/><source bridge='br0'/></interface>`, { code: 'EADDRINUSE', message: /vx0 on bridge br0/ }],
        ['MAC already on the macvtap parent', `<interface type='direct'><mac address='52:54:00:00:02:03'/><source dev='v0'/></interface>`, { code: 'EADDRINUSE', message: /other0 on v0/ }],
        ['passthrough on a parent in use', `<interface type='direct'><source dev='v0' mode='passthrough'/></interface>`, { code: 'EBUSY', message: /other0/ }],
        ['exact target name taken', `<interface type='ethernet'><target dev='taken0'/></interface>`, { code: 'EEXIST', field: '/domain/devices/interface[2]/target/@dev' }],
        ["managed='no' device missing", `<interface type='ethernet'><target dev='gone0' managed='no'/></interface>`, { code: 'ENODEV' }],
        ["managed='no' device not a tap", `<interface type='ethernet'><target dev='taken0' managed='no'/></interface>`, { code: 'INVALID_ARGUMENT', message: /taken0 is a veth/ }],
        [
          "name='vhost' without vhost-net",
          `<interface type='ethernet'><model type='virtio'/><driver name='vhost'/></interface>`,
          { code: 'VHOST_UNAVAILABLE', field: '/domain/devices/interface[2]/driver/@name' },
        ],
        ["name='vhost' on e1000", `<interface type='ethernet'><model type='e1000'/><driver name='vhost'/></interface>`, { code: 'INVALID_ARGUMENT', message: /needs a virtio model/ }],
        [
          'undefined network',
          `<interface type='network'><source network='default'/></interface>`,
          { code: 'ENOENT', field: '/domain/devices/interface[2]/source/@network', message: /no network named 'default'/ },
        ],
      ];
      for (const [what, iface, expected] of cases) {
        await t.rejects(prepareDomain(domain(ok + iface), { netns: ns, stateDir, configDir: path.join(stateDir, 'no-networks'), vhostDevice: '/nonexistent/vhost-net' }), expected, what);
        t.same(snapshot(ns), before, `${what}: links as before`);
        t.same(openFds(), fdsBefore, `${what}: no fd left open`);
        t.same(fs.readdirSync(stateDir), [], `${what}: no state file`);
      }

      // A state directory that cannot be written: fails at the last step.
      const file = path.join(stateDir, 'not-a-dir');
      fs.writeFileSync(file, '');
      await t.rejects(prepareDomain(domain(ok), { netns: ns, stateDir: file }), { code: 'ENOTDIR' }, 'state dir is a file: ENOTDIR');
      t.same(snapshot(ns), before, 'unwritable state dir: links as before');
      fs.rmSync(file);

      // The same domain twice: refused before anything is created.
      const p = await prepareDomain(domain(ok), { netns: ns, stateDir });
      const during = snapshot(ns);
      await t.rejects(prepareDomain(domain(ok), { netns: ns, stateDir }), { code: 'EEXIST', message: /already prepared/ });
      t.same(snapshot(ns), during, 'second prepare changed nothing');
      await p.teardown();
      t.same(snapshot(ns), before);
    },
    { bridge: true },
  );
});

t.test('a generated MAC a link already has (as its MAC, or as the host MAC its tap would get) is drawn again, never refused', { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t, 'netfd-state-');
  await withNetns(
    t,
    async (ns) => {
      // On br0: a port with 52:54:00:00:02:02 (a guest MAC) and one with fe:54:00:00:03:03 (a tap's host MAC).
      for (const [dev, mac] of [
        ['vx0', '52:54:00:00:02:02'],
        ['vy0', 'fe:54:00:00:03:03'],
      ]) {
        ip(['-n', ns, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev.slice(0, 2)}1`]);
        ip(['-n', ns, 'link', 'set', dev, 'address', mac, 'master', 'br0']);
      }
      const before = snapshot(ns);
      // The random source draws the taken ones first: 52:54:00:00:02:02, then 52:54:00:00:03:03, then 52:54:00:00:04:04.
      const draws = () => {
        const queue = [
          [0, 2, 2],
          [0, 3, 3],
          [0, 4, 4],
          [0, 5, 5],
        ];
        return () => Uint8Array.from(queue.shift() ?? [0, 6, 6]);
      };
      const bridge = `<interface type='bridge'><source bridge='br0'/></interface>\n`;
      const p = await prepareDomain(domain(bridge), { netns: ns, stateDir, random: draws() });
      t.equal(p.interfaces[0].plan.mac, '52:54:00:00:04:04', 'prepareDomain: the first free draw');
      t.equal(ipLink(ns, p.interfaces[0].name).address, 'fe:54:00:00:04:04', "and its tap's host MAC");
      await p.teardown();

      const [a, b] = await prepareDomains([domain(bridge, 'fa'), domain(bridge, 'fb')], { netns: ns, stateDir, random: draws() });
      t.same([a.interfaces[0].plan.mac, b.interfaces[0].plan.mac], ['52:54:00:00:04:04', '52:54:00:00:05:05'], 'prepareDomains: the free draws, one each');
      await teardownHosts([a, b]);
      t.same(snapshot(ns), before, 'the namespace as before');
      t.same(fs.readdirSync(stateDir), [], 'no state file');
    },
    { bridge: true },
  );
});

t.test('driver policy with a vhost-net stand-in (this host has no /dev/vhost-net)', { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t, 'netfd-state-');
  const standIn = vhostStandIn(t);
  await withNetns(t, async (ns) => {
    const before = snapshot(ns);
    // A KVM guest: without KVM vhost-net is never opened (see the policy tests).
    const xml = domain(`    <interface type='ethernet'><model type='virtio'/><driver name='vhost' queues='2'/></interface>
    <interface type='ethernet'><model type='virtio'/></interface>
    <interface type='ethernet'><model type='virtio'/><driver name='qemu'/></interface>
    <interface type='ethernet'><model type='virtio'/><backend vhost='/nonexistent/vhost-net'/></interface>`).replace("type='qemu'", "type='kvm'");
    const p = await prepareDomain(xml, { netns: ns, stateDir, vhostDevice: standIn });
    t.same(
      p.interfaces.map((i) => i.decision),
      [
        { vhost: true, record: 'vhost' },
        { vhost: true, record: 'vhost' },
        { vhost: false, record: 'qemu' },
        { vhost: false, record: 'qemu' },
      ],
      'vhost / omitted+usable / qemu / omitted with a <backend vhost> that is missing',
    );
    t.same(
      p.interfaces.map((i) => i.vhostFds.fds.length),
      [2, 1, 0, 0],
      'one vhost fd per queue, none for userspace',
    );
    const netdevs = p.argv().filter((_, i, all) => all[i - 1] === '-netdev');
    t.same(netdevs, ['tap,id=hostnet0,fds=3:4,vhost=on,vhostfds=5:6', 'tap,id=hostnet1,fd=7,vhost=on,vhostfd=8', 'tap,id=hostnet2,fd=9,vhost=off', 'tap,id=hostnet3,fd=10,vhost=off']);
    t.same(
      DomainXml.parse(p.liveXml, { live: true }).def.interfaces.map((i) => i.driver?.name),
      ['vhost', 'vhost', 'qemu', 'qemu'],
      'live XML records the choice',
    );
    await p.teardown();
    t.same(snapshot(ns), before);

    // The real device of this host: name='vhost' refuses, omitted falls back.
    if (!fs.existsSync('/dev/vhost-net')) {
      await t.rejects(prepareDomain(xml, { netns: ns, stateDir }), { code: 'VHOST_UNAVAILABLE', message: /ENOENT/ });
      await t.rejects(
        prepareDomain(xml.replace("type='kvm'", "type='qemu'"), { netns: ns, stateDir, vhostDevice: standIn }),
        { code: 'VHOST_UNAVAILABLE', message: /runs without KVM/ },
        'without KVM, not even the stand-in is opened',
      );
      t.same(snapshot(ns), before, 'refused with nothing left behind');
    }
  });
});

t.test('teardown from the live XML alone deletes only what netfd created', { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t, 'netfd-state-');
  await withNetns(
    t,
    async (ns) => {
      ip(['-n', ns, 'tuntap', 'add', 'mode', 'tap', 'name', 'mine0']);
      const before = snapshot(ns);
      const p = await prepareDomain(domain(FOUR), { netns: ns, stateDir });
      p.closeFds(); // as if netfd had exited: non-persistent taps go with their fds
      // Replace one device by an impostor of the same name: it must survive.
      ip(['-n', ns, 'link', 'add', 'vnet0', 'type', 'bridge']);
      const r = await teardownFromLive('guest', { netns: ns, stateDir });
      t.same(r, { deleted: ['macvtap0', 'macvtap1'], skipped: ['vnet0', 'vnet1'] }, 'taps gone with their fds; the impostor vnet0 is not ours');
      t.ok(ipLink(ns, 'vnet0'), 'impostor kept');
      ip(['-n', ns, 'link', 'del', 'vnet0']);
      t.same(snapshot(ns), before);
      t.same(fs.readdirSync(stateDir), []);
    },
    { bridge: true },
  );
});

t.test('name templates raced by two processes never collide', { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t, 'netfd-state-');
  await withNetns(
    t,
    async (ns) => {
      const before = snapshot(ns);
      const child = path.join(__dirname, '..', 'helpers', 'race-child.js');
      const children = [0, 1].map((id) => raceChild(ns, stateDir, id, child));
      const names: string[] = [];
      for (const c of children) names.push(...(await c.names));
      for (const c of children) c.proc.stdin?.end(); // now they may tear down
      for (const c of children) {
        const r = await c.done;
        t.equal(r.code, 0, `child exited cleanly: ${r.err}`);
      }
      t.equal(names.length, 2 * 10 * 2, 'every prepare made its two devices');
      t.equal(new Set(names).size, names.length, `all names alive at once are distinct: ${names.join(' ')}`);
      t.same(snapshot(ns), before, 'both children tore everything down');
      t.same(fs.readdirSync(stateDir), []);
    },
    { bridge: true },
  );
});

function raceChild(ns: string, stateDir: string, id: number, script: string) {
  const proc = spawn(process.execPath, [script, ns, stateDir, String(id)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  const names = new Promise<string[]>((resolve) => {
    proc.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(JSON.parse(out) as string[]);
    });
    proc.on('close', () => resolve([]));
  });
  const done = new Promise<{ code: number | null; err: string }>((resolve) => proc.on('close', (code) => resolve({ code, err })));
  return { proc, names, done };
}
