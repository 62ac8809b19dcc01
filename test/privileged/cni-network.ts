// The CNI plugin's network attachments (type='network', `network` or
// <source network>): a device of a netfd network's pool, allocated in its
// ledger as a domain's connection is (owner: a domain named after the
// attachment, in the caller's CNI directory, whose live XML records it), for
// a macvtap made in the pod in the network's forward mode. Spread over a
// vepa pool; passthrough's one guest per device, its MAC lent and given
// back; STATUS 50 when no device is free or the network is not active;
// net-destroy refused while attached; the agent SIGKILLed after the
// allocation, then DEL or GC gives the device back. The "node" is a scratch
// namespace with veth pool devices; every namespace, link, record and
// connection is removed, also when a test fails.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { NetworkXml } from '../../lib';
import { Networks } from '../../lib/netdev/networks';
import { startAgent, until } from '../helpers/agent';
import { cniHold, config, envOf, noPlugin, records, runPlugin, withPod } from '../helpers/cni';
import { ipLink, linkNames, needsRoot, withNetns } from '../helpers/host';
import type { RunningAgent } from '../helpers/agent';

const skip = needsRoot || noPlugin;

/** veth pairs DEV <-> qN in the namespace, the DEV side up. */
function veths(ns: string, devs: string[]): void {
  const batch = devs.flatMap((d, i) => [`link add ${d} type veth peer name q${i}`, `link set ${d} up`]).join('\n');
  const r = spawnSync('ip', ['-n', ns, '-batch', '-'], { input: batch, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip -batch: ${r.stderr}`);
}

/** The agent's networks, as root administers them (the same directories). */
const nets = (a: RunningAgent) => new Networks({ stateDir: a.stateDir, configDir: a.configDir });
/** The connections per pool device of a running network. */
const counts = (a: RunningAgent, name: string) => NetworkXml.parse(nets(a).dumpxml(name), { live: true }).def.connections as Record<string, number>;
/** The live XML files of root's CNI attachments (their connections' owners). */
const owners = (a: RunningAgent) => {
  const dir = path.join(a.stateDir, 'cni', '0');
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.xml')) : [];
};

t.test('a vepa pool: each ADD a macvtap in the pod on the least-used device, counted in the ledger; CHECK; DEL gives it back', { skip }, async (t) => {
  await withNetns(t, async (host) => {
    veths(host, ['p0', 'p1']);
    const a = await startAgent(t, { ns: host, acl: 'allow user root network spread\n' });
    await nets(a).define("<network><name>spread</name><forward mode='vepa'><interface dev='p0'/><interface dev='p1'/></forward></network>");
    await nets(a).start('spread');
    const hostBefore = linkNames(host);
    await withPod(t, host, async (pod1, ns1) => {
      await withPod(t, host, async (pod2, ns2) => {
        const conf = (mac: string) => config('1.1.0', { network: 'spread', runtimeConfig: { mac } });
        const add1 = await runPlugin(envOf(a, 'ADD', 'n1', ns1), conf('52:54:00:00:01:01'));
        t.equal(add1.code, 0, `ADD ${add1.stdout}`);
        t.strictSame(add1.json, { cniVersion: '1.1.0', interfaces: [{ name: 'net1', mac: '52:54:00:00:01:01', mtu: 1500, sandbox: ns1, socketPath: a.socket }], dns: {} }, 'the result');
        const add2 = await runPlugin(envOf(a, 'ADD', 'n2', ns2), conf('52:54:00:00:01:02'));
        t.equal(add2.code, 0, `ADD ${add2.stdout}`);
        const l1 = ipLink(pod1, 'net1');
        const l2 = ipLink(pod2, 'net1');
        t.equal(l1.linkinfo?.info_kind, 'macvtap', 'a macvtap in the first pod');
        t.match(l1.linkinfo?.info_data, { mode: 'vepa' }, "in the network's mode");
        const parent = (l: object) => ['p0', 'p1'].find((d) => ipLink(host, d).ifindex === (l as { link_index?: number }).link_index);
        t.strictSame([parent(l1), parent(l2)].sort(), ['p0', 'p1'], 'on the least-used devices: one each');
        t.strictSame(counts(a, 'spread'), { p0: 1, p1: 1 }, "the network's live XML counts both");
        t.equal(owners(a).length, 2, "each connection's owner: a live XML in root's CNI directory");
        t.same(linkNames(host), hostBefore, 'nothing made on the node');
        const check = await runPlugin(envOf(a, 'CHECK', 'n1', ns1), config('1.1.0', { network: 'spread', runtimeConfig: { mac: '52:54:00:00:01:01' }, prevResult: add1.json }));
        t.equal(check.code, 0, `CHECK ${check.stdout}`);
        for (const id of ['n1', 'n2']) t.equal((await runPlugin(envOf(a, 'DEL', id, id === 'n1' ? ns1 : ns2), config('1.1.0', { network: 'spread' }))).code, 0, `DEL ${id}`);
        t.strictSame(counts(a, 'spread'), { p0: 0, p1: 0 }, 'both devices given back');
        t.same(owners(a), [], 'and the owners removed');
        t.same(records(a), []);
      });
    });
    await nets(a).destroy('spread');
  });
});

t.test('a passthrough pool: one guest per device, its MAC lent and given back; no free device: ADD 110, STATUS 50; net-destroy refused while attached; an inactive network', { skip }, async (t) => {
  await withNetns(t, async (host) => {
    veths(host, ['p0']);
    const a = await startAgent(t, { ns: host, acl: 'allow user root network *\n' });
    await nets(a).define("<network><name>pt</name><forward mode='passthrough'><interface dev='p0'/></forward></network>");
    await nets(a).start('pt');
    const own = ipLink(host, 'p0').address;
    const status = () => runPlugin(envOf(a, 'STATUS', 'x'), config('1.1.0', { network: 'pt' }));
    t.equal((await status()).code, 0, 'STATUS with p0 free: 0');
    await withPod(t, host, async (pod1, ns1) => {
      await withPod(t, host, async (pod2, ns2) => {
        const add = await runPlugin(envOf(a, 'ADD', 'pt1', ns1), config('1.1.0', { network: 'pt', runtimeConfig: { mac: '52:54:00:00:02:01' } }));
        t.equal(add.code, 0, add.stdout);
        t.match(ipLink(pod1, 'net1').linkinfo?.info_data, { mode: 'passthru' }, 'a passthrough macvtap');
        t.equal(ipLink(host, 'p0').address, '52:54:00:00:02:01', "p0 carries the guest's MAC");
        t.match((await status()).json, { code: 50, msg: /requires exclusive access to interfaces, but none are available/ }, 'STATUS with the pool used up: 50');
        const second = await runPlugin(envOf(a, 'ADD', 'pt2', ns2), config('1.1.0', { network: 'pt' }));
        t.match(second.json, { code: 110, msg: /network 'pt' requires exclusive access/ }, 'a second ADD: no device (110)');
        t.same(linkNames(pod2), ['lo'], 'nothing made in its pod');
        t.equal(records(a).filter((f) => f.endsWith('.json')).length, 1, 'nor recorded');
        await t.rejects(nets(a).destroy('pt'), { code: 'EBUSY', message: /connection\(s\), from domain\(s\) cni-/ }, "net-destroy refused: the attachment's connection holds");
        t.equal((await runPlugin(envOf(a, 'DEL', 'pt1', ns1), config('1.1.0', { network: 'pt' }))).code, 0, 'DEL');
        t.equal(ipLink(host, 'p0').address, own, 'p0 has its own MAC back');
        t.equal((await status()).code, 0, 'STATUS: 0 again');
      });
    });
    await nets(a).destroy('pt');
    t.match((await status()).json, { code: 50, msg: /network 'pt' is not active/ }, 'STATUS of an inactive network: 50');
    await withPod(t, host, async (pod, netns) => {
      const add = await runPlugin(envOf(a, 'ADD', 'pt3', netns), config('1.1.0', { network: 'pt' }));
      t.match(add.json, { code: 113, msg: /network 'pt' is not active/ }, 'ADD on an inactive network: 113, named');
      t.same(linkNames(pod), ['lo']);
      t.same(records(a), [], 'no record left');
    });
  });
  await withNetns(t, async (host) => {
    veths(host, ['p0']);
    const a = await startAgent(t, { ns: host, acl: 'allow user root network other\n' });
    await nets(a).define("<network><name>pt</name><forward mode='passthrough'><interface dev='p0'/></forward></network>");
    await nets(a).start('pt');
    await withPod(t, host, async (pod, netns) => {
      const add = await runPlugin(envOf(a, 'ADD', 'acl', netns), config('1.1.0', { network: 'pt' }));
      t.match(add.json, { code: 117, msg: /network pt/ }, 'a network the ACL does not name');
      t.same(linkNames(pod), ['lo']);
    });
    t.strictSame(counts(a, 'pt'), { p0: 0 }, 'nothing allocated');
    await nets(a).destroy('pt');
  });
});

t.test('the agent SIGKILLed after the allocation, before the macvtap: DEL or GC after a restart gives the device back', { skip }, async (t) => {
  const hold = cniHold(t);
  await withNetns(t, async (host) => {
    veths(host, ['p0', 'p1']);
    let a = await startAgent(t, { ns: host, acl: 'allow user root network spread\n' });
    await nets(a).define("<network><name>spread</name><forward mode='bridge'><interface dev='p0'/><interface dev='p1'/></forward></network>");
    await nets(a).start('spread');
    hold('allocated');
    await withPod(t, host, async (pod1, ns1) => {
      await withPod(t, host, async (pod2, ns2) => {
        const adds = [runPlugin(envOf(a, 'ADD', 'k1', ns1), config('1.1.0', { network: 'spread' })), runPlugin(envOf(a, 'ADD', 'k2', ns2), config('1.1.0', { network: 'spread' }))];
        await until('both ADDs held after the allocation', () => a.log().split('"msg":"CNI test hold"').length === 3);
        t.strictSame(counts(a, 'spread'), { p0: 1, p1: 1 }, 'both devices allocated');
        const gone = new Promise((r) => a.proc.once('exit', r));
        a.proc.kill('SIGKILL');
        await gone;
        t.same(
          (await Promise.all(adds)).map((r) => r.json?.code),
          [11, 11],
          'the ADDs cut short: try again later',
        );
        hold('');
        a = await a.restart();
        t.strictSame(counts(a, 'spread'), { p0: 1, p1: 1 }, "after the restart the connections still hold: their owners' live XML records them");
        t.same([linkNames(pod1), linkNames(pod2)], [['lo'], ['lo']], 'no macvtap was made');
        t.equal((await runPlugin(envOf(a, 'DEL', 'k1', ns1), config('1.1.0', { network: 'spread' }))).code, 0, 'DEL of one');
        const gc = await runPlugin(envOf(a, 'GC', ''), config('1.1.0', { network: 'spread', 'cni.dev/valid-attachments': [] }));
        t.equal(gc.code, 0, `GC of the other ${gc.stdout}`);
      });
    });
    t.strictSame(counts(a, 'spread'), { p0: 0, p1: 0 }, 'both devices given back');
    t.same(owners(a), [], 'no owner left');
    t.same(records(a), [], 'no record left');
    await nets(a).destroy('spread');
  });
});
