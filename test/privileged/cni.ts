// The CNI plugin driven exactly as a runtime (libcni) drives it: the built
// binary exec'd with the CNI_* environment and the configuration on stdin,
// against a real agent, over scratch namespaces (one plays the host, one per
// container). For every cniVersion: VERSION, the ADD result's shape, ADD
// twice, CHECK, DEL twice, DEL without CNI_NETNS, DEL after the namespace is
// gone; the refusals (bad environment 4, bad JSON 6, unknown field 2, what is
// not built yet 2); GC; STATUS with and without the agent; DEL and GC after
// the agent was killed, also half-way through an ADD; another caller. Every namespace,
// link and record is removed, also when a test fails; the agent's fds are
// back to what they were.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CniRecord, CniStore } from '../../lib/agent/cni-store';
import { SUPPORTED_VERSIONS, versionResult } from '../../lib/cni/version';
import { execFileSync, spawnSync } from 'node:child_process';
import { runAs, startAgent, testUser, until } from '../helpers/agent';
import { agentFds, claimAs, config, envOf, noPlugin, noReference, PLUGIN, records, REFERENCE, runPlugin, rxPackets, withPod } from '../helpers/cni';
import { addNetns, ip, ipLink, linkNames, needsRoot, removeNetns, scratchDir, withNetns } from '../helpers/host';

const skip = needsRoot || noPlugin;
const mtuOf = (l: object): number => (l as { mtu: number }).mtu;

t.test('every cniVersion: VERSION, ADD, ADD twice, CHECK, DEL twice, DEL without CNI_NETNS', { skip }, async (t) => {
  await withNetns(t, async (host) => {
    const a = await startAgent(t, { ns: host, acl: 'allow user root ethernet' });
    t.equal((await runPlugin(envOf(a, 'STATUS', 'x'), config('1.1.0'))).code, 0, 'STATUS: ready');
    const fdsBefore = agentFds(a);
    for (const v of SUPPORTED_VERSIONS) {
      await withPod(t, host, async (pod, netns) => {
        const id = `ctr-${v.replace(/\./g, '')}`;
        const version = await runPlugin({ CNI_COMMAND: 'VERSION' }, JSON.stringify({ cniVersion: v }));
        t.same(version.json, versionResult(v), `${v}: VERSION`);

        const conf = config(v, { mtu: 1400, runtimeConfig: { mac: '52:54:00:12:34:56' } });
        const add = await runPlugin(envOf(a, 'ADD', id, netns), conf);
        t.equal(add.code, 0, `${v}: ADD succeeds ${add.stdout}`);
        const iface: Record<string, unknown> = { name: 'net1', mac: 'fe:54:00:12:34:56', sandbox: netns };
        if (v === '1.1.0') Object.assign(iface, { mtu: 1400, socketPath: a.socket });
        t.strictSame(add.json, { cniVersion: v, interfaces: [iface], dns: {} }, `${v}: the result's shape`);
        const l = ipLink(pod, 'net1');
        t.equal(l.linkinfo?.info_kind, 'tun', `${v}: a tap in the container's namespace`);
        t.match(l.linkinfo?.info_data, { type: 'tap', vnet_hdr: true, persist: true, multi_queue: false }, `${v}: vnet header, persistent, one queue`);
        t.equal(l.address, 'fe:54:00:12:34:56', "the host side's MAC, as libvirt gives a tap");
        t.equal(mtuOf(l), 1400);
        t.ok(l.flags.includes('UP'), 'up');
        t.equal(records(a).length, 1, 'recorded');

        const again = await runPlugin(envOf(a, 'ADD', id, netns), conf);
        t.equal(again.code, 1, `${v}: ADD twice fails`);
        t.match(again.json, { cniVersion: v, code: 130, msg: /already has net1/ });
        t.equal(ipLink(pod, 'net1').ifindex, l.ifindex, 'the first tap is untouched');
        t.equal(records(a).length, 1, 'and its record');

        if (v !== '0.3.1') {
          const check = await runPlugin(envOf(a, 'CHECK', id, netns), config(v, { mtu: 1400, runtimeConfig: { mac: '52:54:00:12:34:56' }, prevResult: add.json }));
          t.equal(check.code, 0, `${v}: CHECK passes ${check.stdout}`);
          t.equal(check.stdout, '', 'and prints nothing');
        }

        const del = await runPlugin(envOf(a, 'DEL', id, netns), config(v, { mtu: 1400, prevResult: add.json }));
        t.equal(del.code, 0, `${v}: DEL ${del.stdout}`);
        t.equal(del.stdout, '');
        t.same(linkNames(pod), ['lo'], 'the tap is gone');
        t.same(records(a), [], 'and its record');
        t.equal((await runPlugin(envOf(a, 'DEL', id, netns), config(v))).code, 0, `${v}: DEL twice`);
        t.equal((await runPlugin(envOf(a, 'DEL', id, undefined), config(v))).code, 0, `${v}: DEL without CNI_NETNS`);
      });
    }
    t.same(records(a), [], 'no record left');
    // The addon keeps idle netlink sockets for reuse and closes them after 1 s idle.
    await until("the agent's idle netlink sockets closed", () => JSON.stringify(agentFds(a)) === JSON.stringify(fdsBefore), 5000).catch(() => undefined);
    t.same(agentFds(a), fdsBefore, "the agent's fds are back to what they were");
  });
});

t.test('DEL after the namespace is gone, and without CNI_NETNS', { skip }, async (t) => {
  await withNetns(t, async (host) => {
    const a = await startAgent(t, { ns: host, acl: 'allow user root ethernet' });
    for (const withNetnsVar of [true, false]) {
      let netnsPath = '';
      await withPod(t, host, async (_pod, netns) => {
        netnsPath = netns;
        t.equal((await runPlugin(envOf(a, 'ADD', 'gone1', netns), config('1.0.0'))).code, 0, 'ADD');
      });
      t.notOk(fs.existsSync(netnsPath), 'the namespace is gone');
      const del = await runPlugin(envOf(a, 'DEL', 'gone1', withNetnsVar ? netnsPath : undefined), config('1.0.0'));
      t.equal(del.code, 0, `DEL ${withNetnsVar ? 'with' : 'without'} CNI_NETNS succeeds ${del.stdout}`);
      t.same(records(a), [], 'the record is gone');
    }
    // A namespace path that now names another namespace: the tap there is not netfd's.
    await withPod(t, host, async (pod, netns) => {
      t.equal((await runPlugin(envOf(a, 'ADD', 'reused', netns), config('1.0.0'))).code, 0);
      removeNetns(pod);
      addNetns(pod, { veth: false });
      ip(['-n', pod, 'tuntap', 'add', 'mode', 'tap', 'name', 'net1']);
      t.equal((await runPlugin(envOf(a, 'DEL', 'reused', undefined), config('1.0.0'))).code, 0, 'DEL');
      t.same(linkNames(pod), ['lo', 'net1'], "another namespace's net1 at the same path is left alone");
      t.same(records(a), []);
    });
  });
});

t.test('refusals: bad environment 4, bad JSON 6, unknown field 2, a name taken', { skip }, async (t) => {
  await withNetns(t, async (host) => {
    const a = await startAgent(t, { ns: host, acl: 'allow user root ethernet\nallow user root all' });
    await withPod(t, host, async (pod, netns) => {
      const env = envOf(a, 'ADD', 'bad1', netns);
      for (const v of SUPPORTED_VERSIONS) {
        const noNetns = await runPlugin({ ...env, CNI_NETNS: undefined }, config(v));
        t.match(noNetns, { code: 1, json: { cniVersion: v, code: 4, msg: /CNI_NETNS is not set/ } }, `${v}: no CNI_NETNS for ADD`);
        const badName = await runPlugin({ ...env, CNI_IFNAME: 'way-too-long-name0', CNI_CONTAINERID: '-x' }, config(v));
        t.match(badName.json, { code: 4, msg: /CNI_CONTAINERID.*CNI_IFNAME/ }, `${v}: every wrong variable named`);
        t.match(await runPlugin(env, `{"cniVersion":"${v}",`), { code: 1, json: { code: 6 } }, `${v}: bad JSON`);
        t.match(await runPlugin(env, config(v, { hairpin: true })), { code: 1, json: { cniVersion: v, code: 2, msg: /hairpin=true/ } }, `${v}: unknown field`);
      }
      t.match(await runPlugin(env, config('0.2.0')), { code: 1, json: { code: 1 } }, 'a version netfd does not speak');
      t.match(await runPlugin({ ...env, CNI_ARGS: 'K8S_POD_NAME=web' }, config('1.0.0')), { json: { code: 2, msg: /CNI_ARGS K8S_POD_NAME="web"/ } }, 'CNI_ARGS without IgnoreUnknown');
      t.match(
        await runPlugin(env, config('1.0.0', { master: 'v0', runtimeConfig: { deviceID: '0000:03:00.1' } })),
        { json: { code: 7, msg: /invalid master "v0": runtimeConfig.deviceID names the VF/ } },
        "a device plugin's VF and a master: 7 (the VF is the master)",
      );
      t.match(await runPlugin(env, config('1.0.0', { network: 'default' })), { json: { code: 131, msg: /no network named 'default'/ } }, 'a network that does not exist: 131, named');
      t.match(await runPlugin(env, config('1.0.0', { ipam: { type: 'nosuchipam' } })), { json: { code: 131, msg: /failed to find plugin "nosuchipam" in path/ } }, 'an IPAM plugin not in CNI_PATH');
      t.same(linkNames(pod), ['lo'], 'its tap removed again');
      ip(['-n', pod, 'link', 'add', 'net1', 'type', 'bridge']);
      const taken = await runPlugin(env, config('1.0.0'));
      t.match(taken.json, { code: 130, msg: /already exists/ }, 'a name taken in the container');
      t.equal(ipLink(pod, 'net1').linkinfo?.info_kind, 'bridge', 'is left as it was');
      t.same(linkNames(pod), ['lo', 'net1']);
      t.same(records(a), [], 'nothing recorded');
    });
  });
});

t.test('the ACL decides: no ethernet rule, no tap', { skip }, async (t) => {
  await withNetns(t, async (host) => {
    const a = await startAgent(t, { ns: host, acl: 'allow user root bridge br0' });
    await withPod(t, host, async (pod, netns) => {
      const r = await runPlugin(envOf(a, 'ADD', 'acl1', netns), config('1.0.0'));
      t.match(r.json, { code: 117, msg: /access denied/ }, 'ACCESS_DENIED');
      t.same(linkNames(pod), ['lo']);
      t.same(records(a), []);
    });
  });
});

t.test('multiqueue, CHECK after changes, GC, STATUS with the agent stopped', { skip }, async (t) => {
  await withNetns(t, async (host) => {
    const a = await startAgent(t, { ns: host, acl: 'allow user root ethernet' });
    await withPod(t, host, async (pod, netns) => {
      const conf = config('1.1.0', { queues: 4, mtu: 9000 });
      const add = await runPlugin(envOf(a, 'ADD', 'mq', netns), conf);
      t.equal(add.code, 0, add.stdout);
      t.match(ipLink(pod, 'net1').linkinfo?.info_data, { type: 'tap', multi_queue: true, vnet_hdr: true }, 'multiqueue');
      const check = (extra: Record<string, unknown> = {}) => runPlugin(envOf(a, 'CHECK', 'mq', netns), config('1.1.0', { queues: 4, mtu: 9000, prevResult: add.json, ...extra }));
      t.equal((await check()).code, 0, 'CHECK passes');
      for (const [what, change, undo] of [
        ['MAC', ['address', '02:00:00:00:00:99'], ['address', (add.json?.interfaces as { mac: string }[])[0].mac]],
        ['MTU', ['mtu', '1500'], ['mtu', '9000']],
        ['state', ['down'], ['up']],
      ] as const) {
        ip(['-n', pod, 'link', 'set', 'net1', ...change]);
        const r = await check();
        t.match(r, { code: 1, json: { code: 140 } }, `CHECK fails after a ${what} change: ${r.json?.msg as string}`);
        ip(['-n', pod, 'link', 'set', 'net1', ...undo]);
        t.equal((await check()).code, 0, `and passes once the ${what} is back`);
      }
      // A second attachment, on the same network, that GC keeps.
      t.equal((await runPlugin(envOf(a, 'ADD', 'keep', netns, 'net2'), config('1.1.0'))).code, 0);
      const gc = await runPlugin(
        { CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin', NETFD_AGENT_SOCKET: a.socket },
        config('1.1.0', { 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'net2' }] }),
      );
      t.equal(gc.code, 0, `GC ${gc.stdout}`);
      t.same(linkNames(pod), ['lo', 'net2'], 'GC removed what is not valid, kept what is');
      t.equal(records(a).length, 1);
      const gcAll = await runPlugin({ CNI_COMMAND: 'GC', NETFD_AGENT_SOCKET: a.socket }, config('1.1.0', { 'cni.dev/valid-attachments': [] }));
      t.equal(gcAll.code, 0);
      t.same(linkNames(pod), ['lo']);
      t.same(records(a), []);
      t.match(await runPlugin({ CNI_COMMAND: 'GC', NETFD_AGENT_SOCKET: a.socket }, config('1.0.0')), { json: { code: 1 } }, 'GC is 1.1.0');
    });
    t.equal((await runPlugin({ CNI_COMMAND: 'STATUS', NETFD_AGENT_SOCKET: a.socket }, config('1.1.0'))).code, 0, 'STATUS 0');
    a.proc.kill('SIGKILL');
    await new Promise((r) => (a.proc.exitCode !== null || a.proc.signalCode !== null ? r(null) : a.proc.once('exit', r)));
    t.match(await runPlugin({ CNI_COMMAND: 'STATUS', NETFD_AGENT_SOCKET: a.socket }, config('1.1.0')), { code: 1, json: { code: 50 } }, 'STATUS 50 with the agent stopped');
    t.match(await runPlugin(envOf(a, 'ADD', 'x', '/proc/1/ns/net'), config('1.1.0')), { code: 1, json: { code: 11 } }, 'ADD: try again later');
  });
});

t.test('after a crash: records written before the device lead DEL and GC to what is left', { skip }, async (t) => {
  await withNetns(t, async (host) => {
    let a = await startAgent(t, { ns: host, acl: 'allow user root ethernet' });
    await withPod(t, host, async (pod, netns) => {
      // SIGKILLed after ADD: the restarted agent still knows the attachment.
      t.equal((await runPlugin(envOf(a, 'ADD', 'k1', netns), config('1.0.0'))).code, 0);
      a.proc.kill('SIGKILL');
      await new Promise((r) => (a.proc.exitCode !== null || a.proc.signalCode !== null ? r(null) : a.proc.once('exit', r)));
      a = await a.restart();
      t.match(await runPlugin(envOf(a, 'ADD', 'k1', netns), config('1.0.0')), { json: { code: 130 } }, 'ADD again still fails after the restart');
      t.equal((await runPlugin(envOf(a, 'DEL', 'k1', undefined), config('1.0.0'))).code, 0, 'DEL after the restart');
      t.same(linkNames(pod), ['lo']);

      // Killed between the record and the device's ifindex: the record says
      // 'adding' and has no ifindex; the tap was made (or not).
      const store = new CniStore(a.stateDir);
      const half = (id: string): CniRecord => ({
        v: 1,
        uid: 0,
        containerId: id,
        ifname: 'net1',
        network: 'vmnet',
        netns,
        netnsIno: fs.statSync(netns).ino,
        state: 'adding',
        kind: 'tap',
        xml: "<interface type='ethernet'/>",
        since: new Date().toISOString(),
      });
      store.create(half('k2'));
      ip(['-n', pod, 'tuntap', 'add', 'mode', 'tap', 'name', 'net1', 'vnet_hdr']);
      t.equal((await runPlugin(envOf(a, 'DEL', 'k2', netns), config('1.0.0'))).code, 0, 'DEL of a half-made attachment');
      t.same(linkNames(pod), ['lo'], 'removes its tap, found by name');
      t.same(records(a), []);
      store.create(half('k3'));
      ip(['-n', pod, 'tuntap', 'add', 'mode', 'tap', 'name', 'net1']);
      store.create({ ...half('k4'), ifname: 'net2' });
      const gc = await runPlugin({ CNI_COMMAND: 'GC', NETFD_AGENT_SOCKET: a.socket }, config('1.1.0', { 'cni.dev/valid-attachments': [] }));
      t.equal(gc.code, 0, `GC ${gc.stdout}`);
      t.same(linkNames(pod), ['lo'], 'GC removes the tap of one, and the record of the other whose tap was never made');
      t.same(records(a), []);
    });
  });
});

t.test("the result carries a chain's prevResult and the configuration's dns; a model without vnet header; CHECK and GC refusals", { skip }, async (t) => {
  await withNetns(t, async (host) => {
    const a = await startAgent(t, { ns: host, acl: 'allow user root ethernet' });
    await withPod(t, host, async (pod, netns) => {
      const prevResult = {
        cniVersion: '1.1.0',
        interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', sandbox: netns }],
        ips: [{ address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 0 }],
        routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }],
        dns: { nameservers: ['10.1.0.1'] },
      };
      const chained = await runPlugin(envOf(a, 'ADD', 'ch', netns), config('1.1.0', { prevResult }));
      t.equal(chained.code, 0, chained.stdout);
      t.strictSame(
        chained.json,
        { ...prevResult, interfaces: [...prevResult.interfaces, { name: 'net1', mac: ipLink(pod, 'net1').address, mtu: 1500, sandbox: netns, socketPath: a.socket }] },
        "netfd's tap added to the previous plugin's result",
      );
      const withDns = await runPlugin(
        envOf(a, 'ADD', 'dns', netns, 'net2'),
        config('0.4.0', { dns: { nameservers: ['10.0.0.53'], search: ['svc'] }, interface: "<interface type='ethernet'><model type='rtl8139'/></interface>" }),
      );
      t.match(withDns.json, { cniVersion: '0.4.0', dns: { nameservers: ['10.0.0.53'], search: ['svc'] } }, "the configuration's dns");
      t.match(ipLink(pod, 'net2').linkinfo?.info_data, { vnet_hdr: false }, 'rtl8139 takes no vnet header');
      t.match(
        await runPlugin(envOf(a, 'CHECK', 'nobody', netns), config('1.0.0', { prevResult: chained.json })),
        { json: { code: 140, msg: /no such attachment/ } },
        'CHECK of an attachment never added',
      );
      t.match(await runPlugin(envOf(a, 'CHECK', 'ch', netns), config('1.0.0')), { json: { code: 7, msg: /prevResult/ } }, 'CHECK without prevResult');
      t.match(await runPlugin({ CNI_COMMAND: 'GC', NETFD_AGENT_SOCKET: a.socket }, config('1.1.0')), { json: { code: 7, msg: /valid-attachments/ } }, 'GC without the list removes nothing');
      t.same(linkNames(pod), ['lo', 'net1', 'net2']);
      for (const [id, ifname] of [
        ['ch', 'net1'],
        ['dns', 'net2'],
      ])
        t.equal((await runPlugin(envOf(a, 'DEL', id, netns, ifname), config('1.1.0'))).code, 0);
      t.same(linkNames(pod), ['lo']);
      t.same(records(a), []);
    });
  });
});

t.test("another caller: the ACL decides its ADD; root's attachments look like none to it", { skip }, async (t) => {
  await withNetns(t, async (host) => {
    const user = testUser(t, 'c');
    const a = await startAgent(t, { ns: host, acl: `allow user root ethernet\nallow user ${user.name} bridge br9` });
    const bin = path.join(scratchDir(t, 'netfd-cni-bin-'), 'netfd');
    fs.chmodSync(path.dirname(bin), 0o755);
    fs.copyFileSync(PLUGIN, bin);
    fs.chmodSync(bin, 0o755);
    const as = { uid: user.uid, gid: user.gid, binary: bin };
    await withPod(t, host, async (pod, netns) => {
      t.equal((await runPlugin(envOf(a, 'ADD', 'root1', netns), config('1.0.0'))).code, 0, "root's ADD");
      const theirs = await runPlugin(envOf(a, 'ADD', 'u1', netns, 'net2'), config('1.0.0'), { as });
      t.match(theirs.json, { code: 117, msg: /access denied/ }, 'no ethernet rule for the user: ACCESS_DENIED');
      t.equal((await runPlugin(envOf(a, 'DEL', 'root1', netns), config('1.0.0'), { as })).code, 0, "the user's DEL of root's attachment: nothing of theirs");
      t.match(
        await runPlugin(envOf(a, 'CHECK', 'root1', netns), config('1.0.0', { prevResult: { cniVersion: '1.0.0' } }), { as }),
        { json: { code: 140, msg: /no such attachment/ } },
        'nor does CHECK see it',
      );
      t.equal((await runPlugin({ CNI_COMMAND: 'GC', NETFD_AGENT_SOCKET: a.socket }, config('1.1.0', { 'cni.dev/valid-attachments': [] }), { as })).code, 0, 'GC by the user');
      t.same(linkNames(pod), ['lo', 'net1'], "root's tap is still there");
      t.equal(records(a).length, 1);
      t.equal((await runPlugin(envOf(a, 'DEL', 'root1', netns), config('1.0.0'))).code, 0, "root's DEL");
      t.same(linkNames(pod), ['lo']);
      t.same(records(a), []);
    });
  });
});

t.test('where an ADD may make its device: a user only in its own namespace, and CNI_NETNS only a namespace file', { skip }, async (t) => {
  await withNetns(t, async (host) => {
    const user = testUser(t, 'n');
    const a = await startAgent(t, { ns: host, acl: `allow user root ethernet\nallow user ${user.name} ethernet` });
    const dir = scratchDir(t, 'netfd-cni-ns-');
    fs.chmodSync(dir, 0o755);
    const bin = path.join(dir, 'netfd');
    fs.copyFileSync(PLUGIN, bin);
    fs.chmodSync(bin, 0o755);
    const as = { uid: user.uid, gid: user.gid, binary: bin };
    await withPod(t, host, async (pod, netns) => {
      // The ACL lets the user make taps, but the pod is not the user's namespace (its plugin runs in the test's).
      const theirs = await runPlugin(envOf(a, 'ADD', 'u1', netns), config('1.0.0'), { as });
      t.match(theirs.json, { code: 117, msg: /may add attachments only in its own network namespace/ }, "another namespace than the user's own: ACCESS_DENIED");
      // The user's own namespace here is the host's, the agent's own: root's alone.
      const own = await runPlugin(envOf(a, 'ADD', 'u2', `/proc/${process.pid}/ns/net`), config('1.0.0'), { as });
      t.match(own.json, { code: 117, msg: /the agent's own network namespace/ }, "nor the host's, though it is the user's own");
      t.same(linkNames(pod), ['lo'], 'nothing was made in the pod');
      // Root may name any namespace, but only a namespace: a FIFO would hang an open, a file is none.
      const fifo = path.join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const plain = path.join(dir, 'plain');
      fs.writeFileSync(plain, '');
      for (const p of [fifo, plain]) {
        const r = await runPlugin(envOf(a, 'ADD', 'r1', p), config('1.0.0'));
        t.match(r.json, { code: 7, msg: /is not a network namespace file/ }, `CNI_NETNS ${path.basename(p)}: refused as invalid`);
      }
      t.equal((await runPlugin(envOf(a, 'ADD', 'r2', netns), config('1.0.0'))).code, 0, "root's ADD in the pod");
      t.equal((await runPlugin(envOf(a, 'DEL', 'r2', netns), config('1.0.0'))).code, 0);
      t.same(linkNames(pod), ['lo']);
      t.same(records(a), [], 'no records left, none made by the refusals');
    });
  });
});

t.test('cni-claim: a user in the pod takes the queue fds and moves frames; the namespace, not the user, decides', { skip }, async (t) => {
  await withNetns(t, async (host) => {
    const user = testUser(t, 'k');
    const a = await startAgent(t, { ns: host, acl: 'allow user root ethernet' });
    const fdsBefore = agentFds(a);
    await withPod(t, host, async (pod, netns) => {
      const add = await runPlugin(envOf(a, 'ADD', 'vm1', netns), config('1.1.0', { queues: 2, vhost: true }));
      t.equal(add.code, 0, add.stdout);
      t.match(add.json, { interfaces: [{ name: 'net1', sandbox: netns, socketPath: a.socket }] }, "the result's interface names the agent's socket");
      ip(['-n', pod, 'addr', 'add', '10.9.9.1/24', 'dev', 'net1']);
      const rx = rxPackets(pod);
      const got = await claimAs(user, pod, a.socket, 'vm1', 'net1', () => {
        // The kernel resolves 10.9.9.2 on net1: an ARP request goes out through the tap, to the claimed fd.
        ip(['netns', 'exec', pod, 'bash', '-c', 'exec 3>/dev/udp/10.9.9.2/9 && echo x >&3'], { allowFail: true });
      });
      t.equal(got.ok, true, `the user in the pod's namespace claims: ${JSON.stringify(got.error ?? '')}`);
      const vhost = fs.existsSync('/dev/vhost-net');
      t.match(
        got.result,
        { containerId: 'vm1', ifname: 'net1', ifindex: ipLink(pod, 'net1').ifindex, vnetHdr: true, tapFds: 2, vhostFds: vhost ? 2 : 0 },
        'two queue fds (and vhost fds when the device opens)',
      );
      if (!vhost) t.match(got.result.vhostUnavailable, /vhost/, 'why there are no vhost fds');
      t.equal(got.fds, vhost ? 4 : 2, 'the fds came with the reply');
      t.equal(got.wrote, 12 + 54, 'it wrote a frame through the first queue');
      t.ok(rxPackets(pod) > rx, 'which the pod received on net1');
      t.match(got.read, /^ffffffffffff[0-9a-f]{12}0806/, 'and read the ARP request the pod sent out of net1');

      const elsewhere = await claimAs(user, host, a.socket, 'vm1', 'net1');
      t.match(elsewhere, { ok: false, error: { code: 'ACCESS_DENIED', message: /not in the network namespace of net1 of container vm1/ } }, 'the same user from another namespace is refused');
      const rootHere = await claimAs(null, null, a.socket, 'vm1', 'net1');
      t.match(rootHere, { ok: false, error: { code: 'ACCESS_DENIED' } }, 'root from the host namespace is refused too');
      t.match(runAs(null, a.socket, [{ op: 'cni-claim', args: { containerId: 'nope', ifname: 'net1' } }])[0], { ok: false, error: { code: 'ENOENT' } }, 'an attachment never added: ENOENT');
      const rootInPod = await claimAs(null, pod, a.socket, 'vm1', 'net1');
      t.equal(rootInPod.ok, true, 'root in the pod claims as well: the namespace decides');

      t.equal((await runPlugin(envOf(a, 'DEL', 'vm1', netns), config('1.1.0'))).code, 0, 'DEL');
      t.same(linkNames(pod), ['lo'], 'the tap is gone: the claims held no fd of it');
      t.match(await claimAs(user, pod, a.socket, 'vm1', 'net1'), { ok: false, error: { code: 'ENOENT' } }, 'after DEL, nothing to claim');
    });
    // The addon keeps idle netlink sockets for reuse and closes them after 1 s idle.
    await until("the agent's idle netlink sockets closed", () => JSON.stringify(agentFds(a)) === JSON.stringify(fdsBefore), 5000).catch(() => undefined);
    t.same(agentFds(a), fdsBefore, "the agent's fds are back to what they were");
  });
});

t.test('IPAM delegated to the reference static plugin; netfd then tuning in a chain', { skip: skip || noReference }, async (t) => {
  await withNetns(t, async (host) => {
    const a = await startAgent(t, { ns: host, acl: 'allow user root ethernet' });
    await withPod(t, host, async (pod, netns) => {
      const ipam = {
        type: 'static',
        addresses: [{ address: '10.20.0.5/24', gateway: '10.20.0.1' }, { address: 'fd00:20::5/64' }],
        routes: [{ dst: '0.0.0.0/0' }, { dst: '192.168.50.0/24', gw: '10.20.0.254' }],
        dns: { nameservers: ['10.20.0.1'], search: ['pod.local'] },
      };
      const env = { ...envOf(a, 'ADD', 'ip1', netns), CNI_PATH: `/nonexistent:${REFERENCE}` };
      const conf = config('1.0.0', { ipam });
      const add = await runPlugin(env, conf);
      t.equal(add.code, 0, add.stdout);
      // What the reference static plugin itself answers for the same call.
      const ref = await runPlugin({ ...env, NETFD_AGENT_SOCKET: undefined }, conf, { binary: path.join(REFERENCE, 'static') });
      t.equal(ref.code, 0, ref.stdout);
      const refJson = ref.json as { ips: Record<string, unknown>[]; routes: unknown; dns: unknown };
      t.strictSame(
        add.json,
        {
          cniVersion: '1.0.0',
          interfaces: [{ name: 'net1', mac: ipLink(pod, 'net1').address, sandbox: netns }],
          ips: refJson.ips.map((ip) => ({ interface: 0, ...ip })),
          routes: refJson.routes,
          dns: refJson.dns,
        },
        "the IPAM plugin's ips (on interface 0, the tap), routes and dns",
      );
      const addrs = (JSON.parse(ip(['-n', pod, '-j', 'addr', 'show', 'net1'])) as { addr_info: { local: string; prefixlen: number; scope: string }[] }[])[0]!.addr_info
        .filter((x) => x.scope === 'global')
        .map((x) => `${x.local}/${x.prefixlen}`);
      t.same(addrs.sort(), ['10.20.0.5/24', 'fd00:20::5/64'], 'the addresses are on the tap in the pod (ConfigureIface)');
      const routes = JSON.parse(ip(['-n', pod, '-j', '-4', 'route', 'show'])) as { dst: string; gateway?: string; dev: string }[];
      t.match(
        routes,
        [
          { dst: 'default', gateway: '10.20.0.1', dev: 'net1' },
          { dst: '10.20.0.0/24', dev: 'net1' },
          { dst: '192.168.50.0/24', gateway: '10.20.0.254', dev: 'net1' },
        ],
        'and the routes: the default via the gateway',
      );

      const check = () => runPlugin({ ...env, CNI_COMMAND: 'CHECK' }, config('1.0.0', { ipam, prevResult: add.json }));
      t.equal((await check()).code, 0, 'CHECK, with the IPAM CHECK, passes');
      ip(['-n', pod, 'addr', 'del', '10.20.0.5/24', 'dev', 'net1']);
      t.match(await check(), { json: { code: 140, msg: /lacks the address 10.20.0.5\/24/ } }, 'and fails once an address is gone');
      ip(['-n', pod, 'addr', 'add', '10.20.0.5/24', 'dev', 'net1']);

      // The next plugin of a conflist: tuning, given netfd's result as prevResult.
      const tuning = { cniVersion: '1.0.0', name: 'vmnet', type: 'tuning', mtu: 1400, promisc: true, prevResult: add.json };
      const tuned = await runPlugin({ ...env, NETFD_AGENT_SOCKET: undefined }, JSON.stringify(tuning), { binary: path.join(REFERENCE, 'tuning') });
      t.equal(tuned.code, 0, tuned.stdout + tuned.stderr);
      t.strictSame(tuned.json, add.json, "tuning passes netfd's result through");
      const l = ipLink(pod, 'net1');
      t.equal(mtuOf(l), 1400, 'tuning set the MTU of the tap');
      t.ok(l.flags.includes('PROMISC'), 'and promiscuous mode');
      t.equal(l.linkinfo?.info_kind, 'tun', 'on the tap netfd made');
      t.equal(
        (await runPlugin({ ...env, CNI_COMMAND: 'DEL', NETFD_AGENT_SOCKET: undefined }, JSON.stringify(tuning), { binary: path.join(REFERENCE, 'tuning') })).code,
        0,
        "tuning's DEL (in reverse order)",
      );
      const del = await runPlugin({ ...env, CNI_COMMAND: 'DEL' }, config('1.0.0', { ipam, prevResult: add.json }));
      t.equal(del.code, 0, `DEL, with the IPAM DEL ${del.stdout}`);
      t.same(linkNames(pod), ['lo']);
      t.same(records(a), []);
      t.equal((await runPlugin({ ...env, CNI_COMMAND: 'DEL' }, config('1.0.0', { ipam }))).code, 0, 'DEL twice');
    });
  });
});

t.test('netfd cni-claim: what a claim gives without a command, the refusals, an attachment that asked vhost-net without getting it', { skip }, async (t) => {
  await withNetns(t, async (host) => {
    const a = await startAgent(t, { ns: host, acl: 'allow user root ethernet' });
    await withPod(t, host, async (pod, netns) => {
      const cli = (...args: string[]) => spawnSync('ip', ['netns', 'exec', pod, process.execPath, path.join(__dirname, '..', '..', 'bin', 'netfd.js'), 'cni-claim', ...args], { encoding: 'utf8' });
      t.equal((await runPlugin(envOf(a, 'ADD', 'q1', netns), config('1.1.0', { queues: 2, runtimeConfig: { mac: '52:54:00:00:00:21' } }))).code, 0);
      const shown = cli('q1', 'net1', '--socket', a.socket, '--json');
      t.equal(shown.status, 0, shown.stderr);
      t.match(
        JSON.parse(shown.stdout),
        { containerId: 'q1', ifname: 'net1', kind: 'tap', tapFds: 2, vhostFds: 0, guestMac: '52:54:00:00:00:21', mac: 'fe:54:00:00:00:21' },
        'the claim, the guest MAC beside the tap’s',
      );
      const ran = cli('q1', 'net1', '--socket', a.socket, '--', 'sh', '-c', 'echo {netdev} {mac}; readlink /proc/self/fd/3 /proc/self/fd/4; exit 7');
      t.equal(ran.status, 7, "the command's exit status");
      t.equal(ran.stdout, 'fds=3:4,vhost=off 52:54:00:00:00:21\n/dev/net/tun\n/dev/net/tun\n', 'the queues at 3 and 4, the placeholders filled');
      const none = cli('nope', 'net1', '--socket', a.socket, '--', 'true');
      t.not(none.status, 0, 'an attachment never added');
      t.match(none.stderr, /no attachment net1 of container nope/);
      const usage = cli('q1', '--socket', a.socket);
      t.equal(usage.status, 2, 'a usage error');
      t.equal((await runPlugin(envOf(a, 'DEL', 'q1', netns), config('1.1.0'))).code, 0);

      // <driver name='vhost'> on a host without a usable vhost-net (here: none, or a device path that is not one).
      if (fs.existsSync('/dev/vhost-net')) return;
      t.equal((await runPlugin(envOf(a, 'ADD', 'q2', netns), config('1.1.0', { vhost: true }))).code, 0);
      const refused = cli('q2', 'net1', '--socket', a.socket, '--', 'sh', '-c', 'echo ran');
      t.not(refused.status, 0, 'refused');
      t.equal(refused.stdout, '', 'the command never ran');
      t.match(refused.stderr, /asks for vhost-net \(<driver name='vhost'>\), which the agent could not open/);
      t.equal((await runPlugin(envOf(a, 'DEL', 'q2', netns), config('1.1.0'))).code, 0);
      t.same(linkNames(pod), ['lo']);
    });
  });
});

t.test("GC is delegated to an IPAM plugin that speaks 1.1.0, with the same valid attachments; one that does not (Debian's static) is not called", { skip }, async (t) => {
  // Debian 12 has no IPAM plugin with GC (containernetworking-plugins 1.1.1 speaks up to 1.0.0): a
  // stand-in, a shell script in CNI_PATH that speaks 1.1.0, logs each call and, for ADD, gives one address.
  const dir = scratchDir(t, 'netfd-cni-gc-');
  const log = path.join(dir, 'calls.log');
  fs.writeFileSync(
    path.join(dir, 'gcipam'),
    `#!/bin/sh\nin=$(cat)\nprintf '%s %s\\n' "$CNI_COMMAND" "$in" >> ${log}\ncase "$CNI_COMMAND" in\n` +
      `VERSION) echo '{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}' ;;\n` +
      `ADD) echo '{"cniVersion":"1.1.0","ips":[{"address":"10.30.0.5/24"}]}' ;;\nesac\nexit 0\n`,
    { mode: 0o755 },
  );
  await withNetns(t, async (host) => {
    const a = await startAgent(t, { ns: host, acl: 'allow user root ethernet' });
    await withPod(t, host, async (pod, netns) => {
      const env = { ...envOf(a, 'ADD', 'g1', netns), CNI_PATH: dir };
      t.equal((await runPlugin(env, config('1.1.0', { ipam: { type: 'gcipam' } }))).code, 0, 'ADD with the stand-in IPAM');
      const keep = [{ containerID: 'g1', ifname: 'net1' }];
      const gc = await runPlugin({ CNI_COMMAND: 'GC', CNI_PATH: dir, NETFD_AGENT_SOCKET: a.socket }, config('1.1.0', { ipam: { type: 'gcipam' }, 'cni.dev/valid-attachments': keep }));
      t.equal(gc.code, 0, `GC ${gc.stdout}`);
      const calls = fs.readFileSync(log, 'utf8').trim().split('\n');
      t.match(
        calls.map((l) => l.split(' ')[0]),
        ['ADD', 'VERSION', 'GC'],
        'VERSION asked, then GC',
      );
      t.same(JSON.parse(calls[2].slice(3))['cni.dev/valid-attachments'], keep, 'with the valid attachments as given');
      t.same(linkNames(pod), ['lo', 'net1'], 'the valid attachment kept');
      t.equal((await runPlugin({ ...env, CNI_COMMAND: 'DEL' }, config('1.1.0', { ipam: { type: 'gcipam' } }))).code, 0);
      t.same(linkNames(pod), ['lo']);
    });
    if (noReference) return;
    const gc = await runPlugin({ CNI_COMMAND: 'GC', CNI_PATH: REFERENCE, NETFD_AGENT_SOCKET: a.socket }, config('1.1.0', { ipam: { type: 'static' }, 'cni.dev/valid-attachments': [] }));
    t.equal(gc.code, 0, `GC with Debian's static, which has no GC: not called, no error ${gc.stdout}`);
    t.match(a.log(), /the IPAM plugin has no GC/);
  });
});
