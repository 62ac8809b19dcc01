// Taps on real devices: queues, vnet header, fds passed to a child process.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Tap, tunFeatures } from '../../lib/sys/tap';
import { tcBinary } from '../../lib/sys/tc';
import { recvFds, sendFds, socketPair, closeFd } from '../../lib/sys/fdpass';
import { VhostFds } from '../../lib/sys/vhost';
import { ip, ipLink, needsRoot, withNetns } from '../helpers/host';
import { asUser, readableRoot } from '../helpers/readable';

t.test('tap with 1 and 4 queues: fds, vnet_hdr and multi_queue as ip shows them', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    t.ok((await tunFeatures({ netns: ns })).multiQueue, 'TUNGETFEATURES reports multiqueue');
    const one = await Tap.create({ netns: ns, name: 'tap1q' });
    t.equal(one.fds.length, 1);
    let d = ipLink(ns, 'tap1q').linkinfo!.info_data!;
    t.match(d, { type: 'tap', pi: false, vnet_hdr: true, multi_queue: false });
    const four = await Tap.create({ netns: ns, template: 'vnet%d', queues: 4 });
    t.equal(four.name, 'vnet0');
    t.equal(four.fds.length, 4, '4 queues, 4 fds');
    d = ipLink(ns, four.name).linkinfo!.info_data!;
    t.match(d, { type: 'tap', pi: false, vnet_hdr: true, multi_queue: true, numqueues: 4 });
    t.match(ip(['-n', ns, '-d', 'link', 'show', 'dev', 'vnet0']), /tun type tap pi off vnet_hdr on multi_queue numqueues 4/);
    const plain = await Tap.create({ netns: ns, name: 'novnet', vnetHdr: false });
    t.match(ipLink(ns, 'novnet').linkinfo!.info_data!, { vnet_hdr: false });
    for (const tap of [one, four, plain]) tap.close();
    t.throws(() => ipLink(ns, 'vnet0'), 'a non-persistent tap goes with its fds');
  });
});

t.test('setup: noqueue while down, then MAC, MTU, bridge, link group and up, in the same call; a failing setup leaves no tap', { skip: needsRoot }, async (t) => {
  await withNetns(
    t,
    async (ns) => {
      const tap = await Tap.create({ netns: ns, name: 'set0', setup: { qdisc: 'noqueue', mac: 'fe:54:00:00:00:01', mtu: 1400, master: 'br0', group: 0x2a0001, up: true } });
      t.equal(tap.qdiscError, undefined, 'noqueue was set');
      const l = ipLink(ns, 'set0');
      t.match(l, { address: 'fe:54:00:00:00:01', mtu: 1400, master: 'br0', group: String(0x2a0001) });
      t.ok(l.flags.includes('UP'), 'up');
      t.match(execFileSync(tcBinary(), ['-n', ns, 'qdisc', 'show', 'dev', 'set0'], { encoding: 'utf8' }), /^qdisc noqueue /, 'the root qdisc is noqueue, never pfifo_fast');
      tap.close();
      const before = ip(['-n', ns, '-o', 'link', 'show']);
      for (const persist of [false, true]) {
        await t.rejects(
          Tap.create({ netns: ns, name: 'bad0', persist, setup: { qdisc: 'noqueue', master: 'nosuchbr', up: true } }),
          { code: 'ENODEV' },
          `a master that does not exist fails the call (persist ${persist})`,
        );
        t.equal(ip(['-n', ns, '-o', 'link', 'show']), before, `and leaves no tap behind (persist ${persist})`);
      }
      await t.rejects(Tap.create({ netns: ns, name: 'bad1', setup: { qdisc: 'pfifo' as 'noqueue' } }), { code: 'INVALID_ARGUMENT', field: 'setup.qdisc' });
      await t.rejects(Tap.create({ netns: ns, name: 'bad1', setup: { mac: 'zz' } }), { code: 'INVALID_ARGUMENT', field: 'setup.mac' });
      t.equal(ip(['-n', ns, '-o', 'link', 'show']), before, 'bad setup arguments make nothing');
    },
    { bridge: true },
  );
});

t.test('persistent tap with owner and group survives close; destroy removes it', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const tap = await Tap.create({ netns: ns, name: 'ptap', persist: true, owner: 1234, group: 5678 });
    tap.close();
    t.match(ipLink(ns, 'ptap').linkinfo!.info_data!, { persist: true, user: 1234, group: 5678 });
    await t.rejects(Tap.create({ netns: ns, name: 'ptap', queues: 2 }), { code: 'EINVAL' }, 'an existing single-queue tap refuses multiqueue');
    await tap.destroy();
    t.throws(() => ipLink(ns, 'ptap'));
  });
});

t.test('tap fds passed to a child process, which writes a frame seen on the host side', { skip: needsRoot }, async (t) => {
  await withNetns(t, async (ns) => {
    const tap = await Tap.create({ netns: ns, name: 'tapx', queues: 2 });
    ip(['-n', ns, 'link', 'set', 'tapx', 'up']);
    // Host side: a packet socket on the tap inside the namespace.
    const py = [
      'import socket',
      's = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))',
      's.bind(("tapx", 0))',
      's.settimeout(10)',
      'print("ready", flush=True)',
      'while True:',
      '    data = s.recv(65536)',
      '    if data[12:14] == bytes([0x88, 0xb5]):',
      '        print(data.hex(), flush=True)',
      '        break',
    ].join('\n');
    const sniffer = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', py], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.teardown(() => void sniffer.kill());
    const lines: string[] = [];
    let partial = '';
    const waiters: (() => void)[] = [];
    sniffer.stdout.on('data', (c) => {
      const parts = (partial + c).split('\n');
      partial = parts.pop()!;
      lines.push(...parts);
      waiters.splice(0).forEach((w) => w());
    });
    // 'close', not 'exit': close comes after the last stdout data, so a line
    // printed just before exiting is never lost to this rejection.
    const exited = new Promise<never>((_, reject) => sniffer.on('close', (code) => reject(new Error(`sniffer exited with ${code}`))));
    const line = (n: number) =>
      Promise.race([
        new Promise<string>((resolve) => {
          const check = () => (lines.length > n ? resolve(lines[n]) : waiters.push(check));
          check();
        }),
        exited,
      ]); // a line already there wins over an exit already seen
    exited.catch(() => undefined);
    t.equal(await line(0), 'ready', 'sniffer ready');

    const [mine, theirs] = socketPair();
    const child = spawn(process.execPath, [path.join(__dirname, '..', 'helpers', 'write-frame.js')], { stdio: ['ignore', 'inherit', 'inherit', theirs] });
    closeFd(theirs);
    // ethertype 0x88b5 (local experimental), broadcast destination
    const frame = 'ffffffffffff' + '020000000001' + '88b5' + Buffer.from('netfd fd passing').toString('hex');
    await sendFds(mine, JSON.stringify({ vnetHdr: 12, frame }), tap.fds);
    const reply = await recvFds(mine, 1024, 0, 10000);
    t.same(JSON.parse(reply.data.toString()), { received: 2 }, 'the child got both queue fds');
    const code = await new Promise((resolve) => child.on('exit', resolve));
    t.equal(code, 0, 'child exited cleanly');
    t.equal(await line(1), frame, 'the frame the child wrote arrived on the tap');
    closeFd(mine);
    tap.close();
    await exited.catch(() => undefined); // the sniffer's pipes are closed
  });
});

t.test('vhost-net: real absence here, a stand-in device, and distinct error codes', { skip: needsRoot }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-vhost-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  if (!fs.existsSync('/dev/vhost-net')) await t.rejects(VhostFds.open(), { code: 'ENOENT', errno: -2 }, 'this kernel has no vhost-net: ENOENT');
  // Stand-in: a node with /dev/null's numbers, named like the real device.
  const standIn = path.join(dir, 'vhost-net');
  spawnSync('mknod', ['-m', '0600', standIn, 'c', '1', '3']);
  const v = await VhostFds.open({ device: standIn, count: 2 });
  t.equal(v.fds.length, 2, 'the stand-in opens read-write');
  v.close();
  // A node whose major has no driver: no such device.
  const majors = new Set(
    fs
      .readFileSync('/proc/devices', 'utf8')
      .split('\n')
      .map((l) => parseInt(l, 10)),
  );
  const free = [60, 61, 62, 63, 120, 121].find((m) => !majors.has(m))!;
  const dead = path.join(dir, 'dead');
  spawnSync('mknod', [dead, 'c', String(free), '0']);
  await t.rejects(VhostFds.open({ device: dead }), { code: 'ENXIO', hint: /no driver/ });
  // Permission denied: an unprivileged child (nobody) opening a 0600 node in
  // a directory it may enter, with the addon from a copy it can read.
  fs.chmodSync(dir, 0o755);
  const as = asUser(
    { uid: 65534, gid: 65534 },
    [
      process.execPath,
      '-e',
      `
    require(${JSON.stringify(readableRoot().addon)})
      .openVhost({ path: ${JSON.stringify(standIn)} }).then(() => console.log('opened'), (e) => console.log(e.code))`,
    ],
    'clear',
  );
  const r = spawnSync(as.file, as.args, { ...as.options, encoding: 'utf8' });
  t.equal(r.stdout.trim(), 'EACCES', `permission denied keeps its code ${r.stderr}`);
});
