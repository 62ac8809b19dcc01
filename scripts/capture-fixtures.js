#!/usr/bin/env node
// Captures real rtnetlink replies from this kernel into test/fixtures/netlink/
// (hex, one message per line), for the decoder tests. Run as root; works in a
// scratch namespace that it removes again. `node scripts/capture-fixtures.js
// hostops` captures only the host-operation replies (bridge ports, qdiscs,
// addresses, routes); `links` only the link ones; no argument: both.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const b = require(path.join(__dirname, '..', 'build', 'Release', 'netfd.node'));

// Each part works in a namespace of its own (so one part's links never show
// in another's dumps); `ns` is the current one.
let ns = '';
const out = path.join(__dirname, '..', 'test', 'fixtures', 'netlink');
const ip = (...a) => execFileSync('ip', ['-n', ns, ...a]);

// The raw reply to one request, error messages included: nlRequest throws on
// an error reply, so a plain socket opened by python3 in the namespace.
function rawReply(request) {
  const py = `
import socket,sys
s=socket.socket(socket.AF_NETLINK,socket.SOCK_RAW,socket.NETLINK_ROUTE)
s.setsockopt(270,11,1); s.setsockopt(270,10,1)
s.bind((0,0))
s.send(bytes.fromhex(sys.argv[1]))
print(s.recv(65536).hex())`;
  return execFileSync('ip', ['netns', 'exec', ns, 'python3', '-c', py, request.toString('hex')], { encoding: 'utf8' });
}

async function save(file, request) {
  const replies = await b.nlRequest({ netns: ns, request });
  fs.writeFileSync(path.join(out, file), replies.map((r) => r.toString('hex')).join('\n') + '\n');
  console.log(`${file}: ${replies.length} message(s)`);
}

// Bridge ports, qdiscs, addresses and routes (lib/bridge.ts, qdisc.ts, addr.ts).
async function captureHostOps() {
  const index = async (name) => (await b.getLink({ netns: ns, link: name })).index;
  ip('link', 'add', 'hv0', 'type', 'veth', 'peer', 'name', 'hv1');
  ip('link', 'add', 'hbr0', 'type', 'bridge');
  ip('link', 'set', 'hv0', 'master', 'hbr0');
  await save('getlink-bridge.hex', b.nlEncode('getlink', { link: 'hbr0' }));
  await b.setBridgePort({ netns: ns, link: 'hv0', isolated: true });
  const tap = await b.createTap({ netns: ns, name: 'htap0' });
  try {
    ip('link', 'set', 'htap0', 'master', 'hbr0');
    await save('dump-bridge-ports-isolated.hex', b.nlEncode('dumpbridgeports'));
    await b.setRootQdisc({ netns: ns, link: 'htap0', kind: 'noqueue' });
    await save('dump-qdiscs-noqueue.hex', b.nlEncode('dumpqdiscs'));
    ip('link', 'set', 'htap0', 'nomaster');
    ip('link', 'set', 'htap0', 'up');
    await b.addAddress({ netns: ns, link: 'htap0', address: '192.0.2.1', prefix: 24, broadcast: '192.0.2.255' });
    await b.addAddress({ netns: ns, link: 'htap0', address: '10.0.0.1', prefix: 32, peer: '10.0.0.2' });
    await b.addAddress({ netns: ns, link: 'htap0', address: '2001:db8::1', prefix: 64 });
    await save('dump-addrs.hex', b.nlEncode('dumpaddrs'));
    await b.addRoute({ netns: ns, link: 'htap0', address: '198.51.100.0', prefix: 24, gateway: '192.0.2.2', metric: 1, protocol: 3 });
    await b.addRoute({ netns: ns, link: 'htap0', address: '2001:db8:1::', prefix: 48, gateway: '2001:db8::2', protocol: 4 });
    await save('dump-routes.hex', b.nlEncode('dumproutes'));
    // Kernel refusals with extended-ack text.
    const tapIndex = await index('htap0');
    fs.writeFileSync(path.join(out, 'error-extack-mtu-above-max.hex'), rawReply(b.nlEncode('setlink', { link: tapIndex, mtu: 65535 })));
    fs.writeFileSync(path.join(out, 'error-extack-vlan-invalid.hex'), rawReply(b.nlEncode('bridgevlan-add', { link: await index('hv0'), vid: 4095 })));
  } finally {
    tap.fds.forEach((fd) => b.close(fd));
  }
}

async function main() {
  const parts = { links: captureLinks, hostops: captureHostOps };
  const only = process.argv[2];
  if (only !== undefined && !(only in parts)) throw new Error(`unknown part ${only}: links or hostops`);
  fs.mkdirSync(out, { recursive: true });
  for (const [name, capture] of Object.entries(parts)) {
    if (only !== undefined && only !== name) continue;
    ns = `netfd-capture-${process.pid}-${name}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      await capture();
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  }
}

// Links: macvtaps in each mode, a multiqueue tap on a bridge, a dump, an error.
async function captureLinks() {
  ip('link', 'add', 'v0', 'address', '02:00:00:00:00:10', 'type', 'veth', 'peer', 'name', 'v1');
  ip('link', 'add', 'br0', 'type', 'bridge');
  // An error with extended-ack text: a bridge into a bridge.
  const err = b.nlEncode('setlink', { link: 'br0', master: (await b.getLink({ netns: ns, link: 'br0' })).index });
  fs.writeFileSync(path.join(out, 'setlink-bridge-in-bridge.request.hex'), err.toString('hex') + '\n');
  fs.writeFileSync(path.join(out, 'error-extack-bridge-in-bridge.hex'), rawReply(err));
  const modes = { vepa: 2, bridge: 4, private: 1, passthru: 8 };
  for (const [mode, n] of Object.entries(modes)) {
    const parent = mode === 'passthru' ? 'v1' : 'v0';
    const l = await b.createMacvtap({ netns: ns, kind: 'macvtap', parent, mode: n, name: `mvt-${mode}`, mac: mode === 'passthru' ? undefined : '52:54:00:ab:cd:0' + n });
    await save(`getlink-macvtap-${mode}.hex`, b.nlEncode('getlink', { link: l.name }));
  }
  const tap = await b.createTap({ netns: ns, name: 'tap-mq', queues: 4, vnetHdr: true });
  await b.setLink({ netns: ns, link: 'tap-mq', master: 'br0', up: true });
  await save('getlink-tap-mq4.hex', b.nlEncode('getlink', { link: 'tap-mq' }));
  tap.fds.forEach((fd) => b.close(fd));
  await save('dump-links.hex', b.nlEncode('dumplinks'));
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
