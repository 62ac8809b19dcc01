// Prepares a domain with a macvtap from inside `ip netns exec NS` (no
// --netns: the process's own namespace, whose sysfs is already mounted on
// /sys), prints {dev, charDev} as JSON and tears it down.
'use strict';
const fs = require('node:fs');
const { prepareDomain } = require('../../dist/qemu/domain');

(async () => {
  const [stateDir] = process.argv.slice(2);
  const xml =
    "<domain type='qemu'><name>nsexec</name><memory unit='MiB'>64</memory><devices><interface type='direct'><source dev='v0' mode='bridge'/><model type='virtio'/><driver queues='2'/></interface></devices></domain>";
  const p = await prepareDomain(xml, { stateDir });
  const fds = p.qemuFds();
  const out = { dev: p.interfaces[0].name, fds: fds.length, charDevs: fds.filter((fd) => fs.fstatSync(fd).isCharacterDevice()).length };
  await p.teardown();
  process.stdout.write(`${JSON.stringify(out)}\n`);
})().catch((e) => {
  process.stdout.write(`${JSON.stringify({ error: { code: e.code, message: e.message } })}\n`);
  process.exit(1);
});
