// Child process for the fd-passing test: receives tap fds over the socket on
// fd 3, writes one Ethernet frame (behind a zeroed virtio-net header) on the
// first, and reports how many fds arrived.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
// dist/ honours NETFD_NATIVE as the library does.
const { recvFds, sendFds, closeFd } = require(path.join(__dirname, '..', '..', 'dist', 'sys', 'fdpass'));

(async () => {
  const { data, fds } = await recvFds(3, 1024, 16, 10000);
  const { vnetHdr, frame } = JSON.parse(data.toString());
  const out = Buffer.concat([Buffer.alloc(vnetHdr), Buffer.from(frame, 'hex')]);
  fs.writeSync(fds[0], out);
  await sendFds(3, Buffer.from(JSON.stringify({ received: fds.length })));
  for (const fd of fds) closeFd(fd);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
