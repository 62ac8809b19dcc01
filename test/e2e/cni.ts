// End to end through the CNI plugin (#19): a runtime's ADD makes a
// multiqueue tap in a pod's network namespace; then an unprivileged user
// inside that namespace, who could not attach the tap itself, claims its
// queue fds through the socket the ADD result names and boots the test guest
// on them with qemu under TCG, twice: with a launcher on the library
// (test/helpers/cni-launcher.js: netfd's own argv for a domain XML) and with
// `netfd cni-claim ID IFNAME -- qemu … {netdev} … mac={mac}`, the CLI; the guest enables both queues and pings the pod's side of the
// tap. Then qemu is killed, DEL removes the tap, and nothing is left: no link,
// no record, no process. Then for the node-side attachments: a type='bridge'
// tap, a port of the node's bridge (not in the pod), and a type='direct'
// macvtap in the pod on the node's veth; the launcher in the pod claims each
// the same way, and the guest pings the node's address through it.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import t from 'tap';
import { childFds, domainArgv, DomainXml, policy } from '../../lib';
import * as guest from '../../scripts/guest';
import { startAgent, testUser, TestUser, until } from '../helpers/agent';
import { envOf, noPlugin, records, runPlugin, withPod } from '../helpers/cni';
import { linkNames } from '../helpers/e2e';
import { fdTable, inheritedFds, ip, ipLink, needsRoot, withNetns } from '../helpers/host';
import { asUser, readableFile, readablePath } from '../helpers/readable';

const skip = needsRoot || noPlugin;
const img = skip ? null : guest.image({ quiet: true });

/** The guest's MAC (the launcher's to choose); the tap's own, fe:54:…, is the pod's side. */
const GUEST_MAC = '52:54:00:e2:c0:01';
const POD_IP = '10.9.9.1';
const GUEST_IP = '10.9.9.2';

const statusUid = (pid: number): number => Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
const netnsIno = (file: string): number => fs.statSync(file).ino;
const alive = (pid: number): boolean => fs.existsSync(`/proc/${pid}`);

/** The pids of the processes running as `uid`. */
const processesOf = (uid: number): number[] =>
  fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => {
      try {
        return statusUid(pid) === uid;
      } catch {
        return false; // exited while listed
      }
    });

/** `argv` as `user` (readable.ts) inside namespace `ns` (ip netns exec: setns, then setpriv drops to the user). */
function inPodAs(user: TestUser, ns: string, argv: string[]): { file: string; args: string[]; cwd: string } {
  const u = asUser(user, argv);
  return { file: 'ip', args: ['netns', 'exec', ns, u.file, ...u.args], cwd: u.options.cwd };
}

interface Launched {
  qemu: number;
  argv: string[];
  claim: { ifindex: number; tapFds: number; vhostFds: number; vnetHdr: boolean; vhostUnavailable?: string };
}

/** qemu's argv for the guest on the claimed queues (fds 3 and 4), as netfd makes it for the domain. */
function qemuArgv(xml: string): string[] {
  const def = DomainXml.parse(xml).def;
  const [p] = policy.planDomain(def, [{ mac: GUEST_MAC, generated: false }]);
  const decision = policy.decideDriver(p, { usable: false, code: 'VHOST_UNAVAILABLE', message: 'no vhost-net fds claimed' });
  const [at] = childFds([{ tap: 2, vhost: 0 }]);
  return domainArgv(def, [{ plan: p, decision, ...at }]);
}

/** The pid of the qemu that process `parent` started, or undefined. */
function qemuChildOf(parent: number): number | undefined {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === parent && stat.includes('(qemu-system-')) return Number(d);
    } catch {
      // exited while listed
    }
  }
  return undefined;
}

/** A process this test started, and how to wait for its end (killed in the tests' `finally`). */
type Proc = { pid: () => number | undefined; exited: () => Promise<unknown> };

/** Starts `run` (inPodAs) with the domain XML on its stdin: its stderr so far, the JSON line it reports once qemu runs, and qemu's console on its stdout. */
function startLauncher(run: { file: string; args: string[]; cwd: string }, xml: string, procs: Proc[]) {
  const launcher = spawn(run.file, run.args, { cwd: run.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  const launcherClosed = new Promise<number | null>((r) => launcher.once('close', (code) => r(code)));
  procs.push({ pid: () => launcher.pid, exited: () => launcherClosed });
  launcher.stdin.end(xml);
  let err = '';
  launcher.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const launchedLine = (): Launched | undefined => {
    const line = err.split('\n').find((x) => x.startsWith('{'));
    return line ? (JSON.parse(line) as Launched) : undefined;
  };
  return { launcher, launcherClosed, console: new guest.Console(launcher.stdout as never), err: () => err, launchedLine };
}

/** Kills what `procs` started, qemu first (it holds the launcher's stdout and stderr, which the launcher's 'close' waits for), and waits for each. */
async function killAll(procs: Proc[]): Promise<void> {
  for (const p of procs) {
    const pid = p.pid();
    if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
  }
  for (const p of procs) await p.exited().catch(() => undefined);
}

for (const how of ['library', 'cli'] as const)
  t.test(
    `an unprivileged user in the pod claims the CNI tap through socketPath (${how === 'cli' ? 'netfd cni-claim' : 'a launcher on the library'}) and boots a guest on it under TCG; the guest pings the pod`,
    { skip, timeout: 180_000 },
    async (t) => {
      await withNetns(t, async (host) => {
        const user = testUser(t, 'v');
        const a = await startAgent(t, { ns: host, acl: 'allow user root ethernet' });
        // Every process this test starts is gone before the pod and the user are (also when it fails).
        await withPod(t, host, async (pod, netns) => {
          const procs: Proc[] = [];
          try {
            const conf = JSON.stringify({ cniVersion: '1.1.0', name: 'vmnet', type: 'netfd', queues: 2, runtimeConfig: { mac: GUEST_MAC } });
            const add = await runPlugin(envOf(a, 'ADD', 'vm1', netns), conf);
            t.equal(add.code, 0, `ADD ${add.stdout}${add.stderr}`);
            const [iface] = (add.json as { interfaces: { name: string; mac: string; sandbox: string; socketPath?: string }[] }).interfaces;
            t.match(iface, { name: 'net1', sandbox: netns, socketPath: a.socket }, "the result's interface names the agent's socket");
            const l = ipLink(pod, 'net1');
            t.match(l.linkinfo?.info_data, { type: 'tap', multi_queue: true, persist: true }, 'a persistent multiqueue tap in the pod');
            t.equal(l.address, iface.mac, 'whose MAC (the pod side) the result gives');
            t.not(iface.mac, GUEST_MAC, "and which is not the guest's");
            ip(['-n', pod, 'addr', 'add', `${POD_IP}/24`, 'dev', 'net1']);
            t.equal(records(a).length, 1, 'the agent recorded the attachment');

            // Without the claim the user has no way to the tap: /dev/net/tun does not open for it (0600 here), or when it
            // does (0666 elsewhere), attaching a queue of a tap it does not own needs CAP_NET_ADMIN.
            const selfArgv = [process.execPath, '-e', "require('./dist').Tap.create({ name: 'net1', queues: 2, persist: true }).then(() => console.log('attached'), (e) => console.log(e.code))"];
            const self = inPodAs(user, pod, selfArgv);
            const tried = spawnSync(self.file, self.args, { cwd: self.cwd, encoding: 'utf8' });
            const othersRw = (fs.statSync('/dev/net/tun').mode & 0o006) === 0o006;
            t.equal(tried.stdout.trim(), othersRw ? 'EPERM' : 'EACCES', `the user cannot attach net1 itself (${othersRw ? 'TUNSETIFF' : 'opening /dev/net/tun'}) ${tried.stderr}`);

            const xml = guest.domainXml({
              name: 'cnivm',
              // qemu runs as the user: the kernel and initramfs as it can read them.
              image: { kernel: readableFile((img as guest.GuestImage).kernel), initrd: readableFile((img as guest.GuestImage).initrd) },
              nics: [{ type: 'ethernet', targetDev: 'net1', managed: false, mac: GUEST_MAC, queues: 2 }],
              params: { ip0: `${GUEST_IP}/24`, peer0: POD_IP, queues0: 2, hold: 1 },
            });
            // The CLI's argv: netfd's for the domain with the placeholders cni-claim fills in.
            const cliArgv = qemuArgv(xml).map((w) => w.replace('fds=3:4,vhost=off', '{netdev}').replace(`mac=${GUEST_MAC}`, 'mac={mac}'));
            t.ok(cliArgv.some((w) => w.includes('{netdev}')) && cliArgv.some((w) => w.includes('mac={mac}')), 'placeholders in the argv');
            const run = inPodAs(
              user,
              pod,
              how === 'cli'
                ? [process.execPath, readablePath('bin', 'netfd.js'), 'cni-claim', 'vm1', 'net1', '--socket', iface.socketPath as string, '--', ...cliArgv]
                : [process.execPath, readablePath('test', 'helpers', 'cni-launcher.js'), iface.socketPath as string, 'vm1', 'net1'],
            );
            const { launcher, launcherClosed, console, err, launchedLine } = startLauncher(run, xml, procs);
            let launched = launchedLine();
            if (how === 'cli') {
              // netfd cni-claim prints nothing of its own while qemu runs: qemu is its child.
              let q: number | undefined;
              await until('netfd cni-claim started qemu', () => (q = qemuChildOf(launcher.pid as number)) !== undefined || launcher.exitCode !== null, 30_000).catch(() => undefined);
              if (q === undefined) throw new Error(`netfd cni-claim did not start qemu (exit ${String(launcher.exitCode)}):\n${err()}\n${console.tail()}`);
              launched = { qemu: q, argv: fs.readFileSync(`/proc/${q}/cmdline`, 'utf8').split('\0').slice(0, -1), claim: { ifindex: l.ifindex, tapFds: 2, vhostFds: 0, vnetHdr: true } };
            }
            await until('the launcher started qemu', () => (launched ??= launchedLine()) !== undefined || launcher.exitCode !== null, 30_000).catch(() => undefined);
            if (!launched || !('qemu' in launched)) throw new Error(`the launcher did not start qemu (exit ${String(launcher.exitCode)}):\n${err()}\n${console.tail()}`);
            const pid = launched.qemu;
            procs.unshift({ pid: () => pid, exited: () => until('qemu exited', () => !alive(pid), 10_000) });

            t.match(launched.claim, { ifindex: l.ifindex, tapFds: 2, vhostFds: 0, vnetHdr: true }, 'the claim gave the two queue fds (no vhost-net here)');
            if (how === 'cli') t.same(launched.argv, qemuArgv(xml), "cni-claim filled {netdev} and {mac} (the guest's, from the attachment's configuration) in: netfd's own argv");
            t.match(
              launched.argv.join(' '),
              `-accel tcg -m 256 -smp 1 -nodefaults -no-user-config -display none -no-reboot -kernel `,
              "netfd's domainArgv: TCG, no default devices, the test guest's kernel",
            );
            t.match(launched.argv.join(' '), `-netdev tap,id=hostnet0,fds=3:4,vhost=off -device virtio-net-pci,netdev=hostnet0,id=net0,mac=${GUEST_MAC},mq=on,vectors=6`, 'the queues at fds 3 and 4');
            t.equal(statusUid(pid), user.uid, 'qemu runs as the unprivileged user');
            t.equal(statusUid(launcher.pid as number), user.uid, 'so does the launcher (ip netns exec, then setpriv, each exec in place)');
            t.equal(netnsIno(`/proc/${pid}/ns/net`), netnsIno(netns), "in the pod's network namespace");
            const taps = fdTable(pid).filter(([, target]) => target === '/dev/net/tun');
            t.same(
              taps.map(([fd]) => fd),
              [3, 4],
              'qemu holds two /dev/net/tun fds, at 3 and 4',
            );
            for (const [fd] of taps) t.match(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'), /^iff:\s+net1$/m, `fd ${fd} is a queue of net1`);

            const wait = async (re: RegExp) => {
              try {
                return (await console.wait(re, 90_000)).text;
              } catch (e) {
                throw new Error(`${(e as Error).message}\nlauncher stderr:\n${err()}\nagent log:\n${a.log()}`, { cause: e });
              }
            };
            t.match(await wait(/^NETFD-QUEUES eth0/), 'rx=2 tx=2', 'the guest enabled both queues (ethtool -L combined 2)');
            t.match(await wait(/^NETFD-PING-(OK|FAIL) eth0/), `NETFD-PING-OK eth0 ${POD_IP} recv=3/3`, "the guest pings the pod's side of net1");
            t.ok(ipLink(pod, 'net1').flags.includes('LOWER_UP'), 'net1 has carrier while qemu holds its queues');
            t.same(
              fdTable(pid).filter(([fd, target]) => fd > 4 && !/^(anon_inode:|socket:)/.test(target) && !inheritedFds().has(fd)),
              [],
              "nothing else of the claim or the launcher reached qemu (the rest is qemu's eventfds and sockets, and what this test inherited; looked at once the guest runs: while qemu starts it briefly holds the shared libraries it loads)",
            );

            process.kill(pid, 'SIGKILL');
            t.equal(await launcherClosed, 128 + 9, 'qemu killed: the launcher exits with its status (128 + SIGKILL)');
            await until('qemu gone', () => !alive(pid), 10_000);
            t.notOk(ipLink(pod, 'net1').flags.includes('LOWER_UP'), 'net1 stays (persistent) without carrier: no fd of it is open');

            const del = await runPlugin(envOf(a, 'DEL', 'vm1', netns), JSON.stringify({ cniVersion: '1.1.0', name: 'vmnet', type: 'netfd', prevResult: add.json }));
            t.equal(del.code, 0, `DEL ${del.stdout}${del.stderr}`);
            t.same(linkNames(pod), ['lo'], 'the pod has only lo');
            t.same(records(a), [], 'no record left');
            t.same(ip(['netns', 'pids', pod]).trim(), '', 'no process left in the pod');
            t.same(processesOf(user.uid), [], 'nor of the user');
          } finally {
            await killAll(procs);
          }
        });
      });
    },
  );

/** The node-side attachments: a tap on the node's bridge, and a macvtap in the pod on a node device (its peer v1 has the address the guest pings). */
const NODE_CASES = [
  { kind: 'bridge', acl: 'allow user root bridge br0', conf: { bridge: 'br0' }, peerDev: 'br0', what: "a bridged tap (type='bridge'): a port of the node's bridge" },
  { kind: 'direct', acl: 'allow user root dev v0\nallow user root mode bridge', conf: { master: 'v0', mode: 'bridge' }, peerDev: 'v1', what: "a macvtap (type='direct') in the pod on the node's v0" },
] as const;

for (const c of NODE_CASES)
  t.test(`${c.what}, claimed by an unprivileged launcher in the pod; the guest pings the node through it`, { skip, timeout: 180_000 }, async (t) => {
    await withNetns(
      t,
      async (host) => {
        const user = testUser(t, c.kind === 'bridge' ? 'w' : 'x');
        const a = await startAgent(t, { ns: host, acl: c.acl });
        ip(['-n', host, 'addr', 'add', `${POD_IP}/24`, 'dev', c.peerDev]);
        await withPod(t, host, async (pod, netns) => {
          const procs: Proc[] = [];
          try {
            const conf = { cniVersion: '1.1.0', name: 'vmnode', type: 'netfd', ...c.conf, queues: 2, runtimeConfig: { mac: GUEST_MAC } };
            const add = await runPlugin(envOf(a, 'ADD', 'vm2', netns), JSON.stringify(conf));
            t.equal(add.code, 0, `ADD ${add.stdout}`);
            const listed = (add.json as { interfaces: { name: string; socketPath?: string }[] }).interfaces;
            // The device: a port of br0 on the node (the result's second interface), or net1 in the pod.
            const [dev, devNs] = c.kind === 'bridge' ? [listed[1], host] : [listed[0], pod];
            if (c.kind === 'bridge') {
              t.match(ipLink(host, dev.name), { master: 'br0' }, "the tap is a port of the node's br0");
              t.same(linkNames(pod), ['lo'], 'the pod has no device');
            } else t.equal(ipLink(pod, 'net1').linkinfo?.info_kind, 'macvtap', 'a macvtap in the pod');
            const xml = guest.domainXml({
              name: 'cninode',
              image: { kernel: readableFile((img as guest.GuestImage).kernel), initrd: readableFile((img as guest.GuestImage).initrd) },
              nics: [{ type: 'ethernet', targetDev: 'net1', managed: false, mac: GUEST_MAC, queues: 2 }],
              params: { ip0: `${GUEST_IP}/24`, peer0: POD_IP, queues0: 2, hold: 1 },
            });
            const run = inPodAs(user, pod, [process.execPath, readablePath('test', 'helpers', 'cni-launcher.js'), dev.socketPath as string, 'vm2', 'net1']);
            const { launcher, launcherClosed, console, err, launchedLine } = startLauncher(run, xml, procs);
            let launched: Launched | undefined;
            await until('the launcher started qemu', () => (launched ??= launchedLine()) !== undefined || launcher.exitCode !== null, 30_000).catch(() => undefined);
            if (!launched || !('qemu' in launched)) throw new Error(`the launcher did not start qemu (exit ${String(launcher.exitCode)}):\n${err()}\n${console.tail()}`);
            const pid = launched.qemu;
            procs.unshift({ pid: () => pid, exited: () => until('qemu exited', () => !alive(pid), 10_000) });
            t.match(launched.claim, { ifindex: ipLink(devNs, dev.name).ifindex, tapFds: 2, vhostFds: 0 }, `the claim gave two queues of ${dev.name}`);
            t.equal(statusUid(pid), user.uid, 'qemu runs as the unprivileged user');
            t.equal(netnsIno(`/proc/${pid}/ns/net`), netnsIno(netns), "in the pod's network namespace");
            const queues = fdTable(pid).filter(([fd]) => fd === 3 || fd === 4);
            if (c.kind === 'bridge')
              for (const [fd, target] of queues)
                t.match(`${target} ${fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')}`, new RegExp(`^/dev/net/tun [^]*^iff:\\s+${dev.name}$`, 'm'), `fd ${fd} is a queue of ${dev.name}`);
            else
              for (const [fd, target] of queues)
                t.match(target, new RegExp(`(^|/)tap${ipLink(pod, 'net1').ifindex}( \\(deleted\\))?$`), `fd ${fd} is the macvtap's character device, tap + its ifindex in the pod (${target})`);
            const wait = async (re: RegExp) => (await console.wait(re, 90_000)).text;
            t.match(await wait(/^NETFD-QUEUES eth0/), 'rx=2 tx=2', 'the guest enabled both queues');
            t.match(await wait(/^NETFD-PING-(OK|FAIL) eth0/), `NETFD-PING-OK eth0 ${POD_IP} recv=3/3`, `the guest pings ${c.peerDev} on the node through it`);
            process.kill(pid, 'SIGKILL');
            t.equal(await launcherClosed, 128 + 9, 'qemu killed: the launcher exits with its status');
            const del = await runPlugin(envOf(a, 'DEL', 'vm2', netns), JSON.stringify({ ...conf, prevResult: add.json }));
            t.equal(del.code, 0, `DEL ${del.stdout}${del.stderr}`);
            t.notOk(linkNames(devNs).includes(dev.name), `${dev.name} is gone`);
            t.same(records(a), [], 'no record left');
            t.same(processesOf(user.uid), [], 'no process of the user left');
          } finally {
            await killAll(procs);
          }
        });
      },
      { bridge: c.kind === 'bridge' },
    );
  });
