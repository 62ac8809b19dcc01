// End to end: a libvirt-style direct network. Defined, started, listed and
// destroyed through the CLI; two guests launched through the library with
// <interface type='network'> on it. Each gets a macvtap in bridge mode on the
// pool device v0, so the two guests reach each other (siblings on one
// macvlan parent) as well as the veth peer outside the group. Everything
// lives in a private namespace and a temp dir.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { Test } from 'tap';
import { launchDomain, LaunchedDomain } from '../../lib/qemu/launch';
import { Networks } from '../../lib/netdev/networks';
import * as guest from '../../scripts/guest';
import { inheritedFds, ipLink, needsRoot, withNetns } from '../helpers/host';
import { linkNames, netfd, qemuFds } from '../helpers/e2e';

const img = needsRoot ? null : guest.image({ quiet: true });
const names = linkNames;

const running = (l: LaunchedDomain) => l.child.exitCode === null && l.child.signalCode === null;

/** The <forward> total and v0's count in the network's live XML (net-dumpxml). */
function counts(xml: string): { forward: number; v0: number } {
  const num = (re: RegExp) => Number(re.exec(xml)?.[1] ?? NaN);
  return { forward: num(/<forward\b[^>]*\bconnections="(\d+)"/), v0: num(/<interface dev="v0" connections="(\d+)"\/>/) };
}

t.test('two guests on one bridge-mode network reach the peer and each other; the network counts them', { skip: needsRoot }, async (t: Test) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-e2e-net-'));
  const config = path.join(dir, 'networks');
  const state = path.join(dir, 'state');
  const launched: LaunchedDomain[] = [];
  const killAll = async () => {
    for (const l of launched) {
      if (running(l)) l.child.kill('SIGKILL');
      await l.exited;
    }
  };
  // qemu first (its teardown writes into the state dir), then the dir.
  t.teardown(async () => {
    await killAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  await withNetns(
    t,
    async (ns) => {
      try {
        await body(ns);
      } finally {
        await killAll(); // on failure too: qemu and its macvtaps go before the namespace does
      }
    },
    { bridge: true },
  );

  async function body(ns: string) {
    const net = guest.addPeers(ns);
    const before = names(ns);
    const g = ['--config-dir', config, '--state-dir', state, '--netns', ns];
    const netFile = path.join(dir, 'lan.xml');
    fs.writeFileSync(netFile, `<network><name>lan</name><forward mode='bridge'><interface dev='${net.macvtapParent}'/></forward></network>\n`);

    // define and start through the CLI
    const defined = netfd([...g, 'net-define', netFile]);
    t.equal(defined.status, 0, `net-define: ${defined.stderr.trim()}`);
    t.match(defined.stdout, /^Network lan defined from .*lan\.xml \(uuid [0-9a-f-]{36}\)$/m);
    t.ok(fs.existsSync(path.join(config, 'lan.xml')), 'the definition is in the config dir');
    t.match(JSON.parse(netfd([...g, 'net-list', '--all', '--json']).stdout), [{ name: 'lan', active: false, persistent: true, connections: null }], 'defined, not active');
    const started = netfd([...g, 'net-start', 'lan']);
    t.equal(started.status, 0, `net-start: ${started.stderr.trim()}`);
    t.match(started.stdout, /^Network lan started: 1 device\(s\) in its pool$/m);
    t.same(counts(netfd([...g, 'net-dumpxml', 'lan']).stdout), { forward: 0, v0: 0 }, 'live XML: no connections yet');

    // two guests, each pinging the peer and then the other guest (which may
    // still be booting: the guest retries for netfd.wait seconds)
    const A = { name: 'neta', mac: '52:54:00:e2:e1:0a', ip: `${net.macvtapSubnet}.2` };
    const B = { name: 'netb', mac: '52:54:00:e2:e1:0b', ip: `${net.macvtapSubnet}.3` };
    const boot = async (me: typeof A, other: typeof A) => {
      const xml = guest.domainXml({
        name: me.name,
        image: img as guest.GuestImage,
        nics: [{ type: 'network', source: 'lan', mac: me.mac }],
        params: { ip0: `${me.ip}/24`, peer0: [net.macvtapPeer, other.ip], wait: 60, hold: 1, shell: 1 },
      });
      const l = await launchDomain(xml, { netns: ns, stateDir: state, configDir: config, stdio: 'pipe' });
      launched.push(l);
      return { l, console: new guest.Console(l.child.stdout as NodeJS.ReadableStream as never) };
    };
    const a = await boot(A, B);
    const b = await boot(B, A);

    // the network records both connections on v0
    const live = netfd([...g, 'net-dumpxml', 'lan']).stdout;
    t.same(counts(live), { forward: 2, v0: 2 }, "net-dumpxml: connections='2' on <forward> and on v0");
    t.match(live, /<name>lan<\/name>\s*<uuid>[0-9a-f-]{36}<\/uuid>\s*<forward dev="v0" mode="bridge" connections="2">\s*<interface dev="v0" connections="2"\/>\s*<\/forward>/);
    t.notMatch(netfd([...g, 'net-dumpxml', 'lan', '--inactive']).stdout, /connections=/, '--inactive: the definition, without counts');
    t.match(JSON.parse(netfd([...g, 'net-list', '--json']).stdout), [{ name: 'lan', active: true, connections: 2 }]);
    const status = await new Networks({ configDir: config, stateDir: state }).status('lan');
    t.same(
      status.connections.map((c) => [c.domain, c.mac, c.dev]).sort(),
      [
        [A.name, A.mac, 'v0'],
        [B.name, B.mac, 'v0'],
      ],
      'Networks.status: one connection per guest, both on v0',
    );
    const busy = netfd([...g, 'net-destroy', 'lan']);
    t.equal(busy.status, 1, 'net-destroy is refused while guests are connected');
    t.match(busy.stderr, /EBUSY: network 'lan' has 2 connection\(s\), from domain\(s\) neta, netb/);

    // each guest: <actual> in its live XML, a bridge-mode macvtap on v0 with
    // its MAC, whose character device qemu holds at fd 3
    const macvtaps: string[] = [];
    for (const [me, { l }] of [
      [A, a],
      [B, b],
    ] as const) {
      const domLive = fs.readFileSync(path.join(state, `${me.name}.xml`), 'utf8');
      t.equal(netfd([...g, 'dumpxml', me.name]).stdout, domLive, `${me.name}: dumpxml shows the live XML`);
      const m = new RegExp(
        `<interface type="network">\\s*<mac address="${me.mac}"/>\\s*<source network="lan"/>\\s*<actual type="direct">\\s*<source dev="v0" mode="bridge"/>\\s*</actual>\\s*<target dev="(macvtap\\d+)"/>`,
      ).exec(domLive);
      t.ok(m, `${me.name}: the live XML records <actual type='direct'><source dev='v0' mode='bridge'/></actual>`);
      const dev = m?.[1] ?? '?';
      macvtaps.push(dev);
      const link = ipLink(ns, dev);
      t.match(link, { link: 'v0', address: me.mac, linkinfo: { info_kind: 'macvtap', info_data: { mode: 'bridge' } } }, `${me.name}: ${dev} is a bridge-mode macvtap on v0 with the guest's MAC`);
      const fds = await qemuFds(l);
      t.match(fds.find(([fd]) => fd === 3)?.[1], new RegExp(`tap${link.ifindex}( \\(deleted\\))?$`), `${me.name}: qemu's fd 3 is ${dev}'s character device (tap${link.ifindex})`);
      t.same(
        fds.filter(([fd, target]) => fd > 3 && !/^(anon_inode:|socket:)/.test(target) && !inheritedFds().has(fd)),
        [],
        `${me.name}: nothing else of netfd reached qemu`,
      );
    }
    t.not(macvtaps[0], macvtaps[1], 'two macvtaps');

    // the pings: peer first, then the sibling guest
    const ping = async (c: guest.Console, peer: string) => (await c.wait(new RegExp(`^NETFD-PING-(OK|FAIL) eth0 ${peer.replace(/\./g, '\\.')} `))).text;
    t.match(await ping(a.console, net.macvtapPeer), `NETFD-PING-OK eth0 ${net.macvtapPeer} recv=3/3`, 'A pings the peer');
    t.match(await ping(b.console, net.macvtapPeer), `NETFD-PING-OK eth0 ${net.macvtapPeer} recv=3/3`, 'B pings the peer');
    t.match(await ping(a.console, B.ip), `NETFD-PING-OK eth0 ${B.ip} recv=3/3`, 'A pings B (bridge mode: siblings on v0 talk)');
    t.match(await ping(b.console, A.ip), `NETFD-PING-OK eth0 ${A.ip} recv=3/3`, 'B pings A');
    await Promise.all([a.console.wait(/^NETFD-READY/), b.console.wait(/^NETFD-READY/)]);
    for (const [who, c] of [
      ['A', a.console],
      ['B', b.console],
    ] as const)
      t.comment(
        `${who}: ${c.lines
          .filter((l) => /^NETFD-(BOOT|IP|PING|READY)/.test(l.text))
          .map((l) => l.text.replace(/ kernel=.*| mac=.*| rtt=.*(?= t=)/, ''))
          .join(' | ')}`,
      );
    t.same(counts(netfd([...g, 'net-dumpxml', 'lan']).stdout), { forward: 2, v0: 2 }, 'still 2 connections after the pings');

    // A: SIGKILL. Its macvtap and connection go; B's stay.
    a.l.child.kill('SIGKILL');
    t.match(await a.l.exited, { signal: 'SIGKILL' });
    t.same(counts(netfd([...g, 'net-dumpxml', 'lan']).stdout), { forward: 1, v0: 1 }, 'A killed: 1 connection left');
    t.notOk(names(ns).includes(macvtaps[0]), `A's ${macvtaps[0]} is deleted`);
    t.ok(names(ns).includes(macvtaps[1]), `B's ${macvtaps[1]} stays`);

    // B: powers off from its console shell (netfd.shell=1); qemu exits 0.
    b.l.child.stdin?.write('\npoweroff -f\n');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise((r) => (timer = setTimeout(() => r('still running 30 s after poweroff -f'), 30_000)));
    t.same(await Promise.race([b.l.exited, late]), { code: 0, signal: null }, 'B powered off; qemu exited 0');
    clearTimeout(timer);
    t.same(counts(netfd([...g, 'net-dumpxml', 'lan']).stdout), { forward: 0, v0: 0 }, 'both stopped: 0 connections');
    t.match(JSON.parse(netfd([...g, 'net-list', '--json']).stdout), [{ name: 'lan', active: true, connections: 0 }]);
    t.same(names(ns), before, 'both macvtaps are gone');
    t.same(fs.readdirSync(state), ['networks'], "the domains' live XML, pid files and QMP sockets are removed");

    // destroy and undefine through the CLI
    const destroyed = netfd([...g, 'net-destroy', 'lan']);
    t.equal(destroyed.status, 0, `net-destroy: ${destroyed.stderr.trim()}`);
    t.match(destroyed.stdout, /^Network lan destroyed$/m);
    t.same(
      fs.readdirSync(path.join(state, 'networks')).filter((f) => !f.startsWith('.')),
      [],
      "the network's live state is removed",
    );
    t.match(JSON.parse(netfd([...g, 'net-list', '--all', '--json']).stdout), [{ name: 'lan', active: false, connections: null }]);
    const undefined_ = netfd([...g, 'net-undefine', 'lan']);
    t.equal(undefined_.status, 0, `net-undefine: ${undefined_.stderr.trim()}`);
    t.same(JSON.parse(netfd([...g, 'net-list', '--all', '--json']).stdout), [], 'no network left');
  }
});
