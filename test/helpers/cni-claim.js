// A pod's launcher claiming its CNI attachment: connects to the agent, asks
// `cni-claim` for (container id, ifname), and with the fds it gets writes one
// Ethernet frame (behind a zeroed 12-byte virtio-net header when the tap has
// one) on the first queue, then reads queue 0 until a frame of EtherType
// READ_TYPE (hex, e.g. 0806) comes, or 10 s pass ('-': no read). Prints one JSON line:
//   {ok, result | error, fds, wrote, read}   ("read": the frame's hex, or null)
// Usage: node cni-claim.js SOCKET CONTAINER_ID IFNAME FRAME_HEX READ_TYPE
// It prints "CLAIMED" on its own line once the frame is written, so the test
// can make the kernel send a frame to the tap. While it reads, it writes the
// frame again every 200 ms: a bridge port drops frames until the bridge has
// seen the tap's carrier (the kernel's link watch may take up to a second).
'use strict';
const fs = require('node:fs');
const { AgentClient } = require('../../dist/agent/client');
const { native } = require('../../dist/sys/native');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

(async () => {
  const [socket, containerId, ifname, frameHex, readType] = process.argv.slice(2);
  const c = await AgentClient.connect(socket);
  let r;
  try {
    r = await c.request('cni-claim', { containerId, ifname });
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: { code: e.code, message: e.message, field: e.field, value: e.value } })}\n`);
    c.close();
    return;
  }
  const hdr = r.result.vnetHdr ? 12 : 0;
  const wrote = fs.writeSync(r.fds[0], Buffer.concat([Buffer.alloc(hdr), Buffer.from(frameHex, 'hex')]));
  process.stdout.write('CLAIMED\n');
  // Each queue read on its own, non-blocking (a macvtap's come blocking, and a read blocked in the thread pool would keep the process); the first frame of READ_TYPE wins.
  const readQueue = (fd) =>
    new Promise((resolve) => {
      const buf = Buffer.alloc(65536);
      const again = () =>
        fs.read(fd, buf, 0, buf.length, null, (err, n) => {
          if (err) return err.code === 'EAGAIN' ? setTimeout(again, 20) : resolve(null);
          const frame = buf.subarray(hdr, n);
          if (frame.subarray(12, 14).toString('hex') === readType) resolve(frame.toString('hex'));
          else again();
        });
      again();
    });
  const queues = r.fds.slice(0, r.result.tapFds);
  for (const fd of queues) native().setNonblock(fd);
  const frame = Buffer.concat([Buffer.alloc(hdr), Buffer.from(frameHex, 'hex')]);
  const rewrite = readType === '-' ? null : setInterval(() => fs.writeSync(r.fds[0], frame), 200);
  const read = readType === '-' ? null : await Promise.race([...queues.map(readQueue), sleep(10000).then(() => null)]);
  if (rewrite) clearInterval(rewrite);
  fs.writeSync(1, `${JSON.stringify({ ok: true, result: r.result, fds: r.fds.length, wrote, read })}\n`);
  c.close();
  process.exit(0);
})().catch((e) => {
  process.stderr.write(`cni-claim: ${e.stack || e}\n`);
  process.exit(3);
});
