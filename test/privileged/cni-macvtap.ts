// The CNI plugin's macvtap (type='direct', `master`/`mode`): made inside the
// container's namespace on a device of the agent's (a scratch namespace
// playing the host, its veth v0 the master and v1 the peer), in every mode;
// CHECK of kind, mode, MAC, MTU and state; the kernel's MAC refusal and
// passthrough's exclusivity told in the configuration's terms; a missing
// master for ADD and STATUS; the ACL's dev and mode rules; the claim by an
// unprivileged user in the pod moving frames to and from the peer. Every
// namespace, link and record is removed, also when a test fails.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import * as fx from '../../scripts/sriov-fixture';
import { startAgent, testUser, until } from '../helpers/agent';
import { agentFds, claimAs, noNewAgentFds, config, envOf, noPlugin, records, runPlugin, rxPackets, withPod } from '../helpers/cni';
import { ip, ipLink, linkNames, needsRoot, scratchDir, withNetns } from '../helpers/host';

const skip = needsRoot || noPlugin;
const ACL = 'allow user root dev v0\nallow user root mode *\n';

t.test('a macvtap in the pod on a host device, in every mode: the result, the device, CHECK, DEL', { skip }, async (t) => {
  await withNetns(t, async (host) => {
    const a = await startAgent(t, { ns: host, acl: ACL });
    const hostBefore = linkNames(host);
    for (const [mode, kernel] of [
      ['vepa', 'vepa'],
      ['bridge', 'bridge'],
      ['private', 'private'],
      ['passthrough', 'passthru'],
    ]) {
      const masterMac = ipLink(host, 'v0').address;
      await withPod(t, host, async (pod, netns) => {
        const conf = { master: 'v0', mode, mtu: 1400, runtimeConfig: { mac: '52:54:00:00:00:0a' } };
        const add = await runPlugin(envOf(a, 'ADD', `m-${mode}`, netns), config('1.1.0', conf));
        t.equal(add.code, 0, `${mode}: ADD ${add.stdout}`);
        t.strictSame(add.json, { cniVersion: '1.1.0', interfaces: [{ name: 'net1', mac: '52:54:00:00:00:0a', mtu: 1400, sandbox: netns, socketPath: a.socket }], dns: {} }, `${mode}: the result`);
        const l = ipLink(pod, 'net1');
        t.equal(l.linkinfo?.info_kind, 'macvtap', `${mode}: a macvtap in the pod`);
        t.match(l.linkinfo?.info_data, { mode: kernel }, `${mode}: in its mode`);
        t.equal(l.address, '52:54:00:00:00:0a', "with the guest's MAC (a macvtap is the guest's end)");
        t.equal((l as unknown as { mtu: number }).mtu, 1400);
        t.ok(l.flags.includes('UP'), 'up');
        t.same(linkNames(host), hostBefore, 'never made in the host namespace');
        const check = await runPlugin(envOf(a, 'CHECK', `m-${mode}`, netns), config('1.1.0', { ...conf, prevResult: add.json }));
        t.equal(check.code, 0, `${mode}: CHECK ${check.stdout}`);
        t.equal((await runPlugin(envOf(a, 'DEL', `m-${mode}`, netns), config('1.1.0', conf))).code, 0, `${mode}: DEL`);
        t.same(linkNames(pod), ['lo'], 'gone');
        t.same(records(a), [], 'and its record');
      });
      t.equal(ipLink(host, 'v0').address, masterMac, `${mode}: the master has its own MAC again (passthrough lent it the guest's)`);
    }
    // No MAC given: libvirt's prefix, one the kernel accepts.
    await withPod(t, host, async (pod, netns) => {
      const add = await runPlugin(envOf(a, 'ADD', 'nomac', netns), config('0.3.1', { master: 'v0' }));
      t.equal(add.code, 0, add.stdout);
      t.match(ipLink(pod, 'net1').address, /^52:54:00(:[0-9a-f]{2}){3}$/, 'a generated 52:54:00 MAC');
      t.match(ipLink(pod, 'net1').linkinfo?.info_data, { mode: 'bridge' }, "the shorthand master's default mode is bridge");
      t.strictSame(add.json, { cniVersion: '0.3.1', interfaces: [{ name: 'net1', mac: ipLink(pod, 'net1').address, sandbox: netns }], dns: {} }, 'a 0.3.1 result');
      // DEL after the namespace is gone: the macvtap went with it.
    });
    t.equal((await runPlugin(envOf(a, 'DEL', 'nomac', undefined), config('0.3.1', { master: 'v0' }))).code, 0, 'DEL after the namespace went (and its macvtap with it)');
    t.same(records(a), []);
  });
});

t.test('CHECK fails after the MAC, MTU, state or mode changed', { skip }, async (t) => {
  await withNetns(t, async (host) => {
    const a = await startAgent(t, { ns: host, acl: ACL });
    await withPod(t, host, async (pod, netns) => {
      const conf = { master: 'v0', mode: 'bridge', runtimeConfig: { mac: '52:54:00:00:00:0b' } };
      const add = await runPlugin(envOf(a, 'ADD', 'chk', netns), config('1.0.0', conf));
      t.equal(add.code, 0, add.stdout);
      const check = () => runPlugin(envOf(a, 'CHECK', 'chk', netns), config('1.0.0', { ...conf, prevResult: add.json }));
      const changes: [string, string[], string[], RegExp][] = [
        ['MAC', ['address', '52:54:00:00:00:0c'], ['address', '52:54:00:00:00:0b'], /MAC is 52:54:00:00:00:0c/],
        ['MTU', ['mtu', '1300'], ['mtu', '1500'], /MTU is 1300/],
        ['state', ['down'], ['up'], /down/],
        ['mode', ['type', 'macvtap', 'mode', 'vepa'], ['type', 'macvtap', 'mode', 'bridge'], /mode is vepa, ADD made it bridge/],
      ];
      t.equal((await check()).code, 0, 'CHECK passes first');
      for (const [what, change, back, msg] of changes) {
        ip(['-n', pod, 'link', 'set', 'net1', ...change]);
        t.match((await check()).json, { code: 140, msg }, `${what} changed: CHECK fails naming it`);
        ip(['-n', pod, 'link', 'set', 'net1', ...back]);
        t.equal((await check()).code, 0, `${what} back: CHECK passes`);
      }
      t.equal((await runPlugin(envOf(a, 'DEL', 'chk', netns), config('1.0.0', conf))).code, 0);
    });
    t.same(records(a), []);
  });
});

t.test("refusals: a MAC in use, passthrough's master taken, a missing master (ADD and STATUS), the ACL's mode rule", { skip }, async (t) => {
  await withNetns(t, async (host) => {
    const a = await startAgent(t, { ns: host, acl: 'allow user root dev v0\nallow user root mode bridge\nallow user root mode passthrough\n' });
    await withPod(t, host, async (pod1, ns1) => {
      await withPod(t, host, async (pod2, ns2) => {
        const conf = config('1.1.0', { master: 'v0', runtimeConfig: { mac: '52:54:00:00:00:0d' } });
        t.equal((await runPlugin(envOf(a, 'ADD', 'c1', ns1), conf)).code, 0);
        const twin = await runPlugin(envOf(a, 'ADD', 'c2', ns2), conf);
        t.match(twin.json, { code: 136, msg: /MAC 52:54:00:00:00:0d is already used on v0/ }, "another pod's MAC: refused by the kernel, told as the configuration's mac");
        t.same(linkNames(pod2), ['lo'], 'nothing left in the second pod');
        t.equal(records(a).length, 1, "and only the first pod's record");
        const v0 = ipLink(host, 'v0').address;
        const parentMac = await runPlugin(envOf(a, 'ADD', 'c3', ns2), config('1.1.0', { master: 'v0', runtimeConfig: { mac: v0 } }));
        t.match(parentMac.json, { code: 136, msg: /already used on v0/ }, "the master's own MAC: refused");
        const pass = await runPlugin(envOf(a, 'ADD', 'c4', ns2), config('1.1.0', { master: 'v0', mode: 'passthrough' }));
        t.match(pass.json, { code: 11, msg: /passthrough mode needs v0 to itself/ }, 'passthrough on a master another pod uses: refused, try again later');
        t.same(linkNames(pod2), ['lo']);
        const vepa = await runPlugin(envOf(a, 'ADD', 'c5', ns2), config('1.1.0', { master: 'v0', mode: 'vepa' }));
        t.match(vepa.json, { code: 117, msg: /mode/ }, 'a mode the ACL does not allow');
        const missing = await runPlugin(envOf(a, 'ADD', 'c6', ns2), config('1.1.0', { master: 'nonesuch' }));
        t.match(missing.json, { code: 117 }, "a master the ACL does not name is refused before it is looked up (no probing of the host's devices)");
        t.equal((await runPlugin(envOf(a, 'DEL', 'c1', ns1), conf)).code, 0);
        t.same(linkNames(pod1), ['lo']);
      });
    });
    t.same(records(a), []);
  });
  await withNetns(t, async (host) => {
    const a = await startAgent(t, { ns: host, acl: 'allow user root dev *\nallow user root mode *\n' });
    await withPod(t, host, async (pod, netns) => {
      const missing = await runPlugin(envOf(a, 'ADD', 'm1', netns), config('1.1.0', { master: 'nonesuch' }));
      t.match(missing.json, { code: 132, msg: /master nonesuch does not exist in the agent's network namespace/ }, 'a missing master, named');
      t.same(linkNames(pod), ['lo']);
      t.same(records(a), [], 'no record left');
    });
    t.equal((await runPlugin(envOf(a, 'STATUS', 'x'), config('1.1.0', { master: 'v0' }))).code, 0, 'STATUS with the master there: 0');
    t.match((await runPlugin(envOf(a, 'STATUS', 'x'), config('1.1.0', { master: 'nonesuch' }))).json, { code: 50, msg: /master nonesuch does not exist/ }, 'STATUS with the master missing: 50');
  });
});

t.test('cni-claim of a macvtap: a user in the pod takes two queues and exchanges frames with the peer on the master', { skip }, async (t) => {
  await withNetns(t, async (host) => {
    const user = testUser(t, 'm');
    const a = await startAgent(t, { ns: host, acl: ACL });
    const fdsBefore = agentFds(a);
    ip(['-n', host, 'addr', 'add', '10.9.8.2/24', 'dev', 'v1']);
    await withPod(t, host, async (pod, netns) => {
      const add = await runPlugin(envOf(a, 'ADD', 'vm1', netns), config('1.1.0', { master: 'v0', mode: 'bridge', queues: 2 }));
      t.equal(add.code, 0, add.stdout);
      const rx = rxPackets(host, 'v1');
      const got = await claimAs(user, pod, a.socket, 'vm1', 'net1', () => {
        // The peer resolves 10.9.8.3: its broadcast ARP request reaches the macvtap through v0, and the claimed fd.
        ip(['netns', 'exec', host, 'bash', '-c', 'exec 3>/dev/udp/10.9.8.3/9 && echo x >&3'], { allowFail: true });
      });
      t.equal(got.ok, true, `claimed: ${JSON.stringify(got.error ?? '')}`);
      t.match(got.result, { containerId: 'vm1', ifname: 'net1', kind: 'macvtap', ifindex: ipLink(pod, 'net1').ifindex, vnetHdr: true, tapFds: 2 }, "two queues of the pod's macvtap");
      t.equal(got.wrote, 12 + 54, 'a frame written on the first queue');
      await until('the peer received it', () => rxPackets(host, 'v1') > rx, 3000);
      t.ok(rxPackets(host, 'v1') > rx, 'which left through the master to the peer');
      t.match(got.read, /^ffffffffffff[0-9a-f]{12}0806/, "and the peer's ARP request read from the fd");
      t.match(await claimAs(user, host, a.socket, 'vm1', 'net1'), { ok: false, error: { code: 'ACCESS_DENIED' } }, 'from the host namespace: refused');
      t.equal((await runPlugin(envOf(a, 'DEL', 'vm1', netns), config('1.1.0', { master: 'v0', mode: 'bridge' }))).code, 0);
      t.same(linkNames(pod), ['lo']);
    });
    await noNewAgentFds(t, a, fdsBefore);
  });
});

t.test("runtimeConfig.deviceID: the device plugin's VF (a stand-in sysfs names veth v0 as its netdev) is the master, passthrough; STATUS and ADD without it", { skip }, async (t) => {
  await withNetns(t, async (host) => {
    // No SR-IOV NIC here: a sysfs stand-in (--sysfs-root) gives VF 0 of PF ens9 the netdev v0, the host's real veth.
    const root = scratchDir(t, 'netfd-cni-sysfs-');
    const vf = fx.makePf(root, { pf: 'ens9', vfs: [{ n: 0, netdev: 'v0' }] }).vfs[0].pci;
    const a = await startAgent(t, { ns: host, acl: ACL, extraArgs: ['--sysfs-root', root] });
    const own = ipLink(host, 'v0').address;
    const conf = (extra: Record<string, unknown> = {}) => config('1.1.0', { runtimeConfig: { deviceID: vf, mac: '52:54:00:00:00:3c' }, ...extra });
    await withPod(t, host, async (pod, netns) => {
      t.equal((await runPlugin(envOf(a, 'STATUS', 'x'), conf())).code, 0, 'STATUS with the VF there: 0');
      const add = await runPlugin(envOf(a, 'ADD', 'd1', netns), conf());
      t.equal(add.code, 0, `ADD ${add.stdout}`);
      t.strictSame(
        add.json,
        { cniVersion: '1.1.0', interfaces: [{ name: 'net1', mac: '52:54:00:00:00:3c', mtu: 1500, sandbox: netns, socketPath: a.socket, pciID: vf }], dns: {} },
        'the result names the VF (pciID)',
      );
      const l = ipLink(pod, 'net1');
      t.match(l.linkinfo?.info_data, { mode: 'passthru' }, 'a passthrough macvtap in the pod');
      t.equal((l as unknown as { link_index: number }).link_index, ipLink(host, 'v0').ifindex, "on the VF's netdev");
      t.equal(ipLink(host, 'v0').address, '52:54:00:00:00:3c', "which carries the guest's MAC");
      t.equal((await runPlugin(envOf(a, 'CHECK', 'd1', netns), conf({ prevResult: add.json }))).code, 0, 'CHECK');
      t.equal((await runPlugin(envOf(a, 'DEL', 'd1', netns), conf())).code, 0, 'DEL');
      t.equal(ipLink(host, 'v0').address, own, 'the VF has its own MAC back');
      // The VF unbound from its network driver (vfio-pci): its net/ directory goes.
      fs.rmSync(path.join(root, 'bus', 'pci', 'devices', vf, 'net'), { recursive: true });
      t.match((await runPlugin(envOf(a, 'STATUS', 'x'), conf())).json, { code: 50, msg: new RegExp(`PCI device ${vf} has no network device`) }, 'STATUS without it: 50');
      t.match((await runPlugin(envOf(a, 'ADD', 'd2', netns), conf())).json, { code: 132, msg: new RegExp(`PCI device ${vf} has no network device`) }, 'ADD without it: 132, naming it');
      t.equal((await runPlugin(envOf(a, 'DEL', 'd2', netns), conf())).code, 0, 'DEL still succeeds (it needs no device)');
      t.same(linkNames(pod), ['lo']);
      t.same(records(a), []);
    });
  });
});
