#!/usr/bin/env node
// The demo: netfd's main job on a built-in default, in a scratch namespace
// it creates and removes (the host's own interfaces are never touched).
//  1. a veth pair v0 <-> v1 in namespace netfd-demo-<pid>
//  2. a macvtap in bridge mode on v0, its char device opened (2 queues)
//  3. a multiqueue tap (4 queues, vnet header)
//  4. both shown, fds handed over a unix socket (SCM_RIGHTS) as qemu would get them
//  5. everything removed; the namespace is gone
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const netfd = require('../dist/index.js');

const ns = `netfd-demo-${process.pid}`;
const cli = path.join(__dirname, '..', 'bin', 'netfd.js');
const say = (s) => console.log(`\n## ${s}`);
const sh = (cmd, args) => console.log(execFileSync(cmd, args, { encoding: 'utf8' }).trimEnd());

function cleanup() {
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    /* already gone */
  }
}
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => { cleanup(); process.exit(130); });

async function main() {
  say(`scratch namespace ${ns} with a veth pair v0 <-> v1`);
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);

  say('macvtap in bridge mode on v0 (ip link add link v0 name macvtap0 type macvtap mode bridge)');
  const mvt = await netfd.Macvtap.create({ netns: ns, link: 'v0', mode: 'bridge', mac: '52:54:00:6e:66:01', queues: 2 });
  await netfd.linkUp(mvt.name, { netns: ns });
  console.log(`${mvt.name}: ifindex ${mvt.link.index}, mode ${mvt.link.mode}, mac ${mvt.link.mac}, ${mvt.fds.length} queue fds ${JSON.stringify(mvt.fds)}`);

  say('multiqueue tap with vnet header (ip tuntap add mode tap multi_queue vnet_hdr)');
  const tap = await netfd.Tap.create({ netns: ns, template: 'vnet%d', queues: 4 });
  console.log(`${tap.name}: ifindex ${tap.ifindex}, ${tap.fds.length} queue fds ${JSON.stringify(tap.fds)}`);

  say(`netfd --netns ${ns} link show`);
  sh(process.execPath, [cli, '--netns', ns, 'link', 'show']);

  say('vhost-net');
  const vhost = await netfd.vhostUsable();
  console.log(vhost ? `not usable here: ${vhost.message}` : 'usable: /dev/vhost-net opens read-write');

  say('fds handed over a unix socket with SCM_RIGHTS, as a VM manager would pass them to qemu');
  const [a, b] = netfd.socketPair();
  await netfd.sendFds(a, JSON.stringify({ netdev: `tap,id=hostnet0,fds=${tap.fds.join(':')}` }), tap.fds);
  const got = await netfd.recvFds(b, 4096, 8, 5000);
  console.log(`received ${got.fds.length} fds ${JSON.stringify(got.fds)} with ${got.data}`);
  got.fds.forEach(netfd.closeFd);
  netfd.closeFd(a);
  netfd.closeFd(b);

  say('removing everything');
  tap.close();
  await mvt.destroy();
  sh('ip', ['-n', ns, '-br', 'link', 'show']);
}

main()
  .then(() => {
    cleanup();
    console.log(`\nnamespace ${ns} removed; the host is as it was.`);
  })
  .catch((err) => {
    cleanup();
    console.error(`demo failed: ${err.message}`);
    process.exit(1);
  });
