#!/usr/bin/env node
// The demo: `netfd launch` boots a tiny Linux guest (scripts/guest.js) twice,
// in a scratch network namespace the demo creates and deletes; the host's own
// interfaces are never touched.
//   run 1: virtio, <interface type='bridge'> on br0, driver name omitted so
//          netfd decides (vhost-net when usable, else userspace virtio);
//   run 2: virtio, <interface type='direct'> macvtap on v0 in bridge mode.
// Each run: the guest pings its peer while the demo shows the console
// markers, `netfd list`, `netfd dumpxml` and `ip -d link`; then netfd launch
// gets SIGTERM and the demo checks that the device and the live XML are gone.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const guest = require('./guest.js');
const { vhostUsable } = require('../dist/index.js');

const T0 = Date.now();
const CLI = path.join(__dirname, '..', 'bin', 'netfd.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-demo-'));
const stateDir = path.join(tmp, 'state');
const running = new Set(); // `netfd launch` children still alive
const qemuPids = new Set();
const timings = [];
let scratch = null;

const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const header = (s) => console.log(`\n=== ${s} ===`);
const indent = (s, clip = 118) =>
  s
    .trimEnd()
    .split('\n')
    .map((l) => `    ${l.length > clip ? `${l.slice(0, clip - 1)}…` : l}`)
    .join('\n');
const show = (cmd, out) => console.log(`\n  $ ${cmd}${out.trim() ? `\n${indent(out)}` : ''}`);
const run = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8' });
const netfd = (args) => run(process.execPath, [CLI, '--netns', scratch.ns, '--state-dir', stateDir, ...args]);
const ip = (args) => run('ip', ['-n', scratch.ns, ...args]);
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** The <interface> element of a domain XML, for display. */
const ifaceOf = (xml) => (/^ *<interface[\s\S]*?<\/interface>/m.exec(xml) || [xml])[0].replace(/^ {4}/gm, '');

function expect(ok, what) {
  if (!ok) throw new Error(what);
}

/** Waits for a `netfd launch` child to exit; SIGKILLs it (and its qemu) after `ms`. */
async function reap(child, ms) {
  const timer = setTimeout(() => {
    child.kill('SIGKILL');
    for (const pid of qemuPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }, ms);
  const e = await child.exited;
  clearTimeout(timer);
  return e;
}

async function launchAndShow({ title, name, nic, params, peer }) {
  header(title);
  const xml = guest.domainXml({ name, image: img, nics: [nic], params: { ...params, hold: 1 } });
  const file = path.join(tmp, `${name}.xml`);
  fs.writeFileSync(file, xml);
  console.log(`  ${file} (a whole domain: kernel, initrd, serial on stdio); its interface, as a user writes it:`);
  console.log(indent(ifaceOf(xml)));

  console.log(`\n  $ netfd launch ${file} &     # qemu's serial console is netfd's stdout`);
  const t = Date.now();
  const child = spawn(process.execPath, [CLI, '--netns', scratch.ns, '--state-dir', stateDir, 'launch', file], { stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  child.exited = new Promise((resolve) =>
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  const con = new guest.Console(child.stdout);
  const ok = await con.wait(/^NETFD-PING-(OK|FAIL) /, 120000).catch(async (err) => {
    const e = await Promise.race([child.exited, sleep(3000)]);
    const how = e ? `netfd launch exited (${e.signal || `exit code ${e.code}`})` : 'netfd launch is still running';
    throw new Error(`${how}; its stderr:\n${indent(stderr) || '    (empty)'}\n${err.message}`);
  });
  if (ok.match[1] === 'FAIL') throw new Error(`the guest got no ping reply from ${peer}:\n${con.tail()}`);
  const pidFile = JSON.parse(fs.readFileSync(path.join(stateDir, `${name}.pid`), 'utf8'));
  qemuPids.add(pidFile.pid);
  const said = stderr.split('\n').find((l) => l.startsWith('netfd:')) || '';
  console.log(indent(said.split('; ').join(';\n  ')));
  console.log('  guest console (host time since launch):');
  for (const l of con.lines.slice(0, ok.index + 1)) {
    if (/^NETFD-(BOOT|IP|PING)/.test(l.text)) console.log(`    [${secs(l.at - t).padStart(6)}] ${l.text}`);
  }
  const uptime = (/ t=([\d.]+)/.exec(ok.text) || [])[1];
  const rtt = (/rtt=(\S+)/.exec(ok.text) || [])[1];
  const took = `${secs(ok.at - t)} (TCG boot${uptime ? `; guest uptime ${uptime} s` : ''}), rtt min/avg/max ${rtt}`;
  timings.push(`${name}: launch → 3 ping replies from ${peer}: ${took}`);
  console.log(`  launch → 3 ping replies from ${peer}: ${took}`);

  const ls = netfd(['list']);
  expect(ls.status === 0 && ls.stdout.includes(name), `netfd list does not show ${name}:\n${ls.stdout}${ls.stderr}`);
  show('netfd list', ls.stdout);

  const dump = netfd(['dumpxml', name]);
  expect(dump.status === 0, `netfd dumpxml ${name} failed: ${dump.stderr}`);
  const live = ifaceOf(dump.stdout);
  const dev = (/<target dev=['"]([^'"]+)['"]/.exec(live) || [])[1];
  const driver = (/<driver[^>]* name=['"]([^'"]+)['"]/.exec(live) || [])[1];
  expect(dev && driver, `the live XML lacks <target dev> or <driver name>:\n${live}`);
  const why = vhostErr ? `vhost-net is not usable here (${vhostErr.code || vhostErr.message})` : 'vhost-net is usable here';
  const note = nic.driver ? '' : `   <== netfd's choice: ${why}, so ${driver === 'vhost' ? 'vhost=on' : 'userspace virtio, vhost=off'}`;
  show(
    `netfd dumpxml ${name}      # the live XML; only its <interface> shown here`,
    live.replace(/^(.*<driver[^>]*>.*)$/m, (l) => `${l}${note}`),
  );

  const link = ip(['-d', 'link', 'show', 'dev', dev]);
  expect(link.status === 0, `ip -d link show ${dev} failed: ${link.stderr}`);
  show(`ip -n ${scratch.ns} -d link show ${dev}`, link.stdout);
  return { child, name, dev, stderrOf: () => stderr };
}

async function stopAndCheck({ child, name, dev, stderrOf }) {
  console.log(`\n  $ kill -TERM ${child.pid}     # netfd launch: stops qemu, then tears the domain down (as Ctrl-C does)`);
  const t = Date.now();
  child.kill('SIGTERM');
  const e = await reap(child, 20000);
  console.log(
    indent(
      stderrOf()
        .split('\n')
        .filter((l) => /^netfd: qemu/.test(l))
        .join('\n'),
    ),
  );
  console.log(`    (stopped and torn down in ${secs(Date.now() - t)}; netfd launch exit ${e.signal || e.code})`);
  const link = ip(['link', 'show', 'dev', dev]);
  expect(link.status !== 0, `${dev} still exists after netfd launch exited`);
  show(`ip -n ${scratch.ns} link show ${dev}`, link.stderr);
  const dump = netfd(['dumpxml', name]);
  expect(dump.status !== 0, `the live XML of ${name} is still there`);
  show(`netfd dumpxml ${name}`, dump.stderr);
}

let img;
let vhostErr;
async function main() {
  header('guest image (built once into .cache/guest, then reused)');
  const t = Date.now();
  img = guest.image();
  console.log(`  kernel ${img.stamp.kernel_version || '?'} (${img.stamp.boot || '?'} boot): ${img.kernel}`);
  console.log(`  initrd ${img.initrd}  [${secs(Date.now() - t)}]`);
  vhostErr = await vhostUsable();

  header("scratch network namespace (the host's own interfaces are never touched)");
  scratch = guest.scratchNetns('netfd-demo');
  const n = scratch.net;
  console.log(`  ${scratch.ns}: bridge ${n.bridge} with port ${n.bridgePort}, whose veth peer ${n.bridgePeerDev} has ${n.bridgePeer}/24;`);
  console.log(`  macvtap parent ${n.macvtapParent}, whose veth peer ${n.macvtapPeerDev} has ${n.macvtapPeer}/24`);
  console.log(`  below, netfd = node bin/netfd.js --netns ${scratch.ns} --state-dir ${stateDir}`);

  const r1 = await launchAndShow({
    title: 'run 1: virtio on bridge br0 (tap)',
    name: 'demo-bridge',
    peer: n.bridgePeer,
    nic: { type: 'bridge' },
    params: { ip0: `${n.bridgeSubnet}.2/24`, peer0: n.bridgePeer },
  });
  await stopAndCheck(r1);
  const r2 = await launchAndShow({
    title: 'run 2: virtio on macvtap over v0, mode bridge',
    name: 'demo-macvtap',
    peer: n.macvtapPeer,
    nic: { type: 'direct', mode: 'bridge' },
    params: { ip0: `${n.macvtapSubnet}.2/24`, peer0: n.macvtapPeer },
  });
  await stopAndCheck(r2);

  header('cleanup: everything the demo made is gone');
  const left = fs.existsSync(stateDir) ? fs.readdirSync(stateDir) : [];
  expect(left.length === 0, `state dir not empty: ${left.join(' ')}`);
  console.log(`  state dir ${stateDir}: empty; removing ${tmp}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  scratch.remove();
  const nsList = run('ip', ['netns', 'list']).stdout;
  expect(!nsList.split('\n').some((l) => l.split(' ')[0] === scratch.ns), `namespace ${scratch.ns} still exists`);
  console.log(`  namespace ${scratch.ns}: deleted (not in \`ip netns list\`)`);
  const stray = [...qemuPids].filter(alive);
  const byPath = run('pgrep', ['-f', tmp]).stdout.trim();
  expect(stray.length === 0 && !byPath, `qemu still running: ${stray.join(' ')} ${byPath}`);
  console.log(`  qemu processes ${[...qemuPids].join(', ')}: exited; none left that uses ${tmp}`);

  header('timings');
  for (const l of timings) console.log(`  ${l}`);
  const start = Number(process.env.NETFD_DEMO_START);
  console.log(`  whole demo: ${secs(Date.now() - T0)}${start > 0 ? ` (${secs(Date.now() - start)} with the setup step of demo.sh)` : ''}`);
}

let cleaning = null;
function cleanup() {
  cleaning ??= (async () => {
    for (const c of running) c.kill('SIGTERM');
    await Promise.all([...running].map((c) => reap(c, 10000)));
    for (const pid of qemuPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (scratch) scratch.remove();
    fs.rmSync(tmp, { recursive: true, force: true });
  })();
  return cleaning;
}

for (const [sig, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
]) {
  process.on(sig, () => {
    console.error(`\ndemo: ${sig}, stopping the guest and removing the namespace`);
    void cleanup().then(() => process.exit(code));
  });
}

main().then(
  () => console.log('\nnetfd demo: OK'),
  async (err) => {
    console.error(`\nnetfd demo FAILED: ${err.code ? `${err.code}: ` : ''}${err.message}`);
    await cleanup();
    console.error(`(cleaned up: guest stopped, namespace ${scratch ? scratch.ns : '-'} and ${tmp} removed)`);
    process.exitCode = 1;
  },
);
