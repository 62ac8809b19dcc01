// deploy/kubernetes/: the manifests parse, and say what the agent and the
// plugin need: the systemd unit's capabilities and no others, the host's
// namespace and pids, the paths (with /run/netns's mount propagation), the
// plugin installed as /opt/cni/bin/netfd, a NetworkAttachmentDefinition the
// plugin reads, and a pod whose unprivileged launcher mounts the socket.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { parseAcl } from '../../../lib/agent/acl/syntax';
import { DEFAULT_SOCKET } from '../../../lib/agent/protocol';
import { parseConfig } from '../../../lib/cni/config';

const ROOT = path.join(__dirname, '..', '..', '..');
const DIR = path.join(ROOT, 'deploy', 'kubernetes');

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

/** Every document of a manifest, parsed (a YAML error fails the test). */
function docs(file: string): Obj[] {
  return parseAllDocuments(fs.readFileSync(path.join(DIR, file), 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJSON() as Obj;
  });
}

/** The systemd unit's CapabilityBoundingSet, without the CAP_ prefix. */
function unitCapabilities(): string[] {
  const unit = fs.readFileSync(path.join(ROOT, 'scripts', 'netfd-agent.service'), 'utf8');
  const line = /^CapabilityBoundingSet=(.*)$/m.exec(unit);
  if (!line) throw new Error('no CapabilityBoundingSet in the unit');
  return line[1]!
    .trim()
    .split(/\s+/)
    .map((c) => c.replace(/^CAP_/, ''));
}

t.test('every manifest parses', async (t) => {
  t.same(fs.readdirSync(DIR).sort(), ['daemonset.yaml', 'network-attachment.yaml', 'pod.yaml'], 'the files');
  for (const f of fs.readdirSync(DIR))
    t.ok(
      docs(f).every((d) => typeof d.apiVersion === 'string' && typeof d.kind === 'string'),
      `${f}: objects with apiVersion and kind`,
    );
});

t.test("the DaemonSet: the host's network and pids, the unit's capabilities, the paths", async (t) => {
  const [ds, acl] = docs('daemonset.yaml');
  t.match(ds, { apiVersion: 'apps/v1', kind: 'DaemonSet' });
  t.match(acl, { apiVersion: 'v1', kind: 'ConfigMap' });
  const spec = ds!.spec.template.spec as Obj;
  t.equal(spec.hostNetwork, true, 'hostNetwork');
  t.equal(spec.hostPID, true, "hostPID (the claim reads the caller's /proc/PID/ns/net)");
  const volumes = new Map<string, Obj>((spec.volumes as Obj[]).map((v) => [v.name as string, v]));
  const hostPathOf = (m: Obj): string | undefined => volumes.get(m.name as string)?.hostPath?.path as string | undefined;

  const [agent, ...others] = spec.containers as Obj[];
  t.equal(others.length, 0, 'one container');
  const sc = agent!.securityContext as Obj;
  t.same([...(sc.capabilities.add as string[])].sort(), unitCapabilities().sort(), "the capabilities are the systemd unit's");
  t.same(sc.capabilities.drop, ['ALL'], 'and no others');
  t.not(sc.privileged, true, 'not privileged');
  const args = agent!.command as string[];
  t.same(args.slice(0, 2), ['netfd', 'agent']);
  t.equal(args[args.indexOf('--socket') + 1], DEFAULT_SOCKET, 'the socket where the plugin looks by default');
  const mounts = new Map<string, Obj>((agent!.volumeMounts as Obj[]).map((m) => [m.mountPath as string, m]));
  for (const p of ['/run/netfd', '/run/netns', '/sys', '/dev/net/tun', '/dev/vhost-net']) t.equal(hostPathOf(mounts.get(p) ?? {}), p, `the host's ${p} at ${p}`);
  t.equal(mounts.get('/run/netns')!.mountPropagation, 'HostToContainer', "/run/netns propagates the runtime's later mounts");
  t.equal(mounts.get('/sys')!.readOnly, true, '/sys read-only');
  t.equal(hostPathOf(mounts.get('/opt/cni/bin') ?? {}), '/opt/cni/bin', 'the IPAM plugins');
  t.equal(mounts.get('/opt/cni/bin')!.readOnly, true, 'read-only for the agent');

  const [init] = spec.initContainers as Obj[];
  const binMount = (init!.volumeMounts as Obj[]).find((m) => hostPathOf(m) === '/opt/cni/bin');
  t.ok(binMount, 'the init container mounts /opt/cni/bin');
  const script = (init!.command as string[]).join(' ');
  t.match(script, 'build/Release/netfd-cni', 'it copies the built plugin');
  t.match(script, `mv -f ${binMount!.mountPath as string}/.netfd.tmp ${binMount!.mountPath as string}/netfd`, 'into /opt/cni/bin/netfd, renamed into place');

  t.equal(volumes.get(agent!.volumeMounts.find((m: Obj) => m.mountPath === '/etc/netfd').name)?.configMap?.name, acl!.metadata.name, 'the ACL comes from the ConfigMap');
  const parsed = parseAcl(acl!.data['acl.conf'] as string, 'acl.conf');
  t.ok(parsed, 'which the agent parses');
});

t.test('the NetworkAttachmentDefinition: a configuration the plugin reads', async (t) => {
  const [nad] = docs('network-attachment.yaml');
  t.match(nad, { apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition' });
  const config = JSON.parse(nad!.spec.config as string) as Obj;
  t.match(config, { cniVersion: '0.3.1', type: 'netfd', name: nad!.metadata.name });
  const c = parseConfig(nad!.spec.config as string, 'ADD');
  t.equal(c.iface.type, 'ethernet', 'a tap');
  t.equal(c.iface.driver?.queues, 2, 'two queues');
  const [, bridge, vf] = docs('network-attachment.yaml');
  const b = parseConfig(bridge!.spec.config as string, 'ADD');
  t.same([b.iface.type, b.iface.source.bridge], ['bridge', 'br-vm'], "a tap on the node's bridge");
  // As Multus hands it over: the capability's value in runtimeConfig.
  const withId = JSON.stringify({ ...(JSON.parse(vf!.spec.config as string) as Obj), runtimeConfig: { deviceID: '0000:03:10.2' } });
  const d = parseConfig(withId, 'ADD', { deviceMaster: () => 'enp3s0f0v1' });
  t.same([d.iface.type, d.iface.source.dev, d.iface.source.mode, d.iface.driver?.name], ['direct', 'enp3s0f0v1', 'passthrough', 'vhost'], "a passthrough macvtap on the device plugin's VF");
  t.match(vf!.metadata.annotations, { 'k8s.v1.cni.cncf.io/resourceName': /\// }, 'the device plugin resource');
  const acl = parseAcl(docs('daemonset.yaml').find((x) => x?.kind === 'ConfigMap')!.data['acl.conf'] as string, 'acl.conf');
  t.same(
    acl.rules.map((r) => `${r.object.kind} ${r.object.value ?? ''}`.trim()),
    ['ethernet', 'bridge br-vm', 'dev *', 'mode passthrough'],
    "the agent's ACL allows each",
  );
});

t.test("the pod: an unprivileged launcher with the agent's socket, on the attachment", async (t) => {
  const [pod] = docs('pod.yaml');
  const [nad] = docs('network-attachment.yaml');
  t.equal(pod!.metadata.annotations['k8s.v1.cni.cncf.io/networks'], nad!.metadata.name, 'it asks for the network');
  t.equal(pod!.spec.securityContext.runAsNonRoot, true, 'not root');
  const [c] = pod!.spec.containers as Obj[];
  t.same(c!.securityContext.capabilities, { drop: ['ALL'] }, 'no capability');
  t.equal(c!.securityContext.allowPrivilegeEscalation, false);
  const m = (c!.volumeMounts as Obj[]).find((x) => x.mountPath === DEFAULT_SOCKET);
  t.ok(m, 'the socket is mounted where it is on the node');
  t.match(
    pod!.spec.volumes.find((v: Obj) => v.name === m!.name),
    { hostPath: { path: DEFAULT_SOCKET, type: 'Socket' } },
  );
  t.match(c!.command.join(' '), /cni-claim/, 'the launcher claims its fds');
});
