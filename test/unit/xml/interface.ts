// Nothing inside <interface> is accepted and ignored: one row per element and
// attribute libvirt's domain schema allows there (domaincommon.rng,
// "interface" and its options), each either applied (what it becomes in the
// parsed definition, the plan or the qemu arguments) or refused with
// NOT_SUPPORTED naming its XPath. Pure.
import t from 'tap';
import { planDomain } from '../../../lib/policy';
import { deviceArg, netdevArg } from '../../../lib/qemu/argv';
import { DomainXml } from '../../../lib/xml/domain';
import type { InterfaceDef } from '../../../lib/xml/interface';
import type { InterfacePlan } from '../../../lib/policy';

const IF = '/domain/devices/interface';
const doc = (iface: string) => `<domain type='kvm'><name>g</name><memory unit='MiB'>64</memory><devices>${iface}</devices></domain>`;
const MAC = [{ mac: '52:54:00:00:00:01', generated: false }];

type Row = { what: string; xml: string; applied: (def: InterfaceDef, plan: InterfacePlan, argv: string) => unknown } | { what: string; xml: string; refused: string };

const bridge = (inner: string, attrs = '') => `<interface type='bridge'${attrs}><source bridge='br0'/><model type='virtio'/>${inner}</interface>`;
const eth = (inner: string, attrs = '') => `<interface type='ethernet'${attrs}><model type='virtio'/>${inner}</interface>`;
const direct = (inner: string) => `<interface type='direct'><source dev='eth0' mode='bridge'/><model type='virtio'/>${inner}</interface>`;

const ROWS: Row[] = [
  // applied
  { what: 'interface@type', xml: eth(''), applied: (d) => d.type === 'ethernet' },
  { what: "interface@trustGuestRxFilters='no' (the default)", xml: eth('', " trustGuestRxFilters='no'"), applied: (d) => d.type === 'ethernet' },
  { what: 'mac@address', xml: eth("<mac address='52:54:00:00:00:01'/>"), applied: (_d, _p, a) => a.includes('mac=52:54:00:00:00:01') },
  { what: 'model@type (any case)', xml: "<interface type='ethernet'><model type='E1000E'/></interface>", applied: (_d, p) => p.device === 'e1000e' },
  { what: 'source@bridge', xml: bridge(''), applied: (_d, p) => p.link.kind === 'tap' && p.link.bridge === 'br0' },
  { what: 'source@dev, source@mode', xml: direct(''), applied: (_d, p) => p.link.kind === 'macvtap' && p.link.parent === 'eth0' && p.link.mode === 'bridge' },
  {
    what: 'source/ip (type ethernet: host side)',
    xml: eth("<source><ip address='192.0.2.1' prefix='24' peer='192.0.2.9'/></source>"),
    applied: (_d, p) => p.host.ip?.addresses[0].peer === '192.0.2.9',
  },
  {
    what: 'source/route (type ethernet: host side)',
    xml: eth("<source><route family='ipv4' address='198.51.100.0' netmask='255.255.255.0' gateway='192.0.2.2' metric='5'/></source>"),
    applied: (_d, p) => p.host.ip?.routes[0].prefix === 24 && p.host.ip.routes[0].metric === 5,
  },
  { what: 'target@dev', xml: eth("<target dev='tap-g0'/>"), applied: (_d, p) => p.link.kind === 'tap' && p.link.name === 'tap-g0' },
  { what: 'target@managed', xml: eth("<target dev='tap-g0' managed='no'/>"), applied: (_d, p) => p.link.kind === 'existing' },
  {
    what: 'driver@name, queues, txmode, ioeventfd, event_idx, rx_queue_size, tx_queue_size',
    xml: eth("<driver name='qemu' queues='2' txmode='iothread' ioeventfd='on' event_idx='off' rx_queue_size='512' tx_queue_size='512'/>"),
    applied: (_d, _p, a) => /fds=.*tx=bh,ioeventfd=on,event_idx=off/.test(a) || /rx_queue_size=512,tx_queue_size=512,tx=bh,ioeventfd=on,event_idx=off/.test(a),
  },
  {
    what: 'driver@rss, rss_hash_report, iommu, ats, packed, page_per_vq',
    xml: eth("<driver rss='on' rss_hash_report='on' iommu='on' ats='on' packed='on' page_per_vq='on'/>"),
    applied: (_d, _p, a) => a.includes('rss=on,hash=on,iommu_platform=on,ats=on,packed=on,page-per-vq=on'),
  },
  {
    what: 'driver/host@csum, gso, tso4, tso6, ecn, ufo, mrg_rxbuf',
    xml: eth("<driver><host csum='off' gso='off' tso4='off' tso6='off' ecn='off' ufo='off' mrg_rxbuf='off'/></driver>"),
    applied: (_d, _p, a) => a.includes('csum=off,gso=off,host_tso4=off,host_tso6=off,host_ecn=off,host_ufo=off,mrg_rxbuf=off'),
  },
  {
    what: 'driver/guest@csum, tso4, tso6, ecn, ufo',
    xml: eth("<driver><guest csum='off' tso4='off' tso6='off' ecn='off' ufo='off'/></driver>"),
    applied: (_d, _p, a) => a.includes('guest_csum=off,guest_tso4=off,guest_tso6=off,guest_ecn=off,guest_ufo=off'),
  },
  {
    what: 'backend@tap, backend@vhost',
    xml: eth("<backend tap='/dev/net/tun' vhost='/dev/vhost-net'/>"),
    applied: (_d, p) => p.link.kind === 'tap' && p.link.tunDevice === '/dev/net/tun' && p.vhostDevice === '/dev/vhost-net',
  },
  { what: 'alias@name', xml: eth("<alias name='ua-x'/>"), applied: (_d, _p, a) => a.includes('id=ua-x') },
  {
    what: 'address (pci)',
    xml: eth("<address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x2' multifunction='on'/>"),
    applied: (_d, _p, a) => a.includes('bus=pci.0,addr=0x5.0x2,multifunction=on'),
  },
  { what: 'boot@order', xml: eth("<boot order='3'/>"), applied: (_d, _p, a) => a.includes('bootindex=3') },
  { what: 'rom@bar, rom@file', xml: eth("<rom bar='off' file='/x.rom'/>"), applied: (_d, _p, a) => a.includes('rombar=0,romfile=/x.rom') },
  { what: 'rom@enabled', xml: eth("<rom enabled='no'/>"), applied: (_d, _p, a) => /romfile=$/.test(a) },
  { what: 'tune/sndbuf', xml: eth('<tune><sndbuf>2048</sndbuf></tune>'), applied: (_d, _p, a) => a.includes('sndbuf=2048') },
  { what: 'mtu@size', xml: bridge("<mtu size='9000'/>"), applied: (_d, p, a) => p.host.mtu === 9000 && a.includes('host_mtu=9000') },
  { what: 'port@isolated', xml: bridge("<port isolated='yes'/>"), applied: (_d, p) => p.host.isolated === true },
  { what: 'vlan, vlan/tag (a bridge port)', xml: bridge("<vlan trunk='yes'><tag id='42'/><tag id='43' nativeMode='untagged'/></vlan>"), applied: (_d, p) => p.host.vlan?.tags.length === 2 },
  { what: 'coalesce/rx/frames@max', xml: bridge("<coalesce><rx><frames max='7'/></rx></coalesce>"), applied: (_d, p) => p.host.coalesce?.rxMaxFrames === 7 },
  { what: 'script@path', xml: eth("<script path='/etc/qemu-ifup'/>"), applied: (_d, p) => p.host.script === '/etc/qemu-ifup' },
  { what: 'downscript@path', xml: eth("<downscript path='/etc/qemu-ifdown'/>"), applied: (_d, p) => p.host.downscript === '/etc/qemu-ifdown' },
  { what: "link@state='up' (the default)", xml: eth("<link state='up'/>"), applied: (d) => d.type === 'ethernet' },
  {
    what: 'bandwidth/inbound@average, peak, burst; bandwidth/outbound@average, burst (a tap: inbound shaped on its egress, outbound policed on its ingress)',
    xml: bridge("<bandwidth><inbound average='1000' peak='2000' burst='256'/><outbound average='500' burst='128'/></bandwidth>"),
    applied: (_d, p) =>
      JSON.stringify(p.host.bandwidth) === JSON.stringify({ egress: { from: 'inbound', average: 1000, peak: 2000, burst: 256 }, ingress: { from: 'outbound', average: 500, burst: 128 } }),
  },
  {
    what: 'bandwidth/outbound@peak on a macvtap (outbound shaped on its egress, inbound policed on its ingress)',
    xml: direct("<bandwidth><inbound average='1000' burst='64'/><outbound average='500' peak='800'/></bandwidth>"),
    applied: (_d, p) => JSON.stringify(p.host.bandwidth) === JSON.stringify({ egress: { from: 'outbound', average: 500, peak: 800 }, ingress: { from: 'inbound', average: 1000, burst: 64 } }),
  },
  {
    what: "bandwidth on type='network' (a macvtap)",
    xml: "<interface type='network'><source network='n'/><bandwidth><inbound average='100'/></bandwidth></interface>",
    applied: (_d, p) => p.host.bandwidth?.ingress?.from === 'inbound' && !p.host.bandwidth.egress,
  },
  { what: 'bandwidth (empty: no limit, as libvirt keeps none; noqueue stays)', xml: eth('<bandwidth/>'), applied: (d, p) => d.bandwidth === undefined && p.host.bandwidth === undefined },
  // refused, by name
  { what: 'interface@trustGuestRxFilters=yes', xml: eth('', " trustGuestRxFilters='yes'"), refused: `${IF}/@trustGuestRxFilters` },
  { what: 'interface@type=user', xml: "<interface type='user'/>", refused: `${IF}/@type` },
  { what: 'interface@type=vhostuser', xml: "<interface type='vhostuser'/>", refused: `${IF}/@type` },
  { what: 'interface@type=hostdev', xml: "<interface type='hostdev'/>", refused: `${IF}/@type` },
  { what: 'interface@type=vdpa', xml: "<interface type='vdpa'/>", refused: `${IF}/@type` },
  { what: 'interface@type=mcast', xml: "<interface type='mcast'/>", refused: `${IF}/@type` },
  { what: 'interface@type=server', xml: "<interface type='server'/>", refused: `${IF}/@type` },
  { what: 'interface@type=client', xml: "<interface type='client'/>", refused: `${IF}/@type` },
  { what: 'interface@type=udp', xml: "<interface type='udp'/>", refused: `${IF}/@type` },
  { what: 'interface@type=null', xml: "<interface type='null'/>", refused: `${IF}/@type` },
  { what: 'interface@type=vds', xml: "<interface type='vds'/>", refused: `${IF}/@type` },
  { what: 'interface@managed', xml: eth('', " managed='yes'"), refused: `${IF}/@managed` },
  { what: 'mac@type', xml: eth("<mac address='52:54:00:00:00:01' type='static'/>"), refused: `${IF}/mac/@type` },
  { what: 'mac@check', xml: eth("<mac address='52:54:00:00:00:01' check='no'/>"), refused: `${IF}/mac/@check` },
  { what: 'source@portgroup', xml: "<interface type='network'><source network='n' portgroup='p'/></interface>", refused: `${IF}/source/@portgroup` },
  { what: 'source/ip on a bridge', xml: bridge('').replace("<source bridge='br0'/>", "<source bridge='br0'><ip address='192.0.2.1'/></source>"), refused: `${IF}/source/ip` },
  { what: 'backend@type', xml: eth("<backend type='passt'/>"), refused: `${IF}/backend/@type` },
  { what: 'backend@logFile', xml: eth("<backend logFile='/x'/>"), refused: `${IF}/backend/@logFile` },
  { what: 'address (ccw)', xml: eth("<address type='ccw' cssid='0xfe' ssid='0' devno='0x1'/>"), refused: `${IF}/address/@cssid` },
  { what: 'address (pci, domain 1)', xml: eth("<address type='pci' domain='0x0001' bus='0' slot='3'/>"), refused: `${IF}/address/@domain` },
  { what: 'guest (ip, guest side)', xml: eth("<ip address='10.0.0.2'/>"), refused: `${IF}/ip` },
  { what: 'route (guest side)', xml: eth("<route address='10.0.0.0' prefix='8' gateway='10.0.0.1'/>"), refused: `${IF}/route` },
  { what: 'guest@dev', xml: eth("<guest dev='eth0'/>"), refused: `${IF}/guest` },
  { what: 'filterref', xml: eth("<filterref filter='clean-traffic'/>"), refused: `${IF}/filterref` },
  { what: 'bandwidth/inbound@floor (needs a network with QoS)', xml: eth("<bandwidth><inbound average='1000' floor='200'/></bandwidth>"), refused: `${IF}/bandwidth/inbound/@floor` },
  { what: 'bandwidth/outbound@floor', xml: eth("<bandwidth><outbound average='1000' floor='200'/></bandwidth>"), refused: `${IF}/bandwidth/outbound/@floor` },
  { what: 'bandwidth@classID', xml: eth("<bandwidth classID='3'><inbound average='1000'/></bandwidth>"), refused: `${IF}/bandwidth/@classID` },
  { what: 'bandwidth/outbound@peak on a tap (policed: rate and burst only)', xml: eth("<bandwidth><outbound average='1000' peak='2000'/></bandwidth>"), refused: `${IF}/bandwidth/outbound/@peak` },
  { what: 'bandwidth/inbound@peak on a macvtap (policed)', xml: direct("<bandwidth><inbound average='1000' peak='2000'/></bandwidth>"), refused: `${IF}/bandwidth/inbound/@peak` },
  { what: "bandwidth on managed='no'", xml: eth("<target dev='t0' managed='no'/><bandwidth><inbound average='1000'/></bandwidth>"), refused: `${IF}/bandwidth` },
  { what: 'an element libvirt ignores inside bandwidth', xml: eth("<bandwidth><sideways average='1'/></bandwidth>"), refused: `${IF}/bandwidth/sideways` },
  { what: 'virtualport', xml: bridge("<virtualport type='openvswitch'/>"), refused: `${IF}/virtualport` },
  { what: 'teaming', xml: eth("<teaming type='persistent'/>"), refused: `${IF}/teaming` },
  { what: 'acpi', xml: eth("<acpi index='3'/>"), refused: `${IF}/acpi` },
  { what: 'portForward', xml: eth("<portForward proto='tcp'/>"), refused: `${IF}/portForward` },
  { what: 'backenddomain', xml: eth("<backenddomain name='d'/>"), refused: `${IF}/backenddomain` },
  { what: 'actual (config)', xml: eth("<actual type='direct'/>"), refused: `${IF}/actual` },
  { what: "link@state='down'", xml: eth("<link state='down'/>"), refused: `${IF}/link/@state` },
  { what: 'port on a tap outside a bridge', xml: eth("<port isolated='yes'/>"), refused: `${IF}/port` },
  { what: 'vlan on a macvtap', xml: direct("<vlan><tag id='42'/></vlan>"), refused: `${IF}/vlan` },
  { what: 'coalesce on a macvtap', xml: direct("<coalesce><rx><frames max='7'/></rx></coalesce>"), refused: `${IF}/coalesce` },
  { what: 'mtu on a non-virtio model', xml: "<interface type='ethernet'><model type='e1000'/><mtu size='9000'/></interface>", refused: `${IF}/mtu/@size` },
  { what: "mtu on managed='no'", xml: eth("<target dev='t0' managed='no'/><mtu size='9000'/>"), refused: `${IF}/mtu` },
  { what: 'script on a macvtap', xml: direct("<script path='/x'/>"), refused: `${IF}/script` },
  { what: 'an element libvirt does not know', xml: eth('<frobnicate/>'), refused: `${IF}/frobnicate` },
  { what: 'an attribute libvirt does not know', xml: eth("<model type='virtio' speed='fast'/>").replace("<model type='virtio'/>", ''), refused: `${IF}/model/@speed` },
];

t.test('every element and attribute inside <interface>: applied or refused by name', async (t) => {
  for (const row of ROWS) {
    const parse = () => {
      const def = DomainXml.parse(doc(row.xml)).def;
      const plan = planDomain(
        def,
        MAC,
        def.interfaces.map((i) => (i.type === 'network' ? { dev: 'eth0', mode: 'bridge' as const } : undefined)),
      )[0];
      const q = plan.queues;
      const n = { plan, decision: { vhost: false, record: null }, tapFds: Array.from({ length: q }, (_, k) => 3 + k), vhostFds: [] };
      return { def: def.interfaces[0], plan, argv: `${netdevArg(n)} ${deviceArg(n)}` };
    };
    if ('refused' in row) {
      t.throws(parse, { code: 'NOT_SUPPORTED', field: row.refused }, `${row.what}: refused naming ${row.refused}`);
    } else {
      const { def, plan, argv } = parse();
      t.ok(row.applied(def, plan, argv), `${row.what}: applied (${argv})`);
    }
  }
});
