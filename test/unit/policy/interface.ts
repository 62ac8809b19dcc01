// The pure decisions: the driver table of ARCHITECTURE.md cell by cell,
// NIC models, queues, virtio-only options, MAC generation and the host-side
// link plan. No syscalls, no files, no root.
import t from 'tap';
import { refused } from '../../helpers/refused';
import {
  decideDriver,
  DEFAULT_MODEL,
  domainMacs,
  freshMac,
  generateMac,
  MAC_REDRAWS,
  InterfacePlan,
  isVirtio,
  MACVTAP_TEMPLATE,
  needsExclusive,
  pickDevice,
  planDomain,
  planInterface,
  qemuDevice,
  TAP_TEMPLATE,
  tapHostMac,
  usesVnetHdr,
  VhostProbe,
} from '../../../lib/policy';
import { DomainXml, InterfaceDef } from '../../../lib/xml/domain';

// ---------------------------------------------------------------- helpers

const domainXml = (devices: string) => `<domain type='kvm'><name>g</name><memory unit='MiB'>64</memory><devices>${devices}</devices></domain>`;
const domainDef = (devices: string) => DomainXml.parse(domainXml(devices)).def;
/** The interface of a one-interface domain. */
const iface = (xml: string): InterfaceDef => domainDef(xml).interfaces[0];
const IF = '/domain/devices/interface';
const MAC = '52:54:00:12:34:56';

/** A random source that hands out the given byte triples in turn, counting calls. */
function bytes(...triples: number[][]) {
  const calls: number[] = [];
  const fn = (n: number) => {
    calls.push(n);
    const next = triples[calls.length - 1];
    if (!next) throw new Error('random source exhausted');
    return Uint8Array.from(next);
  };
  return Object.assign(fn, { calls });
}

const USABLE: VhostProbe = { usable: true };
const UNUSABLE: VhostProbe = { usable: false, code: 'ENOENT', message: "open('/dev/vhost-net'): No such file or directory" };

// ---------------------------------------------------------------- the table

type Expect =
  | { plan: 'vhost-needs-virtio' }
  | { plan: 'vhost-needs-kvm' }
  | { vhostWish: InterfacePlan['vhost']; decision: { vhost: boolean; record: 'vhost' | 'qemu' | null } | 'VHOST_UNAVAILABLE'; probeNeeded: boolean };

// ARCHITECTURE.md, "The driver policy": rows are <driver name>, columns are
// (virtio on KVM, vhost usable), (virtio on KVM, not usable), virtio without
// KVM (<domain type='qemu'>: vhost-net is never opened), non-virtio.
const TABLE: [name: 'vhost' | 'qemu' | null, column: 'usable' | 'unusable' | 'no-kvm' | 'non-virtio', expect: Expect][] = [
  ['vhost', 'no-kvm', { plan: 'vhost-needs-kvm' }],
  ['qemu', 'no-kvm', { vhostWish: 'off', decision: { vhost: false, record: 'qemu' }, probeNeeded: false }],
  [null, 'no-kvm', { vhostWish: 'off', decision: { vhost: false, record: 'qemu' }, probeNeeded: false }],
  ['vhost', 'usable', { vhostWish: 'require', decision: { vhost: true, record: 'vhost' }, probeNeeded: true }],
  ['vhost', 'unusable', { vhostWish: 'require', decision: 'VHOST_UNAVAILABLE', probeNeeded: true }],
  ['vhost', 'non-virtio', { plan: 'vhost-needs-virtio' }],
  ['qemu', 'usable', { vhostWish: 'off', decision: { vhost: false, record: 'qemu' }, probeNeeded: false }],
  ['qemu', 'unusable', { vhostWish: 'off', decision: { vhost: false, record: 'qemu' }, probeNeeded: false }],
  ['qemu', 'non-virtio', { vhostWish: 'off', decision: { vhost: false, record: null }, probeNeeded: false }],
  [null, 'usable', { vhostWish: 'auto', decision: { vhost: true, record: 'vhost' }, probeNeeded: true }],
  [null, 'unusable', { vhostWish: 'auto', decision: { vhost: false, record: 'qemu' }, probeNeeded: true }],
  [null, 'non-virtio', { vhostWish: 'off', decision: { vhost: false, record: null }, probeNeeded: false }],
];

t.test('the driver table, cell by cell', async (t) => {
  for (const [name, column, expect] of TABLE) {
    // each virtio cell with every virtio model; each non-virtio cell with a
    // few models, including the default one (no <model> at all)
    const models = column === 'non-virtio' ? ['e1000', 'rtl8139', null] : ['virtio', 'virtio-transitional', 'virtio-non-transitional'];
    for (const model of models) {
      const what = `name=${name ?? '(omitted)'} model=${model ?? '(default)'} ${column}`;
      await t.test(what, async (t) => {
        const xml = `<interface type='ethernet'>${model ? `<model type='${model}'/>` : ''}${name ? `<driver name='${name}'/>` : ''}</interface>`;
        const kvm = column !== 'no-kvm';
        const def = kvm ? iface(xml) : DomainXml.parse(domainXml(xml).replace("type='kvm'", "type='qemu'")).def.interfaces[0];
        if ('plan' in expect && expect.plan === 'vhost-needs-kvm') {
          const err = refused(
            t,
            () => planDomain(DomainXml.parse(domainXml(xml).replace("type='kvm'", "type='qemu'")).def, [{ mac: MAC, generated: false }]),
            { code: 'VHOST_UNAVAILABLE', field: `${IF}/driver/@name`, value: 'vhost' },
            /runs without KVM/,
          );
          t.match(err?.message, /<driver name='qemu'\/>/, 'the message says what to do instead');
          refused(t, () => planDomain(domainDef(xml), [{ mac: MAC, generated: false }], [], 'tcg'), { code: 'VHOST_UNAVAILABLE', field: `${IF}/driver/@name`, value: 'vhost' }, /launch --accel tcg/);
          return;
        }
        if ('plan' in expect) {
          refused(t, () => planInterface(def, MAC), { code: 'INVALID_ARGUMENT', field: `${IF}/driver/@name`, value: 'vhost' }, /needs a virtio model/);
          return;
        }
        const plan = kvm ? planInterface(def, MAC) : planDomain(DomainXml.parse(domainXml(xml).replace("type='kvm'", "type='qemu'")).def, [{ mac: MAC, generated: false }])[0];
        if (kvm) t.strictSame(planDomain(domainDef(xml), [{ mac: MAC, generated: false }], [], 'kvm')[0].vhost, plan.vhost, "launch --accel kvm is <domain type='kvm'>");
        else t.equal(planDomain(domainDef(xml), [{ mac: MAC, generated: false }], [], 'tcg')[0].vhost, 'off', "launch --accel tcg over <domain type='kvm'> too");
        t.equal(plan.vhost, expect.vhostWish, 'what the plan wants of vhost');
        const probe = column === 'usable' ? USABLE : column === 'unusable' ? UNUSABLE : undefined;
        if (expect.decision === 'VHOST_UNAVAILABLE') {
          const err = refused(
            t,
            () => decideDriver(plan, probe),
            { code: 'VHOST_UNAVAILABLE', field: `${IF}/driver/@name`, value: 'vhost' },
            /vhost-net is not usable here \(ENOENT: open\('\/dev\/vhost-net'\): No such file or directory\)/,
          );
          t.match(err?.message, /<driver name='qemu'\/>/, 'the message says what to do instead');
        } else {
          t.strictSame(decideDriver(plan, probe), expect.decision, 'the decision');
        }
        if (expect.probeNeeded) {
          t.throws(() => decideDriver(plan), /needs a vhost probe/, 'without a probe result it cannot decide');
        } else {
          t.strictSame(decideDriver(plan), expect.decision, 'no probe is needed: /dev/vhost-net is never opened');
          t.strictSame(decideDriver(plan, UNUSABLE), expect.decision, 'and a probe result would not change anything');
          t.strictSame(decideDriver(plan, USABLE), expect.decision);
        }
      });
    }
  }
});

t.test('the recorded driver reaches the live XML', async (t) => {
  const xml = DomainXml.parse(
    domainXml(`<interface type='ethernet'><model type='virtio'/></interface>
    <interface type='ethernet'><model type='virtio'/></interface>
    <interface type='ethernet'><model type='e1000'/><driver name='qemu'/></interface>`),
  );
  const plans = planDomain(xml.def, bytes([1, 1, 1], [2, 2, 2], [3, 3, 3]));
  const probes = [USABLE, UNUSABLE, undefined];
  const decisions = plans.map((p, n) => decideDriver(p, probes[n]));
  t.strictSame(
    decisions.map((d) => d.record),
    ['vhost', 'qemu', null],
  );
  const live = DomainXml.parse(xml.live(plans.map((p, n) => ({ driver: decisions[n].record, targetDev: `tap${n}`, mac: p.mac, alias: p.deviceId }))), { live: true });
  t.strictSame(
    live.def.interfaces.map((i) => i.driver?.name),
    ['vhost', 'qemu', undefined],
    'vhost / qemu / none recorded',
  );
  t.strictSame(
    live.def.interfaces.map((i) => i.mac),
    ['52:54:00:01:01:01', '52:54:00:02:02:02', '52:54:00:03:03:03'],
    'generated MACs recorded',
  );
});

// ---------------------------------------------------------------- models

t.test('NIC models: vnet header, qemu device, default', async (t) => {
  const vnetHdr: [string, boolean][] = [
    ['virtio', true],
    ['virtio-transitional', true],
    ['virtio-non-transitional', true],
    ['e1000e', true],
    ['igb', true],
    ['vmxnet3', true],
    ['e1000', false],
    ['rtl8139', false],
    ['ne2k_pci', false],
  ];
  for (const [model, hdr] of vnetHdr) {
    t.equal(usesVnetHdr(model), hdr, `usesVnetHdr(${model})`);
    t.equal(planInterface(iface(`<interface type='ethernet'><model type='${model}'/></interface>`), MAC).vnetHdr, hdr, `plan.vnetHdr for ${model}`);
  }
  t.equal(DEFAULT_MODEL, 'rtl8139');
  const dflt = planInterface(iface("<interface type='ethernet'/>"), MAC);
  t.match(dflt, { model: 'rtl8139', device: 'rtl8139', virtio: false, vnetHdr: false, vhost: 'off', queues: 1 }, 'no <model>: rtl8139');

  const devices: [string, string, boolean][] = [
    ['virtio', 'virtio-net-pci', true],
    ['virtio-transitional', 'virtio-net-pci-transitional', true],
    ['virtio-non-transitional', 'virtio-net-pci-non-transitional', true],
    ['e1000', 'e1000', false],
    ['e1000e', 'e1000e', false],
    ['rtl8139', 'rtl8139', false],
    ['vmxnet3', 'vmxnet3', false],
    ['igb', 'igb', false],
  ];
  for (const [model, device, virtio] of devices) {
    t.equal(qemuDevice(model), device, `qemuDevice(${model})`);
    t.equal(isVirtio(model), virtio, `isVirtio(${model})`);
    t.match(planInterface(iface(`<interface type='ethernet'><model type='${model}'/></interface>`), MAC), { model, device, virtio });
  }
  t.equal(isVirtio('virtio-net-pci'), false, 'the qemu device name is not a libvirt model');
});

t.test('queues and vectors', async (t) => {
  const q = (model: string, queues: number, name = '') => planInterface(iface(`<interface type='ethernet'><model type='${model}'/><driver ${name} queues='${queues}'/></interface>`), MAC);
  for (const [n, vectors] of [
    [2, 6],
    [4, 10],
    [8, 18],
    [256, 514],
  ])
    t.match(q('virtio', n), { queues: n, vectors }, `virtio queues=${n}: vectors 2N+2 = ${vectors}`);
  t.match(q('virtio', 1), { queues: 1, vectors: null }, 'one queue: no mq');
  t.match(planInterface(iface("<interface type='ethernet'><model type='virtio'/></interface>"), MAC), { queues: 1, vectors: null }, 'no queues attribute: one');
  t.match(q('virtio', 4, "name='qemu'"), { queues: 4, vectors: 10, vhost: 'off' }, 'userspace virtio is multiqueue too');
  for (const model of ['e1000', 'e1000e', 'rtl8139', 'vmxnet3']) t.match(q(model, 4), { queues: 1, vectors: null, vhost: 'off' }, `${model}: queues dropped`);
  t.match(q('e1000', 4, "name='qemu'"), { queues: 1, vectors: null }, "non-virtio with name='qemu': still one queue");
});

t.test('virtio-only driver options', async (t) => {
  const opts: [attr: string, xml: string, value: unknown][] = [
    ['txmode', "txmode='iothread'", 'iothread'],
    ['ioeventfd', "ioeventfd='on'", true],
    ['event_idx', "event_idx='off'", false],
    ['rx_queue_size', "rx_queue_size='512'", 512],
    ['tx_queue_size', "tx_queue_size='256'", 256],
  ];
  for (const model of ['e1000', 'rtl8139', 'e1000e', 'vmxnet3', null]) {
    for (const [attr, xml, value] of opts) {
      const def = iface(`<interface type='ethernet'>${model ? `<model type='${model}'/>` : ''}<driver ${xml}/></interface>`);
      refused(t, () => planInterface(def, MAC), { code: 'INVALID_ARGUMENT', field: `${IF}/driver/@${attr}`, value }, new RegExp(`${attr} is only for virtio models, not '${model ?? 'rtl8139'}'`));
    }
  }
  const all = planInterface(
    iface(`<interface type='ethernet'><model type='virtio'/>
    <driver txmode='iothread' ioeventfd='on' event_idx='off' rx_queue_size='1024' tx_queue_size='512'/></interface>`),
    MAC,
  );
  t.strictSame(
    all.deviceProps,
    [
      ['rx_queue_size', '1024'],
      ['tx_queue_size', '512'],
      ['tx', 'bh'],
      ['ioeventfd', 'on'],
      ['event_idx', 'off'],
    ],
    "virtio: qemu's property names; txmode iothread is tx=bh",
  );
  t.strictSame(planInterface(iface("<interface type='ethernet'><model type='virtio'/><driver txmode='timer' ioeventfd='off' event_idx='on'/></interface>"), MAC).deviceProps, [
    ['tx', 'timer'],
    ['ioeventfd', 'off'],
    ['event_idx', 'on'],
  ]);
  t.strictSame(planInterface(iface("<interface type='ethernet'><model type='virtio'/><driver queues='2'/></interface>"), MAC).deviceProps, [], 'no options, no properties');
  t.strictSame(
    planInterface(iface("<interface type='ethernet'><model type='e1000'/><driver name='qemu' queues='2'/></interface>"), MAC).deviceProps,
    [],
    "non-virtio with only name='qemu' and queues is fine",
  );
});

t.test("type='network' runs as a macvtap on the device its network gave, in the network's mode", async (t) => {
  const def = iface("<interface type='network'><source network='default'/><model type='virtio'/></interface>");
  t.throws(() => planInterface(def, MAC), /has no device allocated from its network/, 'no allocation: a programming error, not a plan');
  const modes = { vepa: 'vepa', bridge: 'bridge', private: 'private', passthrough: 'passthru' } as const;
  for (const [mode, kernel] of Object.entries(modes)) {
    const plan = planInterface(def, MAC, false, { dev: 'eth10', mode: mode as keyof typeof modes });
    t.strictSame(plan.link, { kind: 'macvtap', name: MACVTAP_TEMPLATE, parent: 'eth10', mode: kernel }, `${mode}: macvtap mode ${kernel} on eth10`);
    t.strictSame(plan.network, { name: 'default', dev: 'eth10', mode }, `${mode}: the allocation is in the plan for the live XML`);
  }
  const two = domainDef("<interface type='ethernet'/><interface type='network'><source network='lan'/><target dev='mv0'/></interface>");
  const plans = planDomain(two, bytes([1, 2, 3], [4, 5, 6]), [undefined, { dev: 'eth11', mode: 'bridge' }]);
  t.strictSame(
    plans.map((p) => p.link),
    [
      { kind: 'tap', name: TAP_TEMPLATE, hostMac: tapHostMac('52:54:00:01:02:03') },
      { kind: 'macvtap', name: 'mv0', parent: 'eth11', mode: 'bridge' },
    ],
  );
  t.strictSame(
    planDomain(
      two,
      [
        { mac: MAC, generated: false },
        { mac: '52:54:00:00:00:02', generated: true },
      ],
      [undefined, { dev: 'e', mode: 'vepa' }],
    ).map((p) => [p.mac, p.macGenerated]),
    [
      [MAC, false],
      ['52:54:00:00:00:02', true],
    ],
    'MACs given to planDomain are used as they are',
  );
  const live = DomainXml.parse(
    domainXml(
      "<interface type='network'><mac address='52:54:00:00:00:09'/><source network='lan'/><actual type='direct'><source dev='eth12' mode='private'/></actual><target dev='macvtap3'/></interface>",
    ),
    { live: true },
  ).def.interfaces[0];
  t.strictSame(planInterface(live, live.mac as string).link, { kind: 'macvtap', name: 'macvtap3', parent: 'eth12', mode: 'private' }, 'live XML: the recorded <actual> is the allocation');
});

// ---------------------------------------------------------------- pools

t.test('pool choice: exclusive modes take the first free device, the others the least used', async (t) => {
  t.strictSame(
    (['passthrough', 'private', 'vepa', 'bridge'] as const).map((m) => [m, needsExclusive(m), needsExclusive(m, '802.1Qbh'), needsExclusive(m, '802.1Qbg')]),
    [
      ['passthrough', true, true, true],
      ['private', false, true, false],
      ['vepa', false, false, false],
      ['bridge', false, false, false],
    ],
    'exclusive: passthrough always, private only with 802.1Qbh',
  );
  const pool = (n: number) => Array.from({ length: n }, (_, i) => ({ dev: `vf${i}`, connections: 0 }));
  const take = (mode: 'passthrough' | 'vepa', slots: { dev: string; connections: number }[]) => {
    const dev = pickDevice('net', mode, slots);
    (slots.find((s) => s.dev === dev) as { connections: number }).connections++;
    return dev;
  };
  const vfs = pool(64);
  const got = Array.from({ length: 64 }, () => take('passthrough', vfs));
  t.strictSame(
    got,
    vfs.map((s) => s.dev),
    '64 guests on 64 VFs: each VF once, in pool order',
  );
  refused(t, () => pickDevice('net', 'passthrough', vfs), { code: 'NO_DEVICE', field: 'network', value: 'net' }, /^network 'net' requires exclusive access to interfaces, but none are available$/);
  vfs[17].connections = 0;
  vfs[40].connections = 0;
  t.equal(take('passthrough', vfs), 'vf17', 'after a release: the first free VF again');
  t.equal(take('passthrough', vfs), 'vf40');
  refused(t, () => pickDevice('net', 'private', [{ dev: 'a', connections: 1 }], '802.1Qbh'), { code: 'NO_DEVICE', field: 'network', value: 'net' }, /exclusive access/);
  t.equal(pickDevice('net', 'private', [{ dev: 'a', connections: 1 }]), 'a', 'private without 802.1Qbh shares');

  const four = pool(4);
  t.strictSame(
    Array.from({ length: 10 }, () => take('vepa', four)),
    ['vf0', 'vf1', 'vf2', 'vf3', 'vf0', 'vf1', 'vf2', 'vf3', 'vf0', 'vf1'],
    'vepa spreads: least used, first of equals',
  );
  four[3].connections = 0;
  t.equal(take('vepa', four), 'vf3', 'a device freed by a release is the least used');
  refused(t, () => pickDevice('empty', 'vepa', []), { code: 'NO_DEVICE', field: 'network', value: 'empty' }, /no devices/);
});

// ---------------------------------------------------------------- MACs

t.test('freshMac draws again while the MAC is taken, and gives up on a random source that repeats itself', async (t) => {
  const draws = [
    [0, 0, 1],
    [0, 0, 2],
    [0, 0, 3],
  ];
  let k = 0;
  const scripted = () => Uint8Array.from(draws[k++]!);
  const asked: string[] = [];
  const mac = freshMac(scripted, (m) => (asked.push(m), m !== '52:54:00:00:00:03'), 'test');
  t.equal(mac, '52:54:00:00:00:03', 'the first draw not taken');
  t.strictSame(asked, ['52:54:00:00:00:01', '52:54:00:00:00:02', '52:54:00:00:00:03'], 'each draw asked once, in order');
  let n = 0;
  t.throws(
    () =>
      freshMac(
        () => (n++, Uint8Array.of(9, 9, 9)),
        () => true,
        'the caller',
      ),
    { message: 'the caller: the random source keeps repeating itself' },
    'an error naming the caller, not a hang',
  );
  t.equal(n, MAC_REDRAWS + 1, `one draw and ${MAC_REDRAWS} more`);
});

t.test('generateMac and tapHostMac', async (t) => {
  t.equal(generateMac(Uint8Array.of(0xab, 0xcd, 0x0f)), '52:54:00:ab:cd:0f');
  t.equal(generateMac(Uint8Array.of(0, 0, 0)), '52:54:00:00:00:00');
  t.equal(generateMac(Uint8Array.of(255, 255, 255, 9)), '52:54:00:ff:ff:ff', 'only three bytes are used');
  t.throws(() => generateMac(Uint8Array.of(1, 2)), RangeError);

  t.equal(tapHostMac('52:54:00:12:34:56'), 'fe:54:00:12:34:56', 'first byte fe');
  t.equal(tapHostMac('fe:54:00:12:34:56'), 'fa:54:00:12:34:56', 'fa when the guest already has fe');
  t.equal(tapHostMac('FE:54:00:AB:CD:EF'), 'fa:54:00:ab:cd:ef', 'case does not matter; the result is lower-case');
  t.equal(tapHostMac('fa:54:00:12:34:56'), 'fe:54:00:12:34:56');
  for (const m of ['52:54:00:12:34:56', 'fe:00:00:00:00:01', '02:00:00:00:00:01']) t.not(tapHostMac(m), m, `host and guest differ for ${m}`);
});

t.test('domainMacs: a generated MAC that is taken is drawn again; a given one is kept', async (t) => {
  const def = domainDef("<interface type='bridge'><source bridge='br0'/></interface><interface type='ethernet'><mac address='52:54:00:aa:bb:cc'/></interface>");
  const random = bytes([1, 2, 3], [4, 5, 6], [7, 8, 9]);
  const taken = new Set(['52:54:00:01:02:03', 'fe:54:00:04:05:06', '52:54:00:aa:bb:cc']);
  // As the agent asks: a link with that MAC, or with the host MAC a tap of that guest MAC would get.
  const macs = domainMacs(def, random, (m) => taken.has(m) || taken.has(tapHostMac(m)));
  t.strictSame(
    macs,
    [
      { mac: '52:54:00:07:08:09', generated: true },
      { mac: '52:54:00:aa:bb:cc', generated: false },
    ],
    'the first two draws were taken (as a guest MAC, then as a host MAC); the given MAC is not second-guessed (preflight refuses it, naming it)',
  );
  t.throws(
    () => domainMacs(def, bytes(...Array.from({ length: 70 }, () => [1, 2, 3])), (m) => taken.has(m)),
    /keeps repeating itself/,
    'a source that only repeats a taken MAC is an error, not a loop',
  );
});

t.test('planDomain: generated and given MACs', async (t) => {
  const def = domainDef(`<interface type='ethernet'/>
    <interface type='ethernet'><mac address='52:54:00:AA:BB:CC'/></interface>
    <interface type='ethernet'/>
    <interface type='bridge'><source bridge='br0'/></interface>`);
  const random = bytes([0x10, 0x20, 0x30], [0x40, 0x50, 0x60], [0x70, 0x80, 0x90]);
  const plans = planDomain(def, random);
  t.strictSame(
    plans.map((p) => [p.mac, p.macGenerated]),
    [
      ['52:54:00:10:20:30', true],
      ['52:54:00:aa:bb:cc', false],
      ['52:54:00:40:50:60', true],
      ['52:54:00:70:80:90', true],
    ],
  );
  t.strictSame(random.calls, [3, 3, 3], 'three random bytes per generated MAC, none for a given one');
  t.equal(new Set(plans.map((p) => p.mac)).size, 4, 'all distinct');
  t.equal(plans[0].link.kind === 'tap' && plans[0].link.hostMac, 'fe:54:00:10:20:30', 'the tap host MAC follows the generated MAC');

  const repeating = bytes([1, 2, 3], [1, 2, 3], [1, 2, 3], [4, 5, 6]);
  t.strictSame(
    planDomain(domainDef("<interface type='ethernet'/><interface type='ethernet'/>"), repeating).map((p) => p.mac),
    ['52:54:00:01:02:03', '52:54:00:04:05:06'],
    'a repeated MAC is drawn again',
  );
  t.equal(repeating.calls.length, 4);

  const givenLater = bytes([0xaa, 0xbb, 0xcc], [0x0a, 0x0b, 0x0c]);
  const p2 = planDomain(domainDef("<interface type='ethernet'/><interface type='ethernet'><mac address='52:54:00:aa:bb:cc'/></interface>"), givenLater);
  t.strictSame(
    p2.map((p) => [p.mac, p.macGenerated]),
    [
      ['52:54:00:0a:0b:0c', true],
      ['52:54:00:aa:bb:cc', false],
    ],
    'a MAC given to a later interface is not generated for an earlier one',
  );

  const stuck = (n: number) => new Uint8Array(n).fill(7);
  t.throws(() => planDomain(domainDef("<interface type='ethernet'/><interface type='ethernet'/>"), stuck), /random source keeps repeating/, 'a broken random source is an error, not a hang');
  t.strictSame(planDomain(domainDef(''), bytes()), [], 'no interfaces, no plans, no randomness');
});

// ---------------------------------------------------------------- links

t.test('link plans', async (t) => {
  const plan = (xml: string) => planInterface(iface(xml), MAC);
  t.equal(TAP_TEMPLATE, 'vnet%d');
  t.equal(MACVTAP_TEMPLATE, 'macvtap%d');
  t.strictSame(plan("<interface type='ethernet'/>").link, { kind: 'tap', name: 'vnet%d', hostMac: 'fe:54:00:12:34:56' }, 'ethernet: a tap from vnet%d');
  t.strictSame(plan("<interface type='ethernet'><target dev='mytap0'/></interface>").link, { kind: 'tap', name: 'mytap0', hostMac: 'fe:54:00:12:34:56' }, 'a named tap');
  t.strictSame(plan("<interface type='ethernet'><target dev='guest%d'/></interface>").link, { kind: 'tap', name: 'guest%d', hostMac: 'fe:54:00:12:34:56' }, 'a user template');
  t.strictSame(plan("<interface type='bridge'><source bridge='br0'/></interface>").link, { kind: 'tap', name: 'vnet%d', bridge: 'br0', hostMac: 'fe:54:00:12:34:56' }, 'bridge: a tap on the bridge');
  t.strictSame(plan("<interface type='bridge'><source bridge='br0'/><target dev='brtap'/><backend tap='/dev/net/tun'/></interface>").link, {
    kind: 'tap',
    name: 'brtap',
    bridge: 'br0',
    hostMac: 'fe:54:00:12:34:56',
    tunDevice: '/dev/net/tun',
  });

  const modes: [string | null, string][] = [
    [null, 'vepa'],
    ['vepa', 'vepa'],
    ['bridge', 'bridge'],
    ['private', 'private'],
    ['passthrough', 'passthru'],
  ];
  for (const [mode, kernel] of modes)
    t.strictSame(
      plan(`<interface type='direct'><source dev='eth1'${mode ? ` mode='${mode}'` : ''}/></interface>`).link,
      { kind: 'macvtap', name: 'macvtap%d', parent: 'eth1', mode: kernel },
      `direct mode ${mode ?? '(omitted)'} → macvtap mode ${kernel}`,
    );
  t.strictSame(
    plan("<interface type='direct'><source dev='eth1' mode='bridge'/><target dev='mvt%d'/><backend tap='/dev/net/tun'/></interface>").link,
    { kind: 'macvtap', name: 'mvt%d', parent: 'eth1', mode: 'bridge' },
    'a macvtap named by the user; no tun device for a macvtap',
  );

  t.strictSame(plan("<interface type='ethernet'><target dev='vnet7' managed='no'/></interface>").link, { kind: 'existing', name: 'vnet7' }, "managed='no': an existing device");
  t.strictSame(
    plan("<interface type='ethernet'><target dev='macvtap3' managed='no'/><backend tap='/dev/tap42'/></interface>").link,
    { kind: 'existing', name: 'macvtap3', tunDevice: '/dev/tap42' },
    "managed='no' with a backend tap path",
  );
  t.strictSame(plan("<interface type='ethernet'><backend tap='/dev/net/tun-alt'/></interface>").link, { kind: 'tap', name: 'vnet%d', hostMac: 'fe:54:00:12:34:56', tunDevice: '/dev/net/tun-alt' });
});

t.test('backend vhost path', async (t) => {
  const plan = (xml: string) => planInterface(iface(xml), MAC);
  t.equal(plan("<interface type='ethernet'><model type='virtio'/><backend vhost='/dev/vhost-net-2'/></interface>").vhostDevice, '/dev/vhost-net-2', 'auto: the given vhost device');
  t.equal(
    plan("<interface type='ethernet'><model type='virtio'/><driver name='vhost'/><backend vhost='/dev/vhost-net-2'/></interface>").vhostDevice,
    '/dev/vhost-net-2',
    'require: the given vhost device',
  );
  t.equal(plan("<interface type='ethernet'><model type='virtio'/><driver name='qemu'/><backend vhost='/dev/vhost-net-2'/></interface>").vhostDevice, undefined, "name='qemu': no vhost device at all");
  t.equal(plan("<interface type='ethernet'><model type='e1000'/><backend vhost='/dev/vhost-net-2'/></interface>").vhostDevice, undefined, 'non-virtio: no vhost device');
  t.equal(plan("<interface type='ethernet'><model type='virtio'/></interface>").vhostDevice, undefined, 'none given: the global default applies');
});

t.test('netdev and device ids', async (t) => {
  const def = domainDef(`<interface type='ethernet'/>
    <interface type='ethernet'><alias name='ua-lan'/></interface>
    <interface type='ethernet'/>`);
  const plans = planDomain(def, bytes([1, 1, 1], [2, 2, 2], [3, 3, 3]));
  t.strictSame(
    plans.map((p) => [p.index, p.path, p.netdevId, p.deviceId]),
    [
      [0, `${IF}[1]`, 'hostnet0', 'net0'],
      [1, `${IF}[2]`, 'hostua-lan', 'ua-lan'],
      [2, `${IF}[3]`, 'hostnet2', 'net2'],
    ],
    "alias → netdev 'host'+alias, device alias; otherwise hostnetN/netN by position",
  );
});

t.test('a whole plan', async (t) => {
  const p = planInterface(
    iface(`<interface type='bridge'>
      <source bridge='br0'/>
      <model type='virtio'/>
      <driver queues='2' rx_queue_size='512'/>
      <alias name='ua-net0'/>
    </interface>`),
    MAC,
    true,
  );
  t.strictSame(p, {
    index: 0,
    path: IF,
    model: 'virtio',
    device: 'virtio-net-pci',
    virtio: true,
    vnetHdr: true,
    queues: 2,
    vectors: 6,
    vhost: 'auto',
    mac: MAC,
    macGenerated: true,
    link: { kind: 'tap', name: 'vnet%d', bridge: 'br0', hostMac: 'fe:54:00:12:34:56' },
    netdevId: 'hostua-net0',
    deviceId: 'ua-net0',
    deviceProps: [['rx_queue_size', '512']],
    host: {},
  });
  t.equal(planInterface(iface("<interface type='ethernet'/>"), MAC).macGenerated, false, 'macGenerated defaults to false');
});
