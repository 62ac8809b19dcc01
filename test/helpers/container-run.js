// The container scenario's work, in a mount namespace prepared by
// container.sh: macvtap + its char device and a multiqueue tap in a
// namespace given by path, with no /dev/tapN nodes and no /run/netns.
'use strict';
const b = require(process.env.NETFD_NATIVE);
const netns = process.argv[2];

(async () => {
  const out = {};
  const link = await b.createMacvtap({ netns, kind: 'macvtap', parent: 'v0', mode: b.constants.macvlanModes.bridge, name: 'macvtap%d' });
  out.macvtap = link.name;
  const m = await b.openMacvtap({ netns, link: link.index, queues: 2 });
  out.macvtapFds = m.fds.length;
  out.privateNode = m.privateNode;
  out.sameDevice = m.fds.every((fd) => {
    const st = require('node:fs').fstatSync(fd);
    return st.isCharacterDevice() && Math.floor(st.rdev / 256) % 4096 === m.major;
  });
  const tap = await b.createTap({ netns, name: 'vnet%d', queues: 2 });
  out.tap = tap.name;
  out.tapFds = tap.fds.length;
  out.links = (await b.listLinks({ netns })).map((l) => l.name).sort();
  for (const fd of [...m.fds, ...tap.fds]) b.close(fd);
  await b.deleteLink({ netns, link: link.index });
  try {
    await b.openVhost({ path: '/dev/vhost-net' });
  } catch (e) {
    out.vhost = e.code;
  }
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
