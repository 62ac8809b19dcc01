// `netfd launch A.xml B.xml -- -S`: several domains prepared together and
// their qemus (stopped with -S, no guest needed) run by one netfd process;
// SIGTERM stops them all and tears everything down; a domain that cannot be
// prepared leaves nothing of any; the agent's backend (--connect) and --detach
// refuse several files.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { linkNames, needsRoot, scratchDir, withNetns } from '../helpers/host';

const CLI = path.join(__dirname, '..', '..', 'bin', 'netfd.js');

const xml = (name: string, iface: string) => `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><devices>
  ${iface}
</devices></domain>`;
const ETHERNET = `<interface type='ethernet'><model type='virtio'/><driver name='qemu'/></interface>`;
const BRIDGED = `<interface type='bridge'><source bridge='br0'/><model type='virtio'/><driver name='qemu'/></interface>`;

function files(dir: string, doms: Record<string, string>): string[] {
  return Object.entries(doms).map(([name, text]) => {
    const f = path.join(dir, `${name}.xml`);
    fs.writeFileSync(f, text);
    return f;
  });
}

t.test('netfd launch of two domains: both run on their taps; SIGTERM stops both and tears both down', { skip: needsRoot }, async (t) => {
  const dir = scratchDir(t, 'netfd-launch-many-');
  const state = path.join(dir, 'state');
  const [a, b] = files(dir, { fleeta: xml('fleeta', ETHERNET), fleetb: xml('fleetb', BRIDGED + ETHERNET) });
  await withNetns(
    t,
    async (ns) => {
      const before = linkNames(ns);
      const child = spawn(process.execPath, [CLI, '--netns', ns, '--state-dir', state, 'launch', a, b, '--', '-S'], { stdio: ['ignore', 'pipe', 'pipe'] });
      t.teardown(() => void child.kill('SIGKILL'));
      let err = '';
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.stdout.resume();
      const running = new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (c: Buffer) => {
          err += c.toString();
          if ((err.match(/running as qemu pid/g) ?? []).length === 2) resolve();
        });
        void exited.then((code) => reject(new Error(`netfd exited with ${code} before both ran: ${err}`)));
      });
      await running;
      t.match(err, /netfd: fleeta running as qemu pid \d+.*live XML/);
      t.match(err, /netfd: fleetb running as qemu pid \d+.*live XML/);
      t.equal(linkNames(ns).length, before.length + 3, 'three taps while the qemus run');
      const list = spawnSync(process.execPath, [CLI, '--state-dir', state, 'list', '--json'], { encoding: 'utf8' });
      const rows = JSON.parse(list.stdout) as { name: string; state: string; pid: number }[];
      t.same(
        rows.map((r) => [r.name, r.state]).sort(),
        [
          ['fleeta', 'running'],
          ['fleetb', 'running'],
        ],
        'list shows both running',
      );
      t.not(rows[0].pid, rows[1].pid, 'a qemu each');

      child.kill('SIGTERM');
      t.equal(await exited, 0, 'netfd exits 0 once both qemus exited');
      t.match(err, /fleeta: qemu exited with 0; fleeta torn down/);
      t.match(err, /fleetb: qemu exited with 0; fleetb torn down/);
      t.same(linkNames(ns), before, 'every tap gone');
      t.same(fs.readdirSync(state), [], 'no state left');
    },
    { bridge: true },
  );
});

t.test('a domain that cannot be prepared: netfd launch of several leaves nothing of any', { skip: needsRoot }, async (t) => {
  const dir = scratchDir(t, 'netfd-launch-many-');
  const state = path.join(dir, 'state');
  const [a, b, c] = files(dir, {
    gooda: xml('gooda', ETHERNET),
    goodb: xml('goodb', BRIDGED),
    bad: xml('bad', `<interface type='bridge'><source bridge='nobridge'/><model type='virtio'/></interface>`),
  });
  await withNetns(
    t,
    async (ns) => {
      const before = linkNames(ns);
      const r = spawnSync(process.execPath, [CLI, '--netns', ns, '--state-dir', state, 'launch', a, b, c, '--', '-S'], { encoding: 'utf8' });
      t.equal(r.status, 1);
      t.match(r.stderr, /^netfd launch: ENODEV: domain bad: \/domain\/devices\/interface\/source\/@bridge: bridge nobridge does not exist/m);
      t.same(linkNames(ns), before, 'no link of any domain');
      t.same(fs.existsSync(state) ? fs.readdirSync(state) : [], [], 'no state of any domain');
      // A qemu that fails to start: the other is stopped, both torn down.
      const q = spawnSync(process.execPath, [CLI, '--netns', ns, '--state-dir', state, 'launch', a, b, '--', '-no-such-option'], { encoding: 'utf8' });
      t.equal(q.status, 1);
      t.match(q.stderr, /^netfd launch: QEMU_FAILED: domain good[ab]: qemu failed to start/m);
      t.same(linkNames(ns), before, 'no link left');
      t.same(fs.readdirSync(state), [], 'no state left');
    },
    { bridge: true },
  );
});

t.test('several files are refused through the agent (--connect) and with --detach, naming why', async (t) => {
  const dir = scratchDir(t, 'netfd-launch-many-');
  const [a, b] = files(dir, { one: xml('one', ETHERNET), two: xml('two', ETHERNET) });
  const connect = spawnSync(process.execPath, [CLI, '--connect', path.join(dir, 'no-agent.sock'), '--state-dir', dir, 'launch', a, b], { encoding: 'utf8' });
  t.equal(connect.status, 1);
  t.match(connect.stderr, /NOT_SUPPORTED: launching several domains at once \(one, two\) is not available through the agent at .*no-agent\.sock: it prepares one domain per request/);
  const detach = spawnSync(process.execPath, [CLI, '--state-dir', dir, 'launch', a, b, '--detach'], { encoding: 'utf8' });
  t.equal(detach.status, 2);
  t.match(detach.stderr, /launch --detach takes one DOMAIN\.xml/);
  t.same(fs.readdirSync(dir).sort(), ['one.xml', 'two.xml'], 'nothing written');
});
