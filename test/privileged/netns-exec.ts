// netfd run inside `ip netns exec NS` (its own namespace, whose sysfs that
// command mounts on /sys): macvtaps open for the library, the CLI and the
// agent, as they do with --netns NS. Everything in a scratch namespace.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { Test } from 'tap';
import { AgentClient } from '../../lib/agent/client';
import { native } from '../../lib/sys/native';
import { warmSockets } from '../helpers/agent';
import { CLI } from '../helpers/e2e';
import { ipLinks, needsRoot, withNetns } from '../helpers/host';

// The socket class's once-per-process state exists from here on: the fd
// baseline of every test below.
warmSockets();

const CHILD = path.join(__dirname, '..', 'helpers', 'netns-exec-child.js');
const names = (ns: string) =>
  ipLinks(ns)
    .map((l) => l.ifname)
    .sort();

function tmp(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-nsexec-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('the library under ip netns exec opens a macvtap (two queues) and leaves nothing', { skip: needsRoot }, async (t) => {
  const state = tmp(t);
  await withNetns(t, async (ns) => {
    const before = names(ns);
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, CHILD, state], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    t.equal(r.status, 0, r.stdout + r.stderr);
    t.match(JSON.parse(r.stdout.trim()), { dev: /^macvtap\d+$/, fds: 2, charDevs: 2 }, 'both queues are the macvtap char device');
    t.same(names(ns), before, 'torn down');
  });
});

t.test('the CLI under ip netns exec: launch --detach with a macvtap, then destroy', { skip: needsRoot }, async (t) => {
  const state = tmp(t);
  const dom = path.join(tmp(t), 'cli.xml');
  fs.writeFileSync(
    dom,
    "<domain type='qemu'><name>cli</name><memory unit='MiB'>64</memory><devices><interface type='direct'><source dev='v0' mode='bridge'/><model type='virtio'/></interface></devices></domain>",
  );
  await withNetns(t, async (ns) => {
    const before = names(ns);
    const cli = (...args: string[]) => spawnSync('ip', ['netns', 'exec', ns, process.execPath, CLI, '--state-dir', state, ...args], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    const l = cli('launch', dom, '--detach', '--', '-S');
    t.equal(l.status, 0, l.stderr);
    t.ok(
      names(ns).some((n) => n.startsWith('macvtap')),
      'the macvtap exists while qemu runs',
    );
    const d = cli('destroy', 'cli');
    t.equal(d.status, 0, d.stderr);
    for (let i = 0; i < 100 && names(ns).length !== before.length; i++) await new Promise((r) => setTimeout(r, 50));
    t.same(names(ns), before, 'destroyed: nothing left');
  });
});

t.test('the agent under ip netns exec prepares a macvtap for a client', { skip: needsRoot }, async (t) => {
  const dir = tmp(t);
  fs.writeFileSync(path.join(dir, 'acl'), 'allow user root dev v0\nallow user root mode bridge\n');
  await withNetns(t, async (ns) => {
    const before = names(ns);
    const socket = path.join(dir, 'agent.sock');
    const proc = (await import('node:child_process')).spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        CLI,
        'agent',
        '--socket',
        socket,
        '--acl',
        path.join(dir, 'acl'),
        '--state-dir',
        path.join(dir, 'state'),
        '--config-dir',
        path.join(dir, 'networks'),
        '--log-level',
        'warn',
      ],
      {
        stdio: 'ignore',
        env: { ...process.env, NODE_OPTIONS: '' },
      },
    );
    t.teardown(() => void proc.kill('SIGKILL'));
    for (let i = 0; i < 200 && !fs.existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
    const c = await AgentClient.connect(socket);
    const r = await c.request<{ interfaces: { dev: string }[] }>('prepare', {
      xml: "<domain type='qemu'><name>a</name><memory unit='MiB'>64</memory><devices><interface type='direct'><source dev='v0' mode='bridge'/><model type='virtio'/></interface></devices></domain>",
    });
    t.match(r.result.interfaces[0].dev, /^macvtap\d+$/);
    t.equal(r.fds.length, 1);
    t.ok(fs.fstatSync(r.fds[0]).isCharacterDevice(), 'the macvtap char device');
    r.fds.forEach((fd) => native().close(fd));
    await c.request('release', { name: 'a' });
    c.close();
    const exited = new Promise((res) => proc.once('exit', res));
    proc.kill('SIGTERM');
    await exited;
    t.same(names(ns), before, 'released: nothing left');
  });
});

t.test('a namespace path that names no namespace is refused before anything opens it: a FIFO does not hang, a plain file or device is not opened', { skip: needsRoot }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-nsfile-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const fifo = path.join(dir, 'fifo');
  spawnSync('mkfifo', [fifo]);
  const plain = path.join(dir, 'plain');
  fs.writeFileSync(plain, 'x');
  const { getLink } = await import('../../lib/sys/link');
  const { Tap } = await import('../../lib/sys/tap');
  for (const p of [fifo, plain, '/dev/null']) {
    // Within 5 s: an open of the FIFO would wait for a writer for ever.
    const r = await Promise.race([
      getLink('lo', { netns: p }).then(
        () => 'opened',
        (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`,
      ),
      new Promise((res) => setTimeout(() => res('hung'), 5000)),
    ]);
    t.match(r, /^EINVAL: .*not a namespace file/, `${path.basename(p)}: refused (${String(r)})`);
    await t.rejects(Tap.create({ netns: p, name: 'nst0' }), { code: 'EINVAL' }, `${path.basename(p)}: no tap made through it either`);
  }
  await withNetns(t, async (ns) => {
    const link = path.join(dir, 'link');
    fs.symlinkSync(`/run/netns/${ns}`, link);
    t.equal((await getLink('lo', { netns: link })).name, 'lo', 'a symlink to a namespace file is that namespace');
  });
});
