// netfd inside a privileged CI container: no udev, /dev a small tmpfs that
// never gains nodes, no /run/netns, /sys read-only.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { nativeCandidates } from '../../lib/sys/native';
import { ip, needsRoot, openFds } from '../helpers/host';

/** Named namespaces, but for those of test files running in parallel (withNetns, guests). */
const namedNetns = (): string[] =>
  ip(['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n && !/^netfd-(t\d+-\d+|guest-)/.test(n))
    .sort();

t.test('macvtap char device and taps work in a container-like mount namespace', { skip: needsRoot }, async (t) => {
  const helpers = path.join(__dirname, '..', 'helpers');
  const nativePath = nativeCandidates().find((p) => fs.existsSync(p))!;
  const namespacesBefore = namedNetns();
  const fdsBefore = openFds();
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', path.join(helpers, 'container.sh'), process.execPath, path.join(helpers, 'container-run.js'), nativePath], {
    encoding: 'utf8',
    timeout: 60000,
  });
  t.equal(r.status, 0, `container script succeeded: ${r.stderr}`);
  const [json, dev, run] = r.stdout.trim().split('\n');
  const out = JSON.parse(json);
  t.match(out, { macvtap: 'macvtap0', macvtapFds: 2, privateNode: true, sameDevice: true, tap: 'vnet0', tapFds: 2, vhost: 'ENOENT' });
  t.same(out.links, ['lo', 'macvtap0', 'v0', 'v1', 'vnet0']);
  t.equal(dev, 'DEV: . ./net ./net/tun ./null ./zero ', '/dev gained no nodes');
  t.equal(run.trim(), 'RUN:', 'nothing written to /run');
  t.same(namedNetns(), namespacesBefore, 'no named namespace created');
  t.same(openFds(), fdsBefore, 'no fd leaked');
});

t.test('the agent in a container-like mount namespace: default socket and state under a fresh /run, devices in a namespace given by path', { skip: needsRoot }, async (t) => {
  const helpers = path.join(__dirname, '..', 'helpers');
  const nativePath = nativeCandidates().find((p) => fs.existsSync(p))!;
  const namespacesBefore = namedNetns();
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', path.join(helpers, 'container.sh'), process.execPath, path.join(helpers, 'container-agent.js'), nativePath], {
    encoding: 'utf8',
    timeout: 60000,
  });
  t.equal(r.status, 0, `container script succeeded: ${r.stderr}`);
  const [json, dev, run] = r.stdout.trim().split('\n');
  t.same(
    JSON.parse(json),
    { socket: '/run/netfd/agent.sock', devs: ['macvtap0', 'vnet0'], fds: 3, charDevs: 3, live: true, list: [] },
    'a 2-queue macvtap and a tap prepared through the agent, then released',
  );
  t.equal(dev, 'DEV: . ./net ./net/tun ./null ./zero ', '/dev gained no nodes');
  t.equal(run.trim(), 'RUN: netfd', 'the agent kept its state under /run/netfd');
  t.same(namedNetns(), namespacesBefore, 'no named namespace created');
});
