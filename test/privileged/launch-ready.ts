// A launch that did not come up is a failure: qemu that exits during init
// (a kernel it cannot load) gives QEMU_FAILED with qemu's own message, every
// time, from the library, `netfd launch --detach` and `--connect … launch`,
// and leaves nothing behind. Scratch namespaces only.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { launchDomain } from '../../lib/qemu/launch';
import { startAgent } from '../helpers/agent';
import { CLI } from '../helpers/e2e';
import { needsRoot, withNetns, linkNames, scratchDir } from '../helpers/host';

const XML = `<domain type='qemu'><name>badkernel</name><memory unit='MiB'>64</memory>
  <os><type>hvm</type><kernel>/nonexistent/vmlinux</kernel></os>
  <devices><interface type='direct'><source dev='v0' mode='bridge'/><model type='virtio'/></interface></devices></domain>`;

t.test('a kernel qemu cannot load: QEMU_FAILED from the library, 5 times out of 5, nothing left', { skip: needsRoot }, async (t) => {
  const state = scratchDir(t, 'netfd-ready-');
  await withNetns(t, async (ns) => {
    const before = linkNames(ns);
    for (let i = 0; i < 5; i++)
      await t.rejects(launchDomain(XML, { netns: ns, stateDir: state, stdio: 'pipe' }), { code: 'QEMU_FAILED', message: /could not open kernel file '\/nonexistent\/vmlinux'/ }, `attempt ${i + 1}`);
    t.same(linkNames(ns), before, 'no device left');
    t.same(fs.readdirSync(state), [], 'no state left');
  });
});

t.test('netfd launch --detach and --connect … launch of that domain exit 1 with QEMU_FAILED', { skip: needsRoot }, async (t) => {
  const state = scratchDir(t, 'netfd-ready-');
  const dir = scratchDir(t, 'netfd-ready-');
  const dom = path.join(dir, 'bad.xml');
  fs.writeFileSync(dom, XML);
  await withNetns(t, async (ns) => {
    const before = linkNames(ns);
    const env = { ...process.env, NODE_OPTIONS: '' };
    const detach = spawnSync(process.execPath, [CLI, '--netns', ns, '--state-dir', state, 'launch', dom, '--detach'], { encoding: 'utf8', env });
    t.equal(detach.status, 1, 'launch --detach exits 1');
    t.match(detach.stderr, /^netfd launch: QEMU_FAILED: .*could not open kernel file/m);
    t.notMatch(detach.stderr + detach.stdout, /running as qemu pid/, 'never says it runs');
    t.same(linkNames(ns), before);
    const a = await startAgent(t, { ns, acl: 'allow user root dev v0\nallow user root mode bridge\n' });
    const connect = spawnSync(process.execPath, [CLI, '--connect', a.socket, '--state-dir', path.join(dir, 'client'), 'launch', dom], { encoding: 'utf8', env });
    t.equal(connect.status, 1, '--connect launch exits 1');
    t.match(connect.stderr, /^netfd launch: QEMU_FAILED: qemu failed to start \(exit code 1\)/m, "qemu's own exit");
    t.match(connect.stderr, /could not open kernel file/, "and qemu's message (its stderr is the user's)");
    for (let i = 0; i < 100 && linkNames(ns).length !== before.length; i++) await new Promise((r) => setTimeout(r, 50));
    t.same(linkNames(ns), before, "the agent's macvtap is released");
  });
});
