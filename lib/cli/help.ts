// The CLI's help, once: one row per verb (its synopsis and what it does).
// `netfd --help` prints every row; `netfd VERB --help` prints that verb's
// row; a verb's usage error quotes its synopsis. main.ts checks that every
// verb it runs has a row (and every row a verb).

/** One verb's help. */
export interface VerbHelp {
  /** The verb keys this row covers (as main.ts's verb table spells them). */
  verbs: readonly string[];
  /** The command line after `netfd`, global options left out. */
  synopsis: string;
  /** What it does: plain text, wrapped by the renderer. */
  help: string;
  /** Rows of one group are printed together; groups are separated by a blank line. */
  group: 'devices' | 'domains' | 'networks' | 'host';
}

const XEN = ['xen-xm', 'xen-xl', 'xen-sxpr'];

export const VERBS: readonly VerbHelp[] = [
  {
    verbs: ['tap create'],
    synopsis: 'tap create [--name N | --template T] [--queues N] [--no-vnet-hdr] [--owner UID] [--group GID] [--json]',
    help: 'create a persistent tap (ip tuntap add mode tap [multi_queue] [vnet_hdr]); default template vnet%d, vnet header on',
    group: 'devices',
  },
  {
    verbs: ['macvtap create'],
    synopsis: 'macvtap create --link DEV --mode vepa|bridge|private|passthrough [--name N | --template T] [--mac MAC] [--json]',
    help: 'create a macvtap (ip link add link DEV name N type macvtap mode MODE); default template macvtap%d',
    group: 'devices',
  },
  { verbs: ['link show', 'link list'], synopsis: 'link show [NAME] [--json]', help: 'links as the kernel reports them (ip -d link show [dev NAME])', group: 'devices' },
  {
    verbs: ['link set'],
    synopsis: 'link set NAME [--up | --down] [--mac MAC] [--master BR | --nomaster]',
    help: 'change a link (ip link set dev NAME ...)',
    group: 'devices',
  },
  { verbs: ['link delete', 'link del'], synopsis: 'link delete NAME', help: 'delete a link (ip link delete dev NAME)', group: 'devices' },
  {
    verbs: ['launch'],
    synopsis: 'launch DOMAIN.xml [DOMAIN.xml...] [--detach] [--from-live] [--qemu PATH] [--accel tcg|kvm] [-- QEMU ARGS...]',
    help: 'prepare the interfaces and run qemu with their fds in the foreground; when qemu exits (or netfd gets SIGINT/SIGTERM) everything is torn down. Several files: the domains are prepared together (all or nothing) and each runs its own qemu (the QEMU ARGS go to each); not with --connect or --detach. Macvtaps are up only while the vCPUs run (down under -S until cont, and while paused), as libvirt keeps them. --detach: a background supervisor does that; output goes to STATE_DIR/NAME.log. --from-live: DOMAIN.xml is a live XML from dumpxml (its NICs keep their MACs and PCI slots; generated names and aliases are dropped)',
    group: 'domains',
  },
  { verbs: ['destroy'], synopsis: 'destroy NAME [--timeout SECS]', help: 'stop qemu (SIGTERM, then SIGKILL after the timeout, default 10 s) and tear the domain down', group: 'domains' },
  {
    verbs: ['list'],
    synopsis: 'list [--json]',
    help: "domains with live state, as virsh lists them: qemu's pid, name, state (running, prepared, or stale: qemu gone; with --connect, the agent's held, held elsewhere or unclaimed) and devices",
    group: 'domains',
  },
  { verbs: ['dumpxml'], synopsis: 'dumpxml NAME [--inactive]', help: 'the live XML (decisions recorded) or, with --inactive, the XML as written', group: 'domains' },
  {
    verbs: ['attach-interface'],
    synopsis: 'attach-interface NAME IFACE.xml [--timeout SECS] [--json]',
    help: 'hotplug an <interface>: host device prepared, fds sent over QMP (getfd), netdev_add, device_add; the live XML gains it',
    group: 'domains',
  },
  {
    verbs: ['detach-interface'],
    synopsis: 'detach-interface NAME --mac MAC [--timeout SECS] [--json]',
    help: 'device_del (waits for the guest, default 30 s), netdev_del, host device deleted, live XML updated',
    group: 'domains',
  },
  {
    verbs: ['domxml-to-native qemu-argv'],
    synopsis: 'domxml-to-native qemu-argv DOMAIN.xml [--json] [--net-only]',
    help: "print the qemu command line the domain would get on this host, with netfd's decisions as comments; changes nothing on the host. --net-only: only the interfaces' -netdev/-device arguments (fds from 3), for any domain whatever else it holds",
    group: 'domains',
  },
  {
    verbs: XEN.map((f) => `domxml-to-native ${f}`),
    synopsis: `domxml-to-native ${XEN.join('|')} DOMAIN.xml [--xend-config-version N]`,
    help: "a Xen domain's name, type, memory, vcpus and vif lines from libvirt XML (model='netfront' for HVM guests: type=netfront, xl type=vif)",
    group: 'domains',
  },
  {
    verbs: XEN.map((f) => `domxml-from-native ${f}`),
    synopsis: `domxml-from-native ${XEN.join('|')} FILE [--xend-config-version N]`,
    help: 'the same, from a Xen config to libvirt XML',
    group: 'domains',
  },
  {
    verbs: ['net-define'],
    synopsis: 'net-define NETWORK.xml',
    help: "define (or redefine) a direct network: <forward mode='passthrough|private|vepa|bridge'> over <interface dev>s or a <pf>",
    group: 'networks',
  },
  { verbs: ['net-undefine'], synopsis: 'net-undefine NAME', help: 'remove the definition (a running network stays up until net-destroy)', group: 'networks' },
  { verbs: ['net-start'], synopsis: 'net-start NAME', help: 'start it: expand a <pf> from sysfs, count the connections domains already have', group: 'networks' },
  { verbs: ['net-destroy'], synopsis: 'net-destroy NAME', help: 'stop it (refused while guests use it)', group: 'networks' },
  { verbs: ['net-list'], synopsis: 'net-list [--all] [--inactive] [--json]', help: 'running networks (--all: defined too; --inactive: defined, not running)', group: 'networks' },
  { verbs: ['net-dumpxml'], synopsis: 'net-dumpxml NAME [--inactive]', help: "live XML (pool, connections='N') or the definition as written (<pf> unexpanded)", group: 'networks' },
  { verbs: ['net-autostart'], synopsis: 'net-autostart NAME [--disable]', help: 'mark (unmark) the network for autostart by the agent', group: 'networks' },
  {
    verbs: ['probe'],
    synopsis: 'probe [--json] [--only ID,...] [--qemu PATH]... [--dev-root DIR] [--proc-root DIR] [--boot-root DIR]',
    help: 'what this host can give guests, each check proven by trying: kvm, cpu-virt, tun, vhost-net (and why not), macvtap, macvlan, bridge (made in a scratch namespace), sriov, qemu (takes a tap fd?); PASS, WARN or FAIL with a hint; exit 1 only when a check FAILs',
    group: 'host',
  },
  {
    verbs: ['cni-claim'],
    synopsis: 'cni-claim CONTAINER_ID IFNAME [--socket PATH] [--json] [-- COMMAND [ARGS...]]',
    help: "in a pod: take the fds of the CNI attachment IFNAME of CONTAINER_ID from the agent (default /run/netfd/agent.sock, or env NETFD_AGENT_SOCKET; it decides by this process's network namespace) and run COMMAND with them as fds 3, 4, … (queues, then vhost-net), where {netdev} in an argument becomes qemu's -netdev tap options (fds=3:4,vhost=off), {tapfds} and {vhostfds} the fd lists, {mac} the guest's MAC (a macvtap's own, a tap's from its configuration); exits with COMMAND's status. An attachment that asked for vhost-net without getting it is refused. Without COMMAND: what the claim gives",
    group: 'host',
  },
  {
    verbs: ['agent'],
    synopsis: 'agent [--socket PATH] [--socket-mode MODE] [--socket-group G] [--acl FILE] [--grace SECS] [--stop-timeout SECS] [--max-clients N] [--reserved-for-root N] [--log-level LEVEL]',
    help: 'the host agent: serves unprivileged users on a unix socket (default /run/netfd/agent.sock, or the one systemd passes), deciding every request with the ACL (default /etc/netfd/acl.conf); SIGHUP reloads it; SIGTERM waits up to --stop-timeout (default 10 s) for requests in flight, then closes every connection and exits (1 if it cut any short). Connections: at most --max-clients at once (default 1024), the last --reserved-for-root (default 16) for root only',
    group: 'host',
  },
];

/** The options every verb takes, with what they do. */
export const GLOBAL_OPTIONS: readonly (readonly [string, string])[] = [
  [
    '--connect SOCKET',
    'do launch, list, destroy, dumpxml, attach-interface, detach-interface, probe and net-* through the agent at SOCKET, as an ordinary user; qemu runs as you, its QMP socket and pid file in --state-dir (default $XDG_RUNTIME_DIR/netfd or /tmp/netfd-UID)',
  ],
  ['--netns NAME|PATH', 'act in a network namespace (/run/netns/NAME or a path such as /proc/PID/ns/net) without moving netfd'],
  ['--vhost-device PATH', 'the vhost-net device (env NETFD_VHOST_DEVICE; default /dev/vhost-net)'],
  ['--state-dir DIR', "live domain state, networks' in DIR/networks (env NETFD_STATE_DIR; default /run/netfd/qemu)"],
  ['--config-dir DIR', 'network definitions (env NETFD_CONFIG_DIR; default /etc/netfd/networks)'],
  ['--sysfs-root DIR', 'where sysfs is, for <pf> pools (env NETFD_SYSFS_ROOT; default /sys)'],
  ['--json', 'machine-readable output'],
  ['--help, -h', "this help; after a verb, that verb's help"],
  ['--version', "netfd's version"],
];

const WIDTH = 78;

/** A synopsis's words, an option group in brackets kept as one (`[--owner UID]`). */
function units(text: string): string[] {
  const out: string[] = [];
  let unit = '';
  let depth = 0;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    unit = unit ? `${unit} ${word}` : word;
    depth += (word.match(/\[/g)?.length ?? 0) - (word.match(/\]/g)?.length ?? 0);
    if (depth <= 0) {
      out.push(unit);
      unit = '';
      depth = 0;
    }
  }
  if (unit) out.push(unit);
  return out;
}

/** Wraps `text` between words (or bracketed groups) to lines of at most `WIDTH`, each starting with `indent`. */
export function wrap(text: string, indent: string, first = indent): string {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of units(text)) {
    if (!empty && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = indent;
      empty = true;
    }
    line += empty ? word : ` ${word}`;
    empty = false;
  }
  lines.push(line);
  return lines.join('\n');
}

const row = (v: VerbHelp) => `${wrap(v.synopsis, '      ', '  ')}\n${wrap(v.help, '      ')}`;

const globals = () => `Global options:\n${GLOBAL_OPTIONS.map(([o, h]) => (o.length <= 20 ? wrap(h, ' '.repeat(24), `  ${o.padEnd(22)}`) : `  ${o}\n${wrap(h, ' '.repeat(24))}`)).join('\n')}\n`;

/** `netfd --help`: every verb, grouped, then the global options. */
export function globalUsage(): string {
  const groups: string[] = [];
  let last: VerbHelp['group'] | undefined;
  for (const v of VERBS) {
    if (v.group !== last) groups.push('');
    groups[groups.length - 1] += `${row(v)}\n`;
    last = v.group;
  }
  const head = 'usage: netfd [--netns NAME|PATH] [--vhost-device PATH] [--state-dir DIR]\n             [--config-dir DIR] [--sysfs-root DIR] [--connect SOCKET] <verb> ...\n       netfd --version\n';
  return `${head}\n${groups.join('\n')}\n${globals()}`;
}

/** The row covering verb key `verb` (e.g. 'tap create', 'domxml-to-native xen-xl'). */
export function helpRow(verb: string): VerbHelp | undefined {
  return VERBS.find((v) => v.verbs.includes(verb));
}

/** A verb's synopsis, with the Xen format filled in for the domxml-* verbs. */
export function synopsis(verb: string): string {
  const r = helpRow(verb);
  if (!r) throw new Error(`no help row for verb '${verb}'`);
  const format = XEN.find((f) => verb.endsWith(` ${f}`));
  return format ? r.synopsis.replace(XEN.join('|'), format) : r.synopsis;
}

/** `usage: SYNOPSIS`, for a verb's usage error. */
export const usageOf = (verb: string): string => `usage: ${synopsis(verb)}`;

/** `netfd VERB --help`. */
export function verbUsage(verb: string): string {
  const r = helpRow(verb);
  if (!r) throw new Error(`no help row for verb '${verb}'`);
  return `${wrap(synopsis(verb), ' '.repeat(30), 'usage: netfd [GLOBAL OPTIONS] ')}\n\n${wrap(r.help, '  ')}\n\n${globals()}`;
}
