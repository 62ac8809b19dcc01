// End to end through the host agent: an ordinary user (made by the test)
// runs `netfd --connect SOCKET launch`; the agent creates the tap and the
// macvtap and sends their fds; qemu runs as that user with exactly those fds
// and the guest pings both peers. When the user's netfd is stopped, the agent
// releases the devices.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import * as guest from '../../scripts/guest';
import { agentLivePath, agentRecords, startAgent, testUser } from '../helpers/agent';
import { linkNames } from '../helpers/e2e';
import { fdTable, needsRoot, withNetns } from '../helpers/host';
import { asUser, readableFile, readablePath } from '../helpers/readable';

const img = needsRoot ? null : guest.image({ quiet: true });

const statusUid = (pid: number): number => Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

t.test('an ordinary user launches a guest with a tap the agent prepared, then hotplugs a macvtap through the agent; the guest pings through both', { skip: needsRoot, timeout: 180_000 }, async (t) => {
  await withNetns(t, async (ns) => {
    const net = guest.addPeers(ns);
    const before = linkNames(ns);
    const u = testUser(t, 'e');
    const a = await startAgent(t, {
      ns,
      graceSecs: 2,
      acl: [`allow user ${u.name} bridge ${net.bridge}`, `allow user ${u.name} dev ${net.macvtapParent}`, `allow user ${u.name} mode bridge`].join('\n'),
    });
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-e2e-agent-'));
    t.teardown(() => fs.rmSync(home, { recursive: true, force: true }));
    fs.chownSync(home, u.uid, u.gid);
    const xmlFile = path.join(home, 'vm.xml');
    fs.writeFileSync(
      xmlFile,
      guest.domainXml({
        name: 'agentvm',
        // qemu runs as the user: the kernel and initramfs as it can read them.
        image: { ...(img as guest.GuestImage), kernel: readableFile((img as guest.GuestImage).kernel), initrd: readableFile((img as guest.GuestImage).initrd) },
        nics: [{ type: 'bridge' }],
        params: { ip0: `${net.bridgeSubnet}.2/24`, peer0: net.bridgePeer, ip1: `${net.macvtapSubnet}.2/24`, peer1: net.macvtapPeer, hold: 1 },
      }),
    );
    fs.chmodSync(xmlFile, 0o644);
    const userState = path.join(home, 'run');
    // The CLI as the user can read it, without the test runner's NODE_OPTIONS (readable.ts).
    const cliAs = (...args: string[]) => asUser(u, [process.execPath, readablePath('bin', 'netfd.js'), '--connect', a.socket, '--state-dir', userState, ...args]);
    const launch = cliAs('launch', xmlFile);
    const cli = spawn(launch.file, launch.args, { ...launch.options, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    cli.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const cliExit = new Promise<number | null>((r) => cli.once('exit', (code) => r(code)));
    t.teardown(() => {
      if (cli.exitCode === null && cli.signalCode === null) cli.kill('SIGKILL');
    });
    const console = new guest.Console(cli.stdout as never);
    const runCli = (...args: string[]) => {
      const c = cliAs(...args);
      return spawnSync(c.file, c.args, { ...c.options, encoding: 'utf8' });
    };
    const MAC = '52:54:00:e2:a6:01';
    const nicFile = path.join(home, 'nic.xml');
    fs.writeFileSync(nicFile, guest.interfaceXml({ type: 'direct', mode: 'bridge', mac: MAC }));
    const badFile = path.join(home, 'bad.xml');
    fs.writeFileSync(badFile, `<interface type='bridge'><source bridge='${net.bridge}'/><model type='nosuchnic'/></interface>`);
    for (const f of [nicFile, badFile]) fs.chmodSync(f, 0o644); // the user reads them, whatever the umask
    const wait = async (re: RegExp) => {
      try {
        return (await console.wait(re)).text;
      } catch (e) {
        throw new Error(`${(e as Error).message}\nnetfd stderr:\n${err}\nagent log:\n${a.log()}`, { cause: e });
      }
    };
    t.match(await wait(/^NETFD-PING-(OK|FAIL) eth0/), `NETFD-PING-OK eth0 ${net.bridgePeer} recv=3/3`, 'the guest pings the bridge peer through the tap');
    await wait(/^NETFD-READY/);
    const info = JSON.parse(fs.readFileSync(path.join(userState, 'agentvm.pid'), 'utf8')) as { pid: number; qmp: string };

    const linksBefore = linkNames(ns);
    const bad = runCli('attach-interface', 'agentvm', badFile);
    t.equal(bad.status, 1, 'an attach qemu refuses fails');
    t.match(bad.stderr, /QMP_ERROR.*nosuchnic/, "with qemu's error");
    t.same(linkNames(ns), linksBefore, 'and the agent took its tap back');
    const att = runCli('attach-interface', 'agentvm', nicFile, '--json');
    t.equal(att.status, 0, att.stderr);
    t.match(JSON.parse(att.stdout), { alias: 'net1', mac: MAC, targetDev: /^macvtap\d+$/, driver: 'qemu' }, 'attach-interface through the agent');
    await wait(/^NETFD-HOTPLUG eth1/);
    t.match(await wait(/^NETFD-PING-(OK|FAIL) eth1/), `NETFD-PING-OK eth1 ${net.macvtapPeer} recv=3/3`, 'the hotplugged macvtap pings its peer');
    t.equal(statusUid(info.pid), u.uid, 'qemu runs as the user, not root');
    t.equal(statusUid(cli.pid as number), u.uid, 'so does netfd');
    const fds = fdTable(info.pid);
    t.equal(fds.find(([fd]) => fd === 3)?.[1], '/dev/net/tun', 'fd 3 is the tap the agent made');
    t.ok(
      fds.some(([fd, target]) => fd > 3 && /tap\d+( \(deleted\))?$/.test(target)),
      "qemu holds the macvtap's character device, which came from the agent over SCM_RIGHTS twice",
    );
    t.ok(info.qmp.startsWith(userState), "the QMP socket is in the user's own directory");
    const live = fs.readFileSync(agentLivePath(a, u.uid, 'agentvm'), 'utf8');
    t.match(live, /<target dev="vnet\d+"\/>/, "the agent's live XML records the tap");
    t.match(live, /<target dev="macvtap\d+"\/>/, 'and the hotplugged macvtap');
    const det = runCli('detach-interface', 'agentvm', '--mac', MAC);
    t.equal(det.status, 0, det.stderr);
    await wait(/^NETFD-UNPLUG eth1/);
    t.notOk(
      linkNames(ns).some((l) => l.startsWith('macvtap')),
      'detach-interface through the agent deleted the macvtap',
    );
    t.notMatch(fs.readFileSync(agentLivePath(a, u.uid, 'agentvm'), 'utf8'), /macvtap/, "and the agent's live XML lost it");

    cli.kill('SIGTERM');
    t.equal(await cliExit, 0, 'netfd stops qemu on SIGTERM and exits 0');
    t.match(err, /agentvm released/, 'and says the agent released the domain');
    t.same(linkNames(ns), before, 'the devices are gone');
    t.same(agentRecords(a), [], 'no agent record left');
  });
});
