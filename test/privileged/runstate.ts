// Host-side state as libvirt leaves it, with a real qemu started paused (-S,
// no guest needed): a launched domain's macvtaps are down until the vCPUs
// run (QMP cont), down again on stop, up on cont (a passthrough macvtap's
// device too), taps up throughout; a hotplugged macvtap follows the current
// state. The live XML records the PCI slot qemu gave each NIC, as query-pci
// reports it; a dumped live XML launched again puts each NIC back in its
// slot. The same through the host agent.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { Test } from 'tap';
import { AgentClient } from '../../lib/agent/client';
import { Conn } from '../../lib/agent/conn';
import { closeFd, socketPair } from '../../lib/sys/fdpass';
import { launchViaAgent } from '../../lib/agent/launch';
import { attachInterface } from '../../lib/qemu/hotplug';
import { launchDomain, LaunchedDomain } from '../../lib/qemu/launch';
import { queryPciAddresses } from '../../lib/qemu/pci';
import { Qmp } from '../../lib/qemu/qmp/commands';
import { DomainXml } from '../../lib/xml/domain';
import { startAgent } from '../helpers/agent';
import { netfd } from '../helpers/e2e';
import { ip, ipLink, needsRoot, withNetns } from '../helpers/host';

const XML = `<domain type='qemu'><name>rs</name><memory unit='MiB'>64</memory><devices>
  <interface type='ethernet'><model type='virtio'/></interface>
  <interface type='direct'><source dev='v0' mode='bridge'/><model type='virtio'/></interface>
  <interface type='direct'><source dev='p0' mode='passthrough'/><model type='e1000'/><address type='pci' slot='0x09'/></interface>
</devices></domain>`;
const NIC = "<interface type='direct'><mac address='52:54:00:aa:15:01'/><source dev='v0' mode='bridge'/><model type='virtio'/></interface>";

function tmpDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-runstate-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A veth pair p0 <-> p1 (up), for a passthrough macvtap on p0. */
function addPassthruParent(ns: string): void {
  ip(['-n', ns, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1']);
  for (const dev of ['p0', 'p1']) ip(['-n', ns, 'link', 'set', dev, 'up']);
}

const isUp = (ns: string, dev: string) => ipLink(ns, dev).flags.includes('UP');
const operstate = (ns: string, dev: string) => (ipLink(ns, dev) as unknown as { operstate: string }).operstate;

/** Waits until every device in `devs` is up (`up`) or down; the state seen in the assertion message. */
async function expectLinks(t: Test, ns: string, devs: string[], up: boolean, what: string): Promise<void> {
  const ok = () => devs.every((d) => isUp(ns, d) === up);
  for (const end = Date.now() + 3000; !ok() && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
  t.ok(ok(), `${what}: ${devs.map((d) => `${d} ${isUp(ns, d) ? 'UP' : 'down'} (${operstate(ns, d)})`).join(', ')}`);
}

async function withQmp<T>(file: string, body: (q: Qmp) => Promise<T>): Promise<T> {
  const q = await Qmp.connect(file);
  try {
    return await body(q);
  } finally {
    await q.close();
  }
}

/** The live XML's recorded addresses by alias, as "BB:SS.F". */
function liveSlots(text: string): Record<string, string> {
  const d = DomainXml.parse(text, { live: true });
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return Object.fromEntries(d.def.interfaces.map((i) => [i.alias as string, i.pci ? `${hex(i.pci.bus)}:${hex(i.pci.slot)}.${i.pci.function}` : 'none']));
}

async function qemuSlots(qmp: string, ids: string[]): Promise<Record<string, string>> {
  const m = await withQmp(qmp, (q) => queryPciAddresses(q));
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return Object.fromEntries(
    ids.map((id) => {
      const a = m.get(id);
      return [id, a ? `${hex(a.bus)}:${hex(a.slot)}.${a.function}` : 'none'];
    }),
  );
}

async function kill(l: { child: LaunchedDomain['child']; exited: Promise<unknown> }): Promise<void> {
  if (l.child.exitCode === null && l.child.signalCode === null) l.child.kill('SIGKILL');
  await l.exited;
}

t.test('macvtaps stay down until cont, go down on stop and up on cont; taps stay up; a hotplugged macvtap follows', { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t);
  await withNetns(t, async (ns) => {
    addPassthruParent(ns);
    const l = await launchDomain(XML, { netns: ns, stateDir, stdio: 'pipe', extraArgs: ['-S'] });
    t.teardown(() => void l.child.kill('SIGKILL'));
    t.match(l.argv.join(' '), /-chardev socket,id=netfd-mon,fd=6 -mon chardev=netfd-mon,mode=control/, "netfd's own monitor, on the fd after the NICs'");
    t.equal(l.runState?.running, false, 'query-status: paused (-S)');
    await expectLinks(t, ns, ['macvtap0', 'macvtap1'], false, 'created down, as libvirt does');
    t.equal(operstate(ns, 'macvtap0'), 'DOWN');
    t.ok(isUp(ns, 'p0'), "the passthrough macvtap's device is left as it was until the vCPUs stop");
    t.ok(isUp(ns, 'vnet0'), 'the tap is up from the start (libvirt: VIR_NETDEV_TAP_CREATE_IFUP)');
    t.match(JSON.parse(fs.readFileSync(path.join(stateDir, 'rs.pid'), 'utf8')), { links: 'follow' });

    // Hotplugged while paused: down.
    const a = await attachInterface('rs', NIC, { stateDir });
    t.equal(a.targetDev, 'macvtap2');
    await expectLinks(t, ns, ['macvtap2'], false, 'hotplugged while paused: down');

    ip(['-n', ns, 'link', 'set', 'v0', 'down']);
    await withQmp(l.qmp, (q) => q.execute('cont'));
    await expectLinks(t, ns, ['macvtap0', 'macvtap1', 'macvtap2', 'p0', 'v0'], true, 'after cont (a parent that was down set up first, as libvirt does)');
    await l.runState?.settled();
    t.equal(l.runState?.running, true);
    await withQmp(l.qmp, (q) => q.execute('stop'));
    await expectLinks(t, ns, ['macvtap0', 'macvtap1', 'macvtap2', 'p0'], false, "after stop (passthrough: its device too, as libvirt's qemuInterfaceStopDevice)");
    t.ok(isUp(ns, 'vnet0'), 'the tap stays up while paused');
    t.ok(isUp(ns, 'v0'), 'a bridge-mode parent stays up');
    await withQmp(l.qmp, (q) => q.execute('cont'));
    await expectLinks(t, ns, ['macvtap0', 'macvtap1', 'macvtap2', 'p0'], true, 'after cont again (the device first, then the macvtap)');

    // Hotplugged while running: up.
    const b = await attachInterface('rs', NIC.replace('15:01', '15:02'), { stateDir });
    await expectLinks(t, ns, [b.targetDev], true, 'hotplugged while running: up');
    await kill(l);
  });
});

t.test("the live XML records each NIC's PCI slot as query-pci reports it; relaunched from it, each NIC gets its slot back", { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t);
  await withNetns(t, async (ns) => {
    addPassthruParent(ns);
    const l = await launchDomain(XML, { netns: ns, stateDir, stdio: 'pipe', extraArgs: ['-S'] });
    t.teardown(() => void l.child.kill('SIGKILL'));
    const a = await attachInterface('rs', NIC, { stateDir });
    const ids = ['net0', 'net1', 'net2', 'net3'];
    const want = await qemuSlots(l.qmp, ids);
    t.strictSame(want, { net0: '00:02.0', net1: '00:03.0', net2: '00:09.0', net3: '00:04.0' }, 'where qemu put them (net2 where the config said)');
    const liveText = fs.readFileSync(path.join(stateDir, 'rs.xml'), 'utf8');
    t.strictSame(liveSlots(liveText), want, 'the live XML (read back as live XML) records the same slots');
    t.equal(l.domain.liveXml.includes('slot="0x03"'), true, 'LaunchedDomain.domain.liveXml has them too');
    t.strictSame(a.pci, { bus: 0, slot: 4, function: 0 }, "attachInterface returns the new NIC's slot");
    t.match(liveText, /<alias name="net1"\/>\s*<address type="pci" domain="0x0000" bus="0x00" slot="0x03" function="0x0"\/>/, "libvirt's spelling, after the alias");

    const dumped = netfd(['--state-dir', stateDir, 'dumpxml', 'rs']);
    t.equal(dumped.status, 0, dumped.stderr);
    t.equal(dumped.stdout, liveText, 'dumpxml shows them');
    const inactive = netfd(['--state-dir', stateDir, 'dumpxml', 'rs', '--inactive']);
    t.equal(inactive.stdout, XML, '--inactive keeps what the user wrote');
    await kill(l);

    // Launched again from the dumped live XML with its first NIC taken out:
    // without the addresses the others would move down (02, 03, ...).
    const edited = dumped.stdout.replace(/<interface type="ethernet">[\s\S]*?<\/interface>/, '');
    const file = path.join(stateDir, 'dumped.xml');
    fs.writeFileSync(file, edited);
    t.throws(() => DomainXml.parse(edited), { code: 'INVALID_ARGUMENT', message: /--from-live/ }, 'as a plain config it names the way');
    const again = await launchDomain(DomainXml.fromLive(edited), { netns: ns, stateDir, stdio: 'pipe', extraArgs: ['-S'] });
    t.teardown(() => void again.child.kill('SIGKILL'));
    const got = await qemuSlots(again.qmp, ['net0', 'net1', 'net2']);
    t.strictSame(got, { net0: '00:03.0', net1: '00:09.0', net2: '00:04.0' }, 'each NIC is back in its slot (the ids count from 0 again)');
    const macs = (x: string) => DomainXml.parse(x, { live: true }).def.interfaces.map((i) => i.mac);
    t.strictSame(macs(again.domain.liveXml), macs(liveText).slice(1), 'and keeps its MAC');
    await kill(again);

    // The CLI: launch --from-live, detached.
    const cli = netfd(['--state-dir', stateDir, '--netns', ns, 'launch', file, '--from-live', '--detach', '--', '-S']);
    t.equal(cli.status, 0, cli.stderr);
    const info = JSON.parse(fs.readFileSync(path.join(stateDir, 'rs.pid'), 'utf8')) as { pid: number; qmp: string };
    t.strictSame(await qemuSlots(info.qmp, ['net0', 'net1', 'net2']), got, 'the same through `netfd launch --from-live --detach`');
    t.ok(!isUp(ns, 'macvtap0'), 'the detached supervisor keeps the macvtaps down while paused');
    await withQmp(info.qmp, (q) => q.execute('cont'));
    await expectLinks(t, ns, ['macvtap0', 'macvtap1', 'macvtap2'], true, 'and brings them up on cont');
    t.equal(netfd(['--state-dir', stateDir, 'destroy', 'rs']).status, 0);
  });
});

t.test("macvtapLinks 'up': up at once, no monitor of netfd's own", { skip: needsRoot }, async (t) => {
  const stateDir = tmpDir(t);
  await withNetns(t, async (ns) => {
    const l = await launchDomain(XML.replace(/<interface type='direct'><source dev='p0'[^]*?<\/interface>/, ''), { netns: ns, stateDir, stdio: 'pipe', extraArgs: ['-S'], macvtapLinks: 'up' });
    t.teardown(() => void l.child.kill('SIGKILL'));
    t.equal(l.runState, null);
    t.notMatch(l.argv.join(' '), /netfd-mon/);
    t.ok(isUp(ns, 'macvtap0'), 'up although the vCPUs are paused');
    t.notOk('links' in JSON.parse(fs.readFileSync(path.join(stateDir, 'rs.pid'), 'utf8')));
    const a = await attachInterface('rs', NIC, { stateDir });
    t.ok(isUp(ns, a.targetDev), 'a hotplugged one too');
    await kill(l);
  });
});

t.test('through the agent: it keeps the macvtaps in step with what the launching process reads over QMP, and records the slots', { skip: needsRoot }, async (t) => {
  // The process's one agent-connection poller (an epoll fd and an eventfd)
  // lives as long as the process: made before withNetns counts the fds.
  const [x, y] = socketPair('seqpacket');
  new Conn(x, { maxBytes: 1024, maxFds: 0, onMessage: () => undefined, onClose: () => undefined }).close();
  closeFd(y);
  await withNetns(t, async (ns) => {
    const a = await startAgent(t, { ns, acl: 'allow user root all\n' });
    const userState = tmpDir(t);
    const client = await AgentClient.connect(a.socket);
    const xml = XML.replace(/<interface type='ethernet'>[^]*?<\/interface>|<interface type='direct'><source dev='p0'[^]*?<\/interface>/g, '');
    const l = await launchViaAgent(client, xml.replace('<name>rs</name>', '<name>ag</name>'), { stateDir: userState, stdio: 'pipe', extraArgs: ['-S'] });
    t.teardown(() => void l.stop(0));
    t.equal(l.runState?.running, false);
    await expectLinks(t, ns, ['macvtap0'], false, 'the agent made it down');
    const livePath = path.join(a.stateDir, 'agent', '0', 'ag.xml');
    t.strictSame(liveSlots(fs.readFileSync(livePath, 'utf8')), await qemuSlots(l.qmp, ['net0']), "the agent's live XML records the slot");
    t.match(l.liveXml, /slot="0x02"/, 'and the launcher has that live XML');
    const att = netfd(['--connect', a.socket, '--state-dir', userState, 'attach-interface', 'ag', writeTmp(userState, 'nic.xml', NIC), '--json']);
    t.equal(att.status, 0, att.stderr);
    const j = JSON.parse(att.stdout) as { targetDev: string; pci: string };
    t.equal(j.pci, '00:03.0');
    t.strictSame(liveSlots(fs.readFileSync(livePath, 'utf8')), await qemuSlots(l.qmp, ['net0', 'net1']), "the attached NIC's slot too");
    await expectLinks(t, ns, [j.targetDev], false, 'attached while paused: down');
    ip(['-n', ns, 'link', 'set', 'v0', 'down']);
    await withQmp(l.qmp, (q) => q.execute('cont'));
    await expectLinks(t, ns, ['macvtap0', j.targetDev], true, 'cont: the agent set them up');
    t.notOk(isUp(ns, 'v0'), 'but left the shared parent an administrator set down as it was');
    ip(['-n', ns, 'link', 'set', 'v0', 'up']);
    t.match(JSON.parse(fs.readFileSync(path.join(a.stateDir, 'agent', '0', 'ag.json'), 'utf8')), { running: true }, 'the record keeps what the owner said');
    await withQmp(l.qmp, (q) => q.execute('stop'));
    await expectLinks(t, ns, ['macvtap0', j.targetDev], false, 'stop: down');
    await l.stop(0);
    l.close();
  });
});

function writeTmp(dir: string, name: string, text: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}
