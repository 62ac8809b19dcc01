#!/usr/bin/env node
// Captures real rtnetlink replies from this kernel into test/fixtures/netlink/
// (hex, one message per line), for the decoder tests. Run as root; works in a
// scratch namespace that it removes again.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const b = require(path.join(__dirname, '..', 'build', 'Release', 'netfd.node'));

const ns = `netfd-capture-${process.pid}`;
const out = path.join(__dirname, '..', 'test', 'fixtures', 'netlink');
const ip = (...a) => execFileSync('ip', ['-n', ns, ...a]);

async function main() {
  fs.mkdirSync(out, { recursive: true });
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    ip('link', 'add', 'v0', 'address', '02:00:00:00:00:10', 'type', 'veth', 'peer', 'name', 'v1');
    ip('link', 'add', 'br0', 'type', 'bridge');
    // An error with extended-ack text: a bridge into a bridge.
    const err = b.nlEncode('setlink', { link: 'br0', master: (await b.linkGet({ netns: ns, link: 'br0' })).index });
    fs.writeFileSync(path.join(out, 'setlink-bridge-in-bridge.request.hex'), err.toString('hex') + '\n');
    // nlRequest throws on an error reply, so the raw error bytes come from a
    // plain socket opened by python3 in the namespace.
    const py = `
import socket,sys
s=socket.socket(socket.AF_NETLINK,socket.SOCK_RAW,socket.NETLINK_ROUTE)
s.setsockopt(270,11,1); s.setsockopt(270,10,1)
s.bind((0,0))
s.send(bytes.fromhex(sys.argv[1]))
print(s.recv(65536).hex())`;
    const reply = execFileSync('ip', ['netns', 'exec', ns, 'python3', '-c', py, err.toString('hex')], { encoding: 'utf8' });
    fs.writeFileSync(path.join(out, 'error-extack-bridge-in-bridge.hex'), reply);
    const modes = { vepa: 2, bridge: 4, private: 1, passthru: 8 };
    const save = async (file, request) => {
      const replies = await b.nlRequest({ netns: ns, request });
      fs.writeFileSync(path.join(out, file), replies.map((r) => r.toString('hex')).join('\n') + '\n');
      console.log(`${file}: ${replies.length} message(s)`);
    };
    for (const [mode, n] of Object.entries(modes)) {
      const parent = mode === 'passthru' ? 'v1' : 'v0';
      const l = await b.linkCreate({ netns: ns, kind: 'macvtap', parent, mode: n, name: `mvt-${mode}`, mac: mode === 'passthru' ? undefined : '52:54:00:ab:cd:0' + n });
      await save(`getlink-macvtap-${mode}.hex`, b.nlEncode('getlink', { link: l.name }));
    }
    const tap = await b.tapCreate({ netns: ns, name: 'tap-mq', queues: 4, vnetHdr: true });
    await b.linkSet({ netns: ns, link: 'tap-mq', master: 'br0', up: true });
    await save('getlink-tap-mq4.hex', b.nlEncode('getlink', { link: 'tap-mq' }));
    tap.fds.forEach((fd) => b.close(fd));
    await save('dump-links.hex', b.nlEncode('dumplinks'));
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
