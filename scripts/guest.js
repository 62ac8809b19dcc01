// The test guest, shared by the demo, the benchmarks and the e2e tests:
//  - image(): the cached kernel + initramfs (scripts/guest-image.sh builds
//    them on first use, with progress on stderr);
//  - addPeers(ns): inside a namespace the caller created, a bridge with a veth
//    peer and a macvtap parent with a veth peer, addresses on the peers;
//  - domainXml(): a libvirt domain booting the guest with the given NICs;
//  - Console: qemu's serial output, line by line, waiting for NETFD-* markers.
// Never touches the host's own interfaces: everything is inside `ns`.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const REPO = path.join(__dirname, '..');
const DEFAULT_CACHE = path.join(REPO, '.cache', 'guest');

/** The peers' side of the guest networks (see addPeers). */
const NET = {
  bridge: 'br0',
  /** Bridge port whose veth peer holds BRIDGE_PEER. */
  bridgePort: 'b0',
  bridgePeerDev: 'b1',
  bridgePeer: '10.0.0.1',
  /** Guests on the bridge use 10.0.0.2, .3, ... */
  bridgeSubnet: '10.0.0',
  /** The macvtap parent; its veth peer holds MACVTAP_PEER. */
  macvtapParent: 'v0',
  macvtapPeerDev: 'v1',
  macvtapPeer: '10.0.1.1',
  macvtapSubnet: '10.0.1',
};

/** The guest kernel and initramfs, built into `cache` on first use. */
function image(o = {}) {
  const cache = o.cache || process.env.NETFD_GUEST_CACHE || DEFAULT_CACHE;
  const stampFile = path.join(cache, 'stamp');
  const r = spawnSync('bash', [path.join(__dirname, 'guest-image.sh'), cache], {
    stdio: ['ignore', o.quiet ? 'pipe' : process.stderr, o.quiet ? 'pipe' : process.stderr],
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`building the guest image failed (exit ${r.status}):\n${(r.stderr || '').trim()}`);
  const stamp = Object.fromEntries(
    fs
      .readFileSync(stampFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return { kernel: path.resolve(cache, stamp.kernel), initrd: path.resolve(cache, stamp.initrd), stamp };
}

const ipCmd = (ns, args) => execFileSync('ip', ['-n', ns, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
const exists = (ns, dev) => spawnSync('ip', ['-n', ns, 'link', 'show', 'dev', dev], { stdio: 'ignore' }).status === 0;

/**
 * Inside `ns`: bridge br0 (fixed MAC) with port b0, whose veth peer b1 has
 * 10.0.0.1/24; veth v0 (the macvtap parent) whose peer v1 has 10.0.1.1/24.
 * Links that exist already (br0, v0/v1 from a test helper) are reused.
 */
function addPeers(ns) {
  if (!exists(ns, NET.bridge)) ipCmd(ns, ['link', 'add', NET.bridge, 'address', '02:00:00:00:b0:00', 'type', 'bridge']);
  if (!exists(ns, NET.macvtapParent)) ipCmd(ns, ['link', 'add', NET.macvtapParent, 'type', 'veth', 'peer', 'name', NET.macvtapPeerDev]);
  ipCmd(ns, ['link', 'add', NET.bridgePort, 'type', 'veth', 'peer', 'name', NET.bridgePeerDev]);
  ipCmd(ns, ['link', 'set', NET.bridgePort, 'master', NET.bridge]);
  ipCmd(ns, ['addr', 'add', `${NET.bridgePeer}/24`, 'dev', NET.bridgePeerDev]);
  ipCmd(ns, ['addr', 'add', `${NET.macvtapPeer}/24`, 'dev', NET.macvtapPeerDev]);
  for (const dev of ['lo', NET.bridge, NET.bridgePort, NET.bridgePeerDev, NET.macvtapParent, NET.macvtapPeerDev]) ipCmd(ns, ['link', 'set', dev, 'up']);
  return NET;
}

/** A fresh namespace with addPeers() in it; remove() deletes it (and all in it). */
function scratchNetns(prefix = 'netfd-guest') {
  const ns = `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
  execFileSync('ip', ['netns', 'add', ns]);
  const remove = () => spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  try {
    addPeers(ns);
  } catch (e) {
    remove();
    throw e;
  }
  return { ns, remove, net: NET };
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;');

/**
 * The guest's kernel command line: console on ttyS0 plus netfd.* parameters
 * (the protocol is in scripts/guest-image.sh). An array value becomes a
 * comma list: `peer0: [a, b]` pings a, then b, from eth0.
 */
function cmdline(params = {}) {
  const p = Object.entries(params).map(([k, v]) => `netfd.${k}=${Array.isArray(v) ? v.join(',') : v}`);
  return ['console=ttyS0', 'quiet', 'panic=-1', ...p].join(' ');
}

/**
 * One <interface> element. nic: { type: 'bridge'|'direct'|'network'|'ethernet',
 * model (virtio), mac, queues, driver ('vhost'|'qemu'), targetDev (with
 * managed: false, an existing tap: type 'ethernet' only), mode
 * (direct, default bridge), source (bridge, parent, or network name: required
 * for 'network'), alias }.
 */
function interfaceXml(nic) {
  const lines = [`<interface type='${nic.type}'>`];
  if (nic.mac) lines.push(`  <mac address='${nic.mac}'/>`);
  if (nic.type === 'bridge') lines.push(`  <source bridge='${esc(nic.source || NET.bridge)}'/>`);
  if (nic.type === 'direct') lines.push(`  <source dev='${esc(nic.source || NET.macvtapParent)}' mode='${nic.mode || 'bridge'}'/>`);
  if (nic.type === 'network') {
    if (!nic.source) throw new Error("interfaceXml: type 'network' needs source (the network's name)");
    lines.push(`  <source network='${esc(nic.source)}'/>`);
  }
  if (nic.targetDev) lines.push(`  <target dev='${esc(nic.targetDev)}'${nic.managed === false ? " managed='no'" : ''}/>`);
  lines.push(`  <model type='${nic.model || 'virtio'}'/>`);
  const drv = [nic.driver ? `name='${nic.driver}'` : '', nic.queues ? `queues='${nic.queues}'` : ''].filter(Boolean);
  if (drv.length) lines.push(`  <driver ${drv.join(' ')}/>`);
  if (nic.alias) lines.push(`  <alias name='${esc(nic.alias)}'/>`);
  lines.push('</interface>');
  return lines.join('\n');
}

/** A domain that boots the test guest (TCG, serial on stdio, -no-reboot). */
function domainXml({ name, image: img, nics = [], params = {}, memoryMiB = 256, vcpus = 1 }) {
  const ifaces = nics.map((n) => interfaceXml(n).replace(/^/gm, '    ')).join('\n');
  return `<domain type='qemu'>
  <name>${esc(name)}</name>
  <memory unit='MiB'>${memoryMiB}</memory>
  <vcpu>${vcpus}</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${esc(img.kernel)}</kernel>
    <initrd>${esc(img.initrd)}</initrd>
    <cmdline>${esc(cmdline(params))}</cmdline>
  </os>
  <on_reboot>destroy</on_reboot>
  <devices>
${ifaces}
    <serial type='stdio'/>
  </devices>
</domain>
`;
}

/**
 * The guest's serial console, from a readable stream (qemu's stdout with
 * stdio 'pipe'). `wait(re)` resolves with the first line matching `re` seen
 * since the console was created (or since `from`), rejects on timeout or when
 * the stream ends first, with the last lines in the message.
 */
class Console {
  constructor(stream, o = {}) {
    this.lines = [];
    this.ended = false;
    this.echo = o.echo || null;
    this.waiters = new Set();
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      const parts = (partial + chunk).split(/\r?\n/);
      partial = parts.pop();
      for (const l of parts) this.#line(l);
    });
    stream.on('end', () => {
      if (partial) this.#line(partial);
      this.ended = true;
      for (const w of this.waiters) w();
    });
  }

  #line(l) {
    this.lines.push({ text: l, at: Date.now() });
    if (this.echo) this.echo(l);
    for (const w of this.waiters) w();
  }

  /** Resolves with { text, match, at, index } for the first matching line at index >= from. */
  wait(re, timeoutMs = 90000, from = 0) {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.lines.length; i++) {
          const m = re.exec(this.lines[i].text);
          if (m) return done(() => resolve({ ...this.lines[i], match: m, index: i }));
        }
        if (this.ended) done(() => reject(new Error(`guest console ended without ${re}:\n${this.tail()}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no ${re} on the guest console within ${timeoutMs} ms:\n${this.tail()}`))), timeoutMs);
      const done = (f) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        f();
      };
      this.waiters.add(check);
      check();
    });
  }

  tail(n = 15) {
    return this.lines
      .slice(-n)
      .map((l) => `  | ${l.text}`)
      .join('\n');
  }
}

module.exports = { NET, image, addPeers, scratchNetns, cmdline, interfaceXml, domainXml, Console, DEFAULT_CACHE };
