#!/usr/bin/env node
// The demo: netfd's main job on a built-in default, in a scratch namespace
// it creates and removes (the host's own interfaces are never touched).
//  1. namespace netfd-demo-<pid> with a veth pair v0 <-> v1 and a bridge br0
//  2. a built-in libvirt domain with three interfaces: virtio on br0 (driver
//     omitted: netfd decides), virtio macvtap on v0 in bridge mode with 2
//     queues, e1000 on a plain tap
//  3. prepareDomain: devices created, up, attached, fds open, the driver
//     policy applied, the live XML written (to a temporary state dir)
//  4. the qemu command line those fds belong to, and the fds handed over a
//     unix socket (SCM_RIGHTS) as a VM manager would pass them
//  5. teardown; the namespace is removed
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const netfd = require('../dist/index.js');

const ns = `netfd-demo-${process.pid}`;
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-demo-state-'));
const cli = path.join(__dirname, '..', 'bin', 'netfd.js');
const say = (s) => console.log(`\n## ${s}`);
const sh = (cmd, args) => console.log(execFileSync(cmd, args, { encoding: 'utf8' }).trimEnd());

const DOMAIN = `<domain type='qemu'>
  <name>demo</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <devices>
    <interface type='bridge'>
      <source bridge='br0'/>
      <model type='virtio'/>
    </interface>
    <interface type='direct'>
      <mac address='52:54:00:6e:66:02'/>
      <source dev='v0' mode='bridge'/>
      <model type='virtio'/>
      <driver queues='2'/>
    </interface>
    <interface type='ethernet'>
      <mac address='52:54:00:6e:66:03'/>
      <model type='e1000'/>
    </interface>
    <serial type='stdio'/>
  </devices>
</domain>
`;

function cleanup() {
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    /* already gone */
  }
  fs.rmSync(stateDir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => { cleanup(); process.exit(130); });

async function main() {
  say(`scratch namespace ${ns}: veth v0 <-> v1, bridge br0`);
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
  execFileSync('ip', ['-n', ns, 'link', 'add', 'br0', 'address', '02:00:00:00:b0:00', 'type', 'bridge']);
  for (const dev of ['v0', 'v1', 'br0']) execFileSync('ip', ['-n', ns, 'link', 'set', dev, 'up']);

  say('the built-in domain (config XML, as a user writes it)');
  process.stdout.write(DOMAIN);

  say('prepareDomain: one transaction (on any failure nothing is left behind)');
  const p = await netfd.prepareDomain(DOMAIN, { netns: ns, stateDir });
  for (const i of p.interfaces) {
    const d = i.decision;
    console.log(`${i.plan.path}: ${i.kind} ${i.name} (ifindex ${i.ifindex}), ${i.plan.model}, ${i.fds.fds.length} queue fd(s) ${JSON.stringify(i.fds.fds)}, ` +
      `vhost=${d.vhost ? 'on' : 'off'}${d.record ? `, live XML records <driver name='${d.record}'/>` : ', no driver recorded'}`);
  }
  const vhost = await netfd.vhostUsable();
  console.log(vhost ? `(vhost-net is not usable on this host: ${vhost.code}; omitted driver names fall back to userspace virtio)` : '(vhost-net is usable here)');

  say(`netfd --netns ${ns} link show`);
  sh(process.execPath, [cli, '--netns', ns, 'link', 'show']);

  say(`live (status) XML, written atomically to ${p.statePath}`);
  process.stdout.write(fs.readFileSync(p.statePath, 'utf8'));

  say('the qemu command line for these fds (qemu gets them as fds 3, 4, ...)');
  process.stdout.write(netfd.formatArgv(p.argv({ qmp: path.join(stateDir, 'demo.qmp') })));

  say('the fds handed over a unix socket with SCM_RIGHTS, as a VM manager would pass them to qemu');
  const [a, b] = netfd.socketPair();
  const fds = p.qemuFds();
  await netfd.sendFds(a, JSON.stringify({ domain: p.name, fds: fds.length }), fds);
  const got = await netfd.recvFds(b, 4096, 16, 5000);
  console.log(`received ${got.fds.length} fds ${JSON.stringify(got.fds)} with ${got.data}`);
  got.fds.forEach(netfd.closeFd);
  netfd.closeFd(a);
  netfd.closeFd(b);

  say('teardown: the links netfd created are deleted together, fds closed, live XML removed');
  await p.teardown();
  sh('ip', ['-n', ns, '-br', 'link', 'show']);
  console.log(`state dir now: ${JSON.stringify(fs.readdirSync(stateDir))}`);
}

main()
  .then(() => {
    cleanup();
    console.log(`\nnamespace ${ns} removed; the host is as it was.`);
  })
  .catch((err) => {
    cleanup();
    console.error(`demo failed: ${err.code ? `${err.code}: ` : ''}${err.message}`);
    process.exit(1);
  });
