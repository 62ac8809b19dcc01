// A pod's VM launcher on a CNI attachment, as a runtime's unprivileged
// launcher would run it: it claims the queue fds of the tap the netfd plugin
// made (op `cni-claim` over the socket the ADD result named), then starts
// qemu with them. The command line is netfd's own (DomainXml, the interface
// policy, domainArgv: what launchDomain runs, less the QMP socket), for a
// domain with one <interface type='ethernet'> naming the claimed tap, read on
// stdin; qemu inherits the queue fds at 3, 4, … (childFds) and the vhost fds
// after them when the driver policy takes vhost.
//
// Usage: node cni-launcher.js SOCKET CONTAINER_ID IFNAME < domain.xml
// stdout is qemu's (the guest's serial console with <serial type='stdio'/>).
// On stderr one JSON line once qemu runs: {"qemu": PID, "argv": [...],
// "claim": {...}}, or {"error": {...}} when the claim or the domain is
// refused (exit 2). It then waits for qemu and exits with its status
// (128 + signal when killed); SIGTERM and SIGINT are passed on to qemu, and
// qemu is killed when the launcher's parent (the test) is gone.
'use strict';
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const { DomainXml, policy, domainArgv, childFds } = require('../../dist');
const { AgentClient } = require('../../dist/agent/client');

const report = (x) => fs.writeSync(2, `${JSON.stringify(x)}\n`);

/** The domain, its one interface planned with the guest MAC of its XML, and the driver choice for the fds the claim gave. */
function plan(xml, ifname, claimed) {
  const def = DomainXml.parse(xml).def;
  if (def.interfaces.length !== 1) throw Object.assign(new Error(`the domain has ${def.interfaces.length} interfaces; this launcher runs one, the claimed ${ifname}`), { code: 'INVALID_ARGUMENT' });
  const i = def.interfaces[0];
  if (i.type !== 'ethernet' || i.target?.dev !== ifname) throw Object.assign(new Error(`${i.path}: want <interface type='ethernet'> with <target dev='${ifname}'>`), { code: 'INVALID_ARGUMENT' });
  // The guest MAC is the launcher's to give: the tap's own (the ADD result's) is the host side's.
  if (!i.mac) throw Object.assign(new Error(`${i.path}: give the guest's <mac address>`), { code: 'INVALID_ARGUMENT' });
  const [p] = policy.planDomain(def, [{ mac: i.mac, generated: false }]);
  if (p.queues !== claimed.tapFds) throw Object.assign(new Error(`${i.path}: ${p.queues} queues, but the claim gave ${claimed.tapFds} queue fds`), { code: 'INVALID_ARGUMENT' });
  if (p.vnetHdr !== claimed.vnetHdr)
    throw Object.assign(new Error(`${i.path}: model ${p.model} ${p.vnetHdr ? 'needs' : 'cannot use'} the tap's vnet header (vnetHdr ${claimed.vnetHdr})`), { code: 'INVALID_ARGUMENT' });
  const probe = claimed.vhostFds > 0 ? { usable: true } : { usable: false, code: 'VHOST_UNAVAILABLE', message: claimed.vhostUnavailable ?? 'the claim gave no vhost fds' };
  return { def, plan: p, decision: policy.decideDriver(p, probe) };
}

(async () => {
  const [socket, containerId, ifname] = process.argv.slice(2);
  const xml = fs.readFileSync(0, 'utf8');
  const c = await AgentClient.connect(socket);
  let r;
  try {
    r = await c.request('cni-claim', { containerId, ifname });
  } catch (e) {
    report({ error: { code: e.code, message: e.message, field: e.field, value: e.value } });
    c.close();
    process.exit(2);
  }
  c.close();
  const tap = r.fds.slice(0, r.result.tapFds);
  const vhost = r.fds.slice(r.result.tapFds);
  let argv;
  let inherit;
  try {
    const d = plan(xml, ifname, r.result);
    const [at] = childFds([{ tap: tap.length, vhost: d.decision.vhost ? vhost.length : 0 }]);
    argv = domainArgv(d.def, [{ plan: d.plan, decision: d.decision, ...at }]);
    inherit = d.decision.vhost ? [...tap, ...vhost] : tap;
  } catch (e) {
    r.fds.forEach((fd) => fs.closeSync(fd));
    report({ error: { code: e.code, message: e.message, field: e.field, value: e.value } });
    process.exit(2);
  }
  // stdio 3, 4, …: the child's fds in childFds's order (dup2'd, without close-on-exec).
  const qemu = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit', ...inherit] });
  // qemu holds its copies now (or failed to start, and then nobody needs them).
  r.fds.forEach((fd) => fs.closeSync(fd));
  const exited = new Promise((resolve) => qemu.once('exit', (code, signal) => resolve({ code, signal })));
  const failed = new Promise((resolve) => qemu.once('error', resolve));
  const spawned = await Promise.race([new Promise((resolve) => qemu.once('spawn', () => resolve(null))), failed]);
  if (spawned) {
    report({ error: { code: spawned.code, message: `cannot run ${argv[0]}: ${spawned.message}` } });
    process.exit(2);
  }
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => qemu.kill(sig));
  // A test process killed before its teardown (a runner's timeout) leaves no guest running as its user: we are reparented, qemu goes.
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && qemu.kill('SIGKILL'), 500).unref();
  report({ qemu: qemu.pid, argv, claim: r.result });
  const e = await exited;
  process.exit(e.signal ? 128 + require('node:os').constants.signals[e.signal] : e.code);
})().catch((e) => {
  process.stderr.write(`cni-launcher: ${e.stack || e}\n`);
  process.exit(3);
});
