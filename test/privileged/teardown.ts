// teardownDomains on real devices: several domains' links deleted in one
// group delete, then each domain's files; one domain's failure (a corrupt
// live XML) stops none of the others; a domain without live XML loses the
// links of its group alone. Each test runs in its own namespace.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { Test } from 'tap';
import { prepareDomain } from '../../lib/qemu/domain';
import { teardownDomains } from '../../lib/netdev/teardown';
import { lockPath } from '../../lib/state/lock';
import { FileLock } from '../../lib/sys/flock';
import { ip, ipLinks, needsRoot, withNetns } from '../helpers/host';

const domain = (name: string, n: number) => `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>128</memory>
  <devices>
    <interface type='direct'><mac address='52:54:00:00:0${n}:01'/><source dev='v0' mode='bridge'/><model type='virtio'/><driver name='qemu'/></interface>
    <interface type='direct'><mac address='52:54:00:00:0${n}:02'/><source dev='v0' mode='bridge'/><model type='virtio'/><driver name='qemu'/></interface>
  </devices>
</domain>
`;

function tmpDir(t: Test, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const names = (ns: string) => ipLinks(ns).map((l) => l.ifname);

t.test('several domains torn down together; a failing one stops none of the others', { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t, 'netfd-state-');
  await withNetns(
    t,
    async (ns) => {
      const before = names(ns);
      // Macvtaps (they outlive their fds); a and b in link groups of their own (as the agent makes them), c without.
      const a = await prepareDomain(domain('a', 1), { netns: ns, stateDir, group: 7101 });
      const b = await prepareDomain(domain('b', 2), { netns: ns, stateDir, group: 7102 });
      const c = await prepareDomain(domain('c', 3), { netns: ns, stateDir });
      for (const p of [a, b, c]) p.closeFds();
      // Half-made attach of b: a link of its group the live XML does not record.
      ip(['-n', ns, 'link', 'add', 'half0', 'group', '7102', 'type', 'bridge']);
      // d: a corrupt live XML; e: no live XML at all, a link of its group.
      fs.writeFileSync(path.join(stateDir, 'd.xml'), '<domain');
      ip(['-n', ns, 'link', 'add', 'e0', 'group', '7105', 'type', 'bridge']);
      t.ok(names(ns).length > before.length + 6, 'the devices are there');

      const out = await teardownDomains([
        { name: 'a', o: { netns: ns, stateDir, group: 7101 } },
        { name: 'd', o: { netns: ns, stateDir } },
        { name: 'b', o: { netns: ns, stateDir, group: 7102 } },
        { name: 'c', o: { netns: ns, stateDir } },
        { name: 'e', o: { netns: ns, stateDir, group: 7105 }, liveOptional: true },
        { name: 'f', o: { netns: ns, stateDir } },
      ]);
      t.same(
        out.map((r) => [r.name, r.live, r.deleted.length, r.error?.constructor.name ?? null]),
        [
          ['a', true, 2, null],
          ['d', true, 0, 'NetfdError'],
          ['b', true, 2, null],
          ['c', true, 2, null],
          ['e', false, 0, null],
          ['f', true, 0, 'Error'],
        ],
        'outcomes in the order given: d corrupt, f (no live XML, not optional) ENOENT',
      );
      t.equal((out[5].error as NodeJS.ErrnoException).code, 'ENOENT');
      t.same(names(ns).sort(), before.sort(), 'every link of a, b (its half-made one too), c and e is gone');
      t.same(fs.readdirSync(stateDir).sort(), ['d.xml', 'networks'].filter((f) => fs.existsSync(path.join(stateDir, f))).sort(), "only the corrupt domain's file stays");
    },
    { bridge: true },
  );
});

t.test("lock: false takes no lock: a domain whose lock another holds is torn down all the same (the agent's journal entries)", { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t, 'netfd-state-');
  await withNetns(
    t,
    async (ns) => {
      const before = names(ns);
      const a = await prepareDomain(domain('a', 1), { netns: ns, stateDir, group: 7201 });
      a.closeFds();
      // Someone holds the domain's lock (as another process would) for the whole teardown.
      const held = FileLock.tryLock(lockPath(stateDir, 'a'));
      t.ok(held?.held, 'the lock is held elsewhere');
      let out;
      try {
        // Locking, it would wait 30 s for it and fail.
        out = await teardownDomains([{ name: 'a', o: { netns: ns, stateDir, group: 7201 }, lock: false }]);
      } finally {
        held?.unlock();
      }
      t.equal(out[0].error, undefined, 'it went without the lock');
      t.equal(out[0].deleted.length, 2, 'both macvtaps deleted');
      t.same(names(ns).sort(), before.sort(), 'its links are gone');
      t.notOk(fs.existsSync(path.join(stateDir, 'a.xml')), 'and its live XML');
    },
    { bridge: true },
  );
});
