// End to end, through the CLI as a user runs it: launch --detach, NIC hotplug
// with fds sent over QMP (attach-interface / detach-interface), failed
// attaches rolled back, and destroy after the supervisor was SIGKILLed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { Test } from 'tap';
import * as guest from '../../scripts/guest';
import { fdTable, ipLinks, needsRoot, withNetns } from '../helpers/host';
import { linkNames, netfd } from '../helpers/e2e';

const img = needsRoot ? null : guest.image({ quiet: true });
const names = linkNames;

/** Waits for a line matching `re` in a growing log file, after line `from`. */
async function waitLog(file: string, re: RegExp, from = 0, timeoutMs = 90_000): Promise<{ line: string; index: number }> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split(/\r?\n/) : [];
    const index = lines.findIndex((l, i) => i >= from && re.test(l));
    if (index >= 0) return { line: lines[index], index };
    if (Date.now() > end) throw new Error(`no ${re} in ${file} within ${timeoutMs} ms:\n${lines.slice(-15).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('attach-interface and detach-interface on a guest launched with --detach', { skip: needsRoot }, async (t: Test) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-e2e-hp-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const state = path.join(dir, 'state');
  await withNetns(
    t,
    async (ns) => {
      const net = guest.addPeers(ns);
      const before = names(ns);
      const g = ['--netns', ns, '--state-dir', state];
      const domainFile = path.join(dir, 'hp.xml');
      fs.writeFileSync(
        domainFile,
        guest.domainXml({
          name: 'hp',
          image: img as guest.GuestImage,
          nics: [{ type: 'bridge' }],
          params: { ip0: `${net.bridgeSubnet}.2/24`, peer0: net.bridgePeer, ip1: `${net.macvtapSubnet}.2/24`, peer1: net.macvtapPeer, hold: 1 },
        }),
      );
      const ifaceFile = path.join(dir, 'nic.xml');
      const MAC = '52:54:00:e2:e0:01';
      fs.writeFileSync(ifaceFile, guest.interfaceXml({ type: 'direct', mode: 'bridge', mac: MAC }));
      const log = path.join(state, 'hp.log');

      const launched = netfd([...g, 'launch', domainFile, '--detach']);
      t.equal(launched.status, 0, `launch --detach returns once qemu runs: ${launched.stderr.trim()}`);
      const info = JSON.parse(fs.readFileSync(path.join(state, 'hp.pid'), 'utf8')) as { pid: number; supervisor: number };
      t.teardown(() => {
        for (const pid of [info.pid, info.supervisor]) if (alive(pid)) process.kill(pid, 'SIGKILL');
      });
      t.match(launched.stderr, new RegExp(`qemu pid ${info.pid}, supervised by pid ${info.supervisor}`));
      t.not(info.supervisor, process.pid, 'a separate supervisor process');
      t.match(JSON.parse(netfd([...g, 'list', '--json']).stdout), [{ name: 'hp', pid: info.pid, state: 'running' }]);
      await waitLog(log, /^NETFD-READY/);
      const inactive = netfd([...g, 'dumpxml', 'hp', '--inactive']).stdout;

      // attach: a macvtap NIC; the guest brings it up and pings through it
      const att = netfd([...g, 'attach-interface', 'hp', ifaceFile, '--json']);
      t.equal(att.status, 0, att.stderr);
      t.same(JSON.parse(att.stdout), { alias: 'net1', mac: MAC, targetDev: 'macvtap0', driver: 'qemu', pci: '00:03.0' }, 'where qemu put it: the slot after net0');
      t.ok(names(ns).includes('macvtap0'), 'the macvtap exists');
      const plugged = await waitLog(log, /^NETFD-HOTPLUG eth1/);
      t.match((await waitLog(log, /^NETFD-PING-(OK|FAIL) eth1/, plugged.index)).line, `NETFD-PING-OK eth1 ${net.macvtapPeer} recv=3/3`, 'the hotplugged NIC pings the peer');
      const live = netfd([...g, 'dumpxml', 'hp']).stdout;
      t.match(
        live,
        new RegExp(
          `<interface type="direct">\\s*<mac address="${MAC}"/>\\s*<source dev="v0" mode="bridge"/>\\s*<target dev="macvtap0"/>\\s*<model type="virtio"/>\\s*<driver name="qemu"/>\\s*<alias name="net1"/>\\s*<address type="pci" domain="0x0000" bus="0x00" slot="0x03" function="0x0"/>\\s*</interface>`,
        ),
        'the live XML gained it, with its decisions and its PCI slot',
      );
      t.equal(netfd([...g, 'dumpxml', 'hp', '--inactive']).stdout, inactive, 'the inactive XML did not change');
      const fdTargets = fdTable(info.pid).map(([, target]) => target);
      const ifindex = ipLinks(ns).find((l) => l.ifname === 'macvtap0')?.ifindex;
      t.ok(
        fdTargets.some((x) => new RegExp(`tap${ifindex}( \\(deleted\\))?$`).test(x)),
        `qemu holds macvtap0's fd (tap${ifindex}), received over SCM_RIGHTS`,
      );

      // failed attaches change nothing
      const linksNow = names(ns);
      const dup = netfd([...g, 'attach-interface', 'hp', ifaceFile]);
      t.equal(dup.status, 1);
      t.match(dup.stderr, /INVALID_ARGUMENT: \/interface\/mac\/@address: MAC 52:54:00:e2:e0:01 is also used by/, 'a duplicate MAC is refused, named inside the interface document');
      const badModel = path.join(dir, 'bad.xml');
      fs.writeFileSync(badModel, "<interface type='bridge'><source bridge='br0'/><model type='nosuchnic'/></interface>");
      const bad = netfd([...g, 'attach-interface', 'hp', badModel]);
      t.equal(bad.status, 1);
      t.match(bad.stderr, /QMP_ERROR.*nosuchnic/, "qemu's device_add error is reported");
      t.same(names(ns), linksNow, 'rolled back: the tap it had created is gone');
      t.equal(netfd([...g, 'dumpxml', 'hp']).stdout, live, 'rolled back: the live XML is unchanged');
      t.equal(netfd([...g, 'detach-interface', 'hp', '--mac', '52:54:00:00:99:99']).status, 1, 'detaching an unknown MAC fails');

      // detach: the guest releases it; the macvtap goes; the live XML shrinks
      const det = netfd([...g, 'detach-interface', 'hp', '--mac', MAC, '--json']);
      t.equal(det.status, 0, det.stderr);
      t.same(JSON.parse(det.stdout), { alias: 'net1', mac: MAC, targetDev: 'macvtap0', deleted: ['macvtap0'] });
      await waitLog(log, /^NETFD-UNPLUG eth1/);
      t.notOk(names(ns).includes('macvtap0'), 'the macvtap is deleted');
      t.notMatch(netfd([...g, 'dumpxml', 'hp']).stdout, /macvtap0|net1/, 'and gone from the live XML');

      // attach again, then SIGKILL the supervisor: destroy still cleans up
      t.equal(netfd([...g, 'attach-interface', 'hp', ifaceFile]).status, 0, 'attach again');
      t.ok(names(ns).includes('macvtap0'));
      process.kill(info.supervisor, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 200));
      t.ok(alive(info.pid), 'qemu outlives its killed supervisor');
      const destroyed = netfd([...g, 'destroy', 'hp']);
      t.equal(destroyed.status, 0, destroyed.stderr);
      t.match(destroyed.stdout, /hp: destroyed; deleted macvtap0/, 'destroy tore down from the live XML');
      t.notOk(alive(info.pid), 'qemu is gone');
      t.same(names(ns), before, 'no link left');
      t.same(fs.readdirSync(state), ['hp.log'], 'only the log stays');
    },
    { bridge: true },
  );
});
