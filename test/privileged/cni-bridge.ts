// The CNI plugin's bridged tap (type='bridge', `bridge` or <source bridge>):
// a tap in the agent's namespace (a scratch namespace playing the node, with
// bridge br0), a port of the bridge there, named from the attachment and
// recorded before it is made; the result lists the bridge and the port as
// node interfaces; CHECK of MAC, MTU, state and the port's bridge; DEL also
// after the pod's namespace is gone (the tap outlives it), twice; GC; the
// agent SIGKILLed after making the tap, then DEL; refusals (no such bridge,
// not a bridge, a MAC on the bridge, IPAM, the ACL) and STATUS; the claim
// by an unprivileged user in the pod moving frames through the bridge. Every
// namespace, link and record is removed, also when a test fails.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { hostTapName } from '../../lib/agent/cni-device';
import { startAgent, testUser, until } from '../helpers/agent';
import { claimAs, cniHold, config, envOf, noPlugin, PLUGIN, records, runPlugin, rxPackets, withPod } from '../helpers/cni';
import { ip, ipLink, linkNames, needsRoot, scratchDir, withNetns } from '../helpers/host';

const skip = needsRoot || noPlugin;
const ACL = 'allow user root bridge br0\n';
const MAC = '52:54:00:00:00:2a';

/** The node's ports of br0 (names). */
const portsOf = (host: string, br = 'br0'): string[] => (JSON.parse(ip(['-n', host, '-j', 'link', 'show', 'master', br])) as { ifname: string }[]).map((l) => l.ifname).sort();

t.test("a bridged tap: a port of the node's bridge, the result, CHECK, DEL (also after the pod is gone), GC", { skip }, async (t) => {
  await withNetns(
    t,
    async (host) => {
      const a = await startAgent(t, { ns: host, acl: ACL });
      ip(['-n', host, 'link', 'set', 'br0', 'mtu', '1400']);
      const tapName = hostTapName(0, 'b1', 'net1');
      await withPod(t, host, async (pod, netns) => {
        const conf = { bridge: 'br0', queues: 2, runtimeConfig: { mac: MAC } };
        const add = await runPlugin(envOf(a, 'ADD', 'b1', netns), config('1.1.0', conf));
        t.equal(add.code, 0, `ADD ${add.stdout}`);
        t.strictSame(
          add.json,
          {
            cniVersion: '1.1.0',
            interfaces: [
              { name: 'br0', mac: '02:00:00:00:b0:00' },
              { name: tapName, mac: 'fe:54:00:00:00:2a', mtu: 1400, socketPath: a.socket },
            ],
            dns: {},
          },
          'the result: the bridge and its new port, both on the node (no sandbox)',
        );
        const l = ipLink(host, tapName);
        t.match(l.linkinfo?.info_data, { type: 'tap', multi_queue: true, persist: true }, 'a persistent multiqueue tap in the node namespace');
        t.equal(l.master, 'br0', 'a port of br0');
        t.equal(l.address, 'fe:54:00:00:00:2a', "its host side: the guest's MAC with 0xFE first, as libvirt's");
        t.equal((l as unknown as { mtu: number }).mtu, 1400, "the bridge's MTU (no <mtu> given)");
        t.ok(l.flags.includes('UP'), 'up');
        t.same(linkNames(pod), ['lo'], 'nothing in the pod');
        t.equal(records(a).length, 1, 'recorded');

        const again = await runPlugin(envOf(a, 'ADD', 'b1', netns), config('1.1.0', conf));
        t.match(again.json, { code: 130, msg: /already has net1/ }, 'ADD twice: refused (EEXIST)');
        t.same(portsOf(host), [tapName], 'still one port');

        const check = () => runPlugin(envOf(a, 'CHECK', 'b1', netns), config('1.1.0', { ...conf, prevResult: add.json }));
        t.equal((await check()).code, 0, 'CHECK passes');
        const changes: [string, string[], string[], RegExp][] = [
          ['MAC', ['address', 'fe:54:00:00:00:2b'], ['address', 'fe:54:00:00:00:2a'], /MAC is fe:54:00:00:00:2b/],
          ['MTU', ['mtu', '1300'], ['mtu', '1400'], /MTU is 1300/],
          ['state', ['down'], ['up'], /down/],
          ['bridge', ['nomaster'], ['master', 'br0'], /no longer a port of bridge br0/],
        ];
        for (const [what, change, back, msg] of changes) {
          ip(['-n', host, 'link', 'set', tapName, ...change]);
          t.match((await check()).json, { code: 140, msg }, `${what} changed: CHECK fails naming it`);
          ip(['-n', host, 'link', 'set', tapName, ...back]);
          if (what === 'bridge') ip(['-n', host, 'link', 'set', tapName, 'up']);
          t.equal((await check()).code, 0, `${what} back: CHECK passes`);
        }
      });
      // The pod's namespace is gone; its bridged tap is not, until DEL (without CNI_NETNS, as a runtime sends it then).
      t.ok(linkNames(host).includes(tapName), 'the tap outlives the pod namespace');
      const del = () => runPlugin(envOf(a, 'DEL', 'b1', undefined), config('1.1.0', { bridge: 'br0' }));
      t.equal((await del()).code, 0, 'DEL after the pod went');
      t.notOk(linkNames(host).includes(tapName), 'removed the tap from the node');
      t.same(records(a), [], 'and the record');
      t.equal((await del()).code, 0, 'DEL twice: 0');

      // 0.3.1, no MAC given: a generated guest MAC, the tap's host side from it; then GC removes it.
      await withPod(t, host, async (_pod, netns) => {
        const add = await runPlugin(envOf(a, 'ADD', 'b2', netns), config('0.3.1', { bridge: 'br0' }));
        t.equal(add.code, 0, add.stdout);
        const name = hostTapName(0, 'b2', 'net1');
        t.match(ipLink(host, name).address, /^fe:54:00(:[0-9a-f]{2}){3}$/, 'the host side of a generated 52:54:00 MAC');
        t.strictSame(
          add.json,
          {
            cniVersion: '0.3.1',
            interfaces: [
              { name: 'br0', mac: '02:00:00:00:b0:00' },
              { name, mac: ipLink(host, name).address },
            ],
            dns: {},
          },
          'a 0.3.1 result',
        );
        const gc = await runPlugin(envOf(a, 'GC', ''), config('1.1.0', { bridge: 'br0', 'cni.dev/valid-attachments': [] }));
        t.equal(gc.code, 0, `GC ${gc.stdout}`);
        t.notOk(linkNames(host).includes(name), 'GC removed the tap');
        t.same(records(a), []);
      });
      t.same(portsOf(host), [], 'br0 has no port left');
    },
    { bridge: true },
  );
});

t.test('refusals: no such bridge (ADD and STATUS), not a bridge, a MAC on the bridge, IPAM, the ACL', { skip }, async (t) => {
  await withNetns(
    t,
    async (host) => {
      const a = await startAgent(t, { ns: host, acl: 'allow user root bridge *\n' });
      const before = linkNames(host);
      await withPod(t, host, async (pod, netns) => {
        const missing = await runPlugin(envOf(a, 'ADD', 'r1', netns), config('1.1.0', { bridge: 'nonesuch' }));
        t.match(missing.json, { code: 132, msg: /bridge nonesuch does not exist in the agent's network namespace/ }, 'a missing bridge, named');
        const veth = await runPlugin(envOf(a, 'ADD', 'r2', netns), config('1.1.0', { bridge: 'v0' }));
        t.match(veth.json, { code: 7, msg: /v0 is a veth link, not a bridge/ }, 'a device that is not a bridge');
        const own = await runPlugin(envOf(a, 'ADD', 'r3', netns), config('1.1.0', { bridge: 'br0', runtimeConfig: { mac: '02:00:00:00:b0:00' } }));
        t.match(own.json, { code: 136, msg: /MAC 02:00:00:00:b0:00 is already used by br0 on bridge br0/ }, "the bridge's own MAC as the guest's: refused");
        const ipam = await runPlugin(envOf(a, 'ADD', 'r4', netns), config('1.1.0', { bridge: 'br0', ipam: { type: 'static', addresses: [{ address: '10.1.1.1/24' }] } }));
        t.match(ipam.json, { code: 2, msg: /unsupported field ipam="static"/ }, 'IPAM refused by name: no device in the pod to put addresses on');
        t.same(linkNames(host), before, 'nothing made on the node');
        t.same(linkNames(pod), ['lo'], 'nor in the pod');
        t.same(records(a), [], 'no record left');
      });
      t.equal((await runPlugin(envOf(a, 'STATUS', 'x'), config('1.1.0', { bridge: 'br0' }))).code, 0, 'STATUS with the bridge there: 0');
      t.match((await runPlugin(envOf(a, 'STATUS', 'x'), config('1.1.0', { bridge: 'nonesuch' }))).json, { code: 50, msg: /bridge nonesuch does not exist/ }, 'STATUS with the bridge missing: 50');
    },
    { bridge: true },
  );
  await withNetns(
    t,
    async (host) => {
      const a = await startAgent(t, { ns: host, acl: 'allow user root bridge br1\n' });
      await withPod(t, host, async (_pod, netns) => {
        const denied = await runPlugin(envOf(a, 'ADD', 'r5', netns), config('1.1.0', { bridge: 'br0' }));
        t.match(denied.json, { code: 117, msg: /bridge br0/ }, 'a bridge the ACL does not name');
        t.same(portsOf(host), []);
      });
    },
    { bridge: true },
  );
});

t.test('the agent SIGKILLed after making the tap, before recording its ifindex: DEL after a restart removes it from the node', { skip }, async (t) => {
  const hold = cniHold(t);
  await withNetns(
    t,
    async (host) => {
      let a = await startAgent(t, { ns: host, acl: ACL });
      hold('tap-made');
      const name = hostTapName(0, 'k1', 'net1');
      await withPod(t, host, async (_pod, netns) => {
        const add = runPlugin(envOf(a, 'ADD', 'k1', netns), config('1.1.0', { bridge: 'br0' }));
        await until('the ADD held after making the tap', () => a.log().includes('"msg":"CNI test hold"'));
        t.ok(linkNames(host).includes(name), 'the tap is on the node');
        const gone = new Promise((r) => a.proc.once('exit', r));
        a.proc.kill('SIGKILL');
        await gone;
        t.match((await add).json, { code: 11 }, 'the ADD cut short: try again later');
      });
      hold('');
      a = await a.restart();
      t.equal((await runPlugin(envOf(a, 'DEL', 'k1', undefined), config('1.1.0', { bridge: 'br0' }))).code, 0, 'DEL (the pod gone too)');
      t.notOk(linkNames(host).includes(name), 'found by its recorded name and removed');
      t.same(records(a), [], 'no record left');
    },
    { bridge: true },
  );
});

t.test('cni-claim of a bridged tap: a user in the pod takes two queues and asks the bridge for its address and reads its answer; not from the node', { skip }, async (t) => {
  await withNetns(
    t,
    async (host) => {
      const user = testUser(t, 'b');
      const a = await startAgent(t, { ns: host, acl: ACL });
      ip(['-n', host, 'addr', 'add', '10.9.6.1/24', 'dev', 'br0']);
      await withPod(t, host, async (pod, netns) => {
        const add = await runPlugin(envOf(a, 'ADD', 'vm1', netns), config('1.1.0', { bridge: 'br0', queues: 2, runtimeConfig: { mac: MAC } }));
        t.equal(add.code, 0, add.stdout);
        const rx = rxPackets(host, 'br0');
        // The guest's ARP request for the bridge's address (a valid frame: br_netfilter, when loaded, drops malformed IPv4 at the bridge).
        const arp = `ffffffffffff${MAC.replace(/:/g, '')}08060001080006040001${MAC.replace(/:/g, '')}0a090602${'00'.repeat(6)}0a090601`;
        // The bridge's answer comes back through the port to the claimed fd (the read needs an onClaimed: nothing else to do).
        const got = await claimAs(user, pod, a.socket, 'vm1', 'net1', () => undefined, arp);
        t.equal(got.ok, true, `claimed: ${JSON.stringify(got.error ?? '')}`);
        t.match(
          got.result,
          { containerId: 'vm1', ifname: 'net1', kind: 'tap', ifindex: ipLink(host, hostTapName(0, 'vm1', 'net1')).ifindex, guestMac: MAC, vnetHdr: true, tapFds: 2 },
          "two queues of the node's port, and the guest's MAC",
        );
        t.equal(got.wrote, 12 + 42, 'a frame written on the first queue');
        t.ok(rxPackets(host, 'br0') > rx, 'the bridge received it');
        t.match(
          got.read,
          new RegExp(`^${MAC.replace(/:/g, '')}02000000b00008060001080006040002`),
          "and its ARP reply to the guest's MAC read from the fd (frames both ways through the node's bridge)",
        );
        t.match(await claimAs(user, host, a.socket, 'vm1', 'net1'), { ok: false, error: { code: 'ACCESS_DENIED' } }, 'from the node namespace, where the tap is: refused');
        t.equal((await runPlugin(envOf(a, 'DEL', 'vm1', netns), config('1.1.0', { bridge: 'br0' }))).code, 0);
      });
      t.same(portsOf(host), [], 'no port left');
      t.same(records(a), []);
    },
    { bridge: true },
  );
});

t.test("a user's attachments count against its limits: over `limit … interfaces`, refused and nothing made; root's are not its to remove", { skip }, async (t) => {
  await withNetns(
    t,
    async (host) => {
      const user = testUser(t, 'l');
      const a = await startAgent(t, { ns: host, acl: `allow user root bridge br0\nallow user ${user.name} bridge br0\nlimit user ${user.name} interfaces 2\n` });
      const dir = scratchDir(t, 'netfd-cni-limit-');
      fs.chmodSync(dir, 0o755);
      const bin = path.join(dir, 'netfd');
      fs.copyFileSync(PLUGIN, bin);
      fs.chmodSync(bin, 0o755);
      await withPod(t, host, async (upod, unetns) => {
        // The user's own namespace (its plugin runs there), which is not the agent's: it may add attachments for it.
        const as = { uid: user.uid, gid: user.gid, binary: bin, ns: upod };
        const conf = config('1.1.0', { bridge: 'br0' });
        for (const id of ['u1', 'u2']) {
          const r = await runPlugin(envOf(a, 'ADD', id, unetns), conf, { as });
          t.equal(r.code, 0, `the user's ADD ${id}: ${r.stdout}`);
        }
        const over = await runPlugin(envOf(a, 'ADD', 'u3', unetns), conf, { as });
        t.match(over.json, { code: 118, msg: new RegExp(`${user.name} may hold at most 2 interfaces .* holds 2 interfaces`) }, 'a third: over its limit, refused naming it');
        t.notOk(linkNames(host).includes(hostTapName(user.uid, 'u3', 'net1')), 'and not made');
        t.same(portsOf(host), [hostTapName(user.uid, 'u1', 'net1'), hostTapName(user.uid, 'u2', 'net1')].sort(), "the user's two taps on br0");
        // Root's attachment of the same container id and ifname: another tap, which the user's DEL and GC do not see.
        const rootAdd = await runPlugin(envOf(a, 'ADD', 'u1', unetns), conf);
        t.equal(rootAdd.code, 0, rootAdd.stdout);
        t.equal((await runPlugin(envOf(a, 'GC', ''), config('1.1.0', { bridge: 'br0', 'cni.dev/valid-attachments': [] }), { as })).code, 0, "the user's GC");
        t.same(portsOf(host), [hostTapName(0, 'u1', 'net1')], "removed the user's attachments, not root's");
        const again = await runPlugin(envOf(a, 'ADD', 'u3', unetns), conf, { as });
        t.equal(again.code, 0, 'under its limit again: ADD');
        t.equal((await runPlugin(envOf(a, 'DEL', 'u3', unetns), conf, { as })).code, 0);
        t.equal((await runPlugin(envOf(a, 'DEL', 'u1', unetns), conf)).code, 0, "root's DEL");
      });
      t.same(portsOf(host), [], 'no port left');
      t.same(records(a), [], 'no record left');
    },
    { bridge: true },
  );
});
