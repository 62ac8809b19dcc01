// attachInterface / detachInterface against real devices in a private
// namespace, with a fake QMP monitor standing in for qemu (it really receives
// the fds over SCM_RIGHTS), so that every QMP step can fail on demand. The
// happy path with a real qemu and guest is in test/e2e/hotplug.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { prepareDomain } from '../../lib/qemu/domain';
import { attachInterface, detachInterface } from '../../lib/qemu/hotplug';
import { pidPath } from '../../lib/qemu/launch';
import { FakeCommand, FakeQmp, FakeReply } from '../helpers/fake-qmp';
import { ipLinks, needsRoot, withNetns } from '../helpers/host';

const DOMAIN = `<domain type='qemu'><name>hp</name><memory unit='MiB'>64</memory><devices>
  <interface type='bridge'><source bridge='br0'/><model type='virtio'/></interface>
</devices></domain>`;
const NIC = "<interface type='direct'><mac address='52:54:00:aa:00:01'/><source dev='v0' mode='bridge'/><model type='virtio'/><driver queues='2'/></interface>";

const names = (ns: string) =>
  ipLinks(ns)
    .map((l) => l.ifname)
    .sort();
const ok = { return: {} };

/** A prepared domain whose pid file points at a fake monitor; `handler` may fail any command (nth call). */
async function running(ns: string, handler: (cmd: FakeCommand, nth: number) => FakeReply) {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-hp-'));
  const counts = new Map<string, number>();
  const fake = await FakeQmp.start({
    handler: (cmd) => {
      const n = (counts.get(cmd.execute) ?? 0) + 1;
      counts.set(cmd.execute, n);
      const r = handler(cmd, n);
      if (r !== undefined) return r;
      return ['netdev_add', 'netdev_del'].includes(cmd.execute) ? ok : undefined; // device_add: the fake's own (query-pci then lists it)
    },
  });
  const d = await prepareDomain(DOMAIN, { netns: ns, stateDir });
  fs.writeFileSync(pidPath(stateDir, 'hp'), JSON.stringify({ pid: process.pid, supervisor: process.pid, qmp: fake.path, netns: ns }));
  const cleanup = async () => {
    await fake.stop();
    await d.teardown();
    fs.rmSync(stateDir, { recursive: true, force: true });
  };
  return { stateDir, fake, d, cleanup, live: () => fs.readFileSync(path.join(stateDir, 'hp.xml'), 'utf8') };
}

const commands = (fake: FakeQmp) =>
  fake.conns.flatMap((c) => c.received.map((r) => `${r.cmd.execute}${r.cmd.arguments?.fdname ? ` ${r.cmd.arguments.fdname}` : ''}${r.fds.length ? ` +${r.fds.length}fd` : ''}`));

t.test('attach sends each queue fd with getfd, then netdev_add and device_add; detach reverses it', { skip: needsRoot }, async (t) => {
  await withNetns(
    t,
    async (ns) => {
      const r = await running(ns, () => undefined);
      try {
        const before = r.live();
        const a = await attachInterface('hp', NIC, { stateDir: r.stateDir });
        t.same({ ...a, liveXml: undefined }, { alias: 'net1', mac: '52:54:00:aa:00:01', targetDev: 'macvtap0', driver: 'qemu', pci: { bus: 0, slot: 2, function: 0 }, liveXml: undefined });
        t.same(
          commands(r.fake).filter((c) => c !== 'qmp_capabilities'),
          ['getfd net1-tapfd0 +1fd', 'getfd net1-tapfd1 +1fd', 'netdev_add', 'device_add', 'query-pci', 'query-status'],
          'then where the NIC went and whether the vCPUs run',
        );
        t.match(a.liveXml, /<alias name="net1"\/>\s*<address type="pci" domain="0x0000" bus="0x00" slot="0x02" function="0x0"\/>/, 'the live XML records its slot');
        const sent = r.fake.conns[0].received;
        t.same(sent.find((x) => x.cmd.execute === 'netdev_add')?.cmd.arguments, { type: 'tap', id: 'hostnet1', fds: 'net1-tapfd0:net1-tapfd1', vhost: false });
        t.same(
          sent.find((x) => x.cmd.execute === 'device_add')?.cmd.arguments,
          { driver: 'virtio-net-pci', id: 'net1', netdev: 'hostnet1', mac: '52:54:00:aa:00:01', mq: true, vectors: 6 },
          'typed values, as QMP wants them',
        );
        t.equal(a.liveXml, r.live());
        t.not(r.live(), before);
        t.ok(names(ns).includes('macvtap0'));
        t.notOk(fs.existsSync(path.join(r.stateDir, 'hp.lock')), 'the lock is released');

        const d = await detachInterface('hp', { mac: '52:54:00:AA:00:01' }, { stateDir: r.stateDir });
        t.same({ ...d, liveXml: undefined }, { alias: 'net1', mac: '52:54:00:aa:00:01', targetDev: 'macvtap0', deleted: ['macvtap0'], liveXml: undefined });
        t.same(commands(r.fake).slice(-2), ['device_del', 'netdev_del']);
        t.equal(r.live(), before, 'the live XML is back to what it was, byte for byte');
        t.notOk(names(ns).includes('macvtap0'));
      } finally {
        await r.cleanup();
      }
    },
    { bridge: true },
  );
});

const FAILURES: { at: string; nth: number; undo: string[] }[] = [
  { at: 'getfd', nth: 2, undo: ['closefd net1-tapfd0'] },
  { at: 'netdev_add', nth: 1, undo: ['closefd net1-tapfd0', 'closefd net1-tapfd1'] },
  { at: 'device_add', nth: 1, undo: ['netdev_del'] },
];

for (const f of FAILURES) {
  t.test(`attach: a failed ${f.at} undoes what was done (${f.undo.join(', ')}) and the host device`, { skip: needsRoot }, async (t) => {
    await withNetns(
      t,
      async (ns) => {
        const r = await running(ns, (cmd, n) => (cmd.execute === f.at && n === f.nth ? { error: { class: 'GenericError', desc: `${f.at} refused by the test` } } : undefined));
        try {
          const links = names(ns);
          const live = r.live();
          await t.rejects(attachInterface('hp', NIC, { stateDir: r.stateDir }), { code: 'QMP_ERROR', message: new RegExp(`${f.at} refused by the test`) });
          const cmds = commands(r.fake);
          const failedAt = cmds.lastIndexOf(cmds.filter((c) => c.startsWith(f.at))[f.nth - 1]);
          t.same(cmds.slice(failedAt + 1), f.undo, 'exactly the QMP steps done are undone, in reverse');
          t.same(names(ns), links, 'the macvtap it created is deleted');
          t.equal(r.live(), live, 'the live XML is unchanged');
          t.notOk(fs.existsSync(path.join(r.stateDir, 'hp.lock')));
        } finally {
          await r.cleanup();
        }
      },
      { bridge: true },
    );
  });
}

t.test('detach: a guest that never releases the device times out and changes nothing; a failed netdev_del puts the device back', { skip: needsRoot }, async (t) => {
  await withNetns(
    t,
    async (ns) => {
      let stuck = true;
      const r = await running(ns, (cmd) => {
        if (cmd.execute === 'device_del' && stuck) return ok; // no DEVICE_DELETED follows
        if (cmd.execute === 'netdev_del') return { error: { class: 'GenericError', desc: 'netdev busy' } };
        return undefined;
      });
      try {
        const mac = r.d.interfaces[0].plan.mac;
        const live = r.live();
        await t.rejects(detachInterface('hp', { mac }, { stateDir: r.stateDir, timeoutMs: 300 }), { code: 'ETIMEDOUT', message: /did not release device net0 within 300 ms/ });
        t.equal(r.live(), live);
        t.ok(names(ns).includes(r.d.interfaces[0].name), 'the tap is still there');
        stuck = false;
        await t.rejects(detachInterface('hp', { mac }, { stateDir: r.stateDir }), { code: 'QMP_ERROR', message: /netdev busy/ });
        t.same(commands(r.fake).slice(-3), ['device_del', 'netdev_del', 'device_add'], 'the device is added back');
        t.equal(r.live(), live);
        await t.rejects(detachInterface('hp', { mac: '52:54:00:00:00:77' }, { stateDir: r.stateDir }), { code: 'ENODEV', field: 'mac' });
        await t.rejects(detachInterface('hp', { mac: 'nope' }, { stateDir: r.stateDir }), { code: 'INVALID_ARGUMENT', field: 'mac', value: 'nope' });
        await t.rejects(attachInterface('nosuch', NIC, { stateDir: r.stateDir }), { code: 'ENOENT', field: 'name', message: /not running/ });
      } finally {
        await r.cleanup();
      }
    },
    { bridge: true },
  );
});
