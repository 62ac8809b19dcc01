// <bandwidth> from the XML to libvirt's tc commands: what the parser takes
// and refuses, which side of the device each direction lands on, the exact
// commands (golden, in libvirt's order) and how a failing tc is reported.
// tc itself is a fake script here; test/privileged/bandwidth.ts runs the real one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { Test } from 'tap';
import { bandwidthCommands, htbQuantum, setBandwidth } from '../../../lib/netdev/bandwidth';
import { bandwidthPlan, planDomain } from '../../../lib/policy';
import { DomainXml } from '../../../lib/xml/domain';

const IF = '/domain/devices/interface';
const doc = (iface: string) => `<domain type='kvm'><name>g</name><memory unit='MiB'>64</memory><devices>${iface}</devices></domain>`;
const tap = (bw: string) => doc(`<interface type='ethernet'><model type='virtio'/>${bw}</interface>`);
const parse = (xml: string) => DomainXml.parse(xml).def.interfaces[0];

t.test('parsing: numbers as libvirt schema has them, average required, one of each direction', async (t) => {
  t.same(parse(tap("<bandwidth><inbound average='4294967295' peak='1' burst='1'/></bandwidth>")).bandwidth, { inbound: { average: 4294967295, peak: 1, burst: 1 } });
  const invalid = (bw: string, field: string, what: string) => t.throws(() => parse(tap(bw)), { code: 'INVALID_ARGUMENT', field }, what);
  invalid("<bandwidth><inbound peak='100'/></bandwidth>", `${IF}/bandwidth/inbound/@average`, 'average is mandatory (floor is refused)');
  invalid("<bandwidth><outbound average='0'/></bandwidth>", `${IF}/bandwidth/outbound/@average`, '0 is no limit in libvirt: leave it out');
  invalid("<bandwidth><inbound average='4294967296'/></bandwidth>", `${IF}/bandwidth/inbound/@average`, 'above 2^32-1');
  invalid("<bandwidth><inbound average='1e3'/></bandwidth>", `${IF}/bandwidth/inbound/@average`, 'not a decimal integer');
  invalid("<bandwidth><inbound average='-1'/></bandwidth>", `${IF}/bandwidth/inbound/@average`, 'negative');
  invalid("<bandwidth><inbound average='10' burst='0'/></bandwidth>", `${IF}/bandwidth/inbound/@burst`, 'burst 0');
  invalid("<bandwidth><inbound average='10' peak='x'/></bandwidth>", `${IF}/bandwidth/inbound/@peak`, 'peak not a number');
  invalid("<bandwidth><inbound average='10'/><inbound average='20'/></bandwidth>", `${IF}/bandwidth/inbound[2]`, 'two <inbound>');
  t.throws(() => parse(tap("<bandwidth><inbound average='10' floor='5'/></bandwidth>")), { code: 'NOT_SUPPORTED', field: `${IF}/bandwidth/inbound/@floor`, message: /network's QoS/ });
  t.throws(() => parse(tap("<bandwidth><outbound average='10' peak='20'/></bandwidth>")), { code: 'NOT_SUPPORTED', message: /u32 police filter.*peak would be ignored/ });
  t.equal(parse(tap('<bandwidth></bandwidth>')).bandwidth, undefined, 'an empty <bandwidth> is no limit');
  const live = DomainXml.parse(tap("<bandwidth><inbound average='10'/></bandwidth>"), { live: true }).def.interfaces[0];
  t.same(live.bandwidth, { inbound: { average: 10 } }, 'the live XML keeps it (teardown reads it back)');
});

t.test('plan: libvirt swaps the directions on a tap, not on a macvtap', async (t) => {
  const b = { inbound: { average: 100, peak: 200, burst: 10 }, outbound: { average: 50, burst: 5 } };
  t.same(bandwidthPlan(b, true), { egress: { from: 'inbound', average: 100, peak: 200, burst: 10 }, ingress: { from: 'outbound', average: 50, burst: 5 } }, 'tap');
  const m = { inbound: { average: 100, burst: 10 }, outbound: { average: 50, peak: 70 } };
  t.same(bandwidthPlan(m, false), { egress: { from: 'outbound', average: 50, peak: 70 }, ingress: { from: 'inbound', average: 100, burst: 10 } }, 'macvtap');
  t.same(bandwidthPlan({ outbound: { average: 50 } }, true), { ingress: { from: 'outbound', average: 50 } }, 'only the policed side');
  const MAC = [{ mac: '52:54:00:00:00:01', generated: false }];
  const plans = planDomain(
    DomainXml.parse(
      doc(`<interface type='bridge'><source bridge='br0'/><bandwidth><inbound average='8'/></bandwidth></interface>
           <interface type='direct'><source dev='eth0'/><bandwidth><inbound average='8'/></bandwidth></interface>
           <interface type='ethernet'/>`),
    ).def,
    [...MAC, { mac: '52:54:00:00:00:02', generated: false }, { mac: '52:54:00:00:00:03', generated: false }],
  );
  t.same(
    plans.map((p) => p.host.bandwidth),
    [{ egress: { from: 'inbound', average: 8 } }, { ingress: { from: 'inbound', average: 8 } }, undefined],
  );
});

t.test("the tc commands: libvirt's, in its order, with its units and quantum", async (t) => {
  t.equal(htbQuantum(1), 1, 'at least 1');
  t.equal(htbQuantum(1000), 85, '1000 KiB/s: 1000*1024/8/1500 = 85.33');
  t.equal(htbQuantum(4294967295), 366503875, 'the largest rate stays exact');
  const cmds = bandwidthCommands({ egress: { from: 'inbound', average: 1000, peak: 2000, burst: 256 }, ingress: { from: 'outbound', average: 500, burst: 128 } }, 'vnet0');
  t.same(
    cmds.map((c) => `${c.from ?? '-'}: tc ${c.args.join(' ')}`),
    [
      '-: tc qdisc del dev vnet0 root',
      '-: tc qdisc del dev vnet0 ingress',
      'inbound: tc qdisc add dev vnet0 root handle 1: htb default 1',
      'inbound: tc class add dev vnet0 parent 1: classid 1:1 htb rate 1000kbps ceil 2000kbps burst 256kb quantum 85',
      'inbound: tc qdisc add dev vnet0 parent 1:1 handle 2: sfq perturb 10',
      'inbound: tc filter add dev vnet0 parent 1:0 protocol all prio 1 handle 1 fw flowid 1',
      'outbound: tc qdisc add dev vnet0 ingress',
      'outbound: tc filter add dev vnet0 parent ffff: protocol all u32 match u32 0 0 police rate 500kbps burst 128kb mtu 64kb drop flowid :1',
    ],
  );
  const short = bandwidthCommands({ egress: { from: 'outbound', average: 10 } }, 'm0').map((c) => c.args.join(' '));
  t.same(
    short.slice(2),
    [
      'qdisc add dev m0 root handle 1: htb default 1',
      'class add dev m0 parent 1: classid 1:1 htb rate 10kbps quantum 1',
      'qdisc add dev m0 parent 1:1 handle 2: sfq perturb 10',
      'filter add dev m0 parent 1:0 protocol all prio 1 handle 1 fw flowid 1',
    ],
    'no ceil, no burst when not given',
  );
  const pol = (average: number) =>
    bandwidthCommands({ ingress: { from: 'inbound', average } }, 'm0')
      .at(-1)
      ?.args.join(' ');
  t.match(pol(300), / police rate 300kbps burst 300kb mtu 64kb drop flowid :1$/, "the default burst is the rate's worth");
  t.match(pol(4294967295), / police rate 4294967295kbps burst 4194303kb /, 'capped at UINT_MAX/1024 KiB: tc keeps it in 32 bits of bytes');
});

/** A fake tc: logs its arguments, fails (exit 2, tc's words) when they match FAIL. */
function fakeTc(t: Test, fail?: string): { tc: string; log: () => string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-faketc-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const log = path.join(dir, 'log');
  const tc = path.join(dir, 'tc');
  fs.writeFileSync(
    tc,
    `#!/bin/sh\necho "$*" >> ${log}\ncase "$*" in\n  *"qdisc del"*) echo 'Error: Cannot delete qdisc with handle of zero.' >&2; exit 2;;\n${fail ? `  *"${fail}"*) echo 'Error: Specified qdisc kind is unknown.' >&2; exit 2;;\n` : ''}esac\nexit 0\n`,
    { mode: 0o755 },
  );
  return { tc, log: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : []) };
}

t.test('setBandwidth runs them in the namespace, ignores what libvirt ignores, and names the XML element of a failure', async (t) => {
  const b = bandwidthPlan({ inbound: { average: 1000 }, outbound: { average: 500 } }, true);
  const ok = fakeTc(t);
  await setBandwidth(b, 'vnet0', `${IF}[2]`, { netns: 'ns1', tc: ok.tc });
  t.same(
    ok.log(),
    bandwidthCommands(b, 'vnet0').map((c) => `-n ns1 ${c.args.join(' ')}`),
    "every command, in order, with -n NS; the failing deletes of virNetDevBandwidthClear don't stop it",
  );
  const bad = fakeTc(t, 'sfq');
  await t.rejects(setBandwidth(b, 'vnet0', `${IF}[2]`, { tc: bad.tc }), {
    code: 'TC_FAILED',
    field: `${IF}[2]/bandwidth/inbound`,
    value: 'tc qdisc add dev vnet0 parent 1:1 handle 2: sfq perturb 10',
    message: /^\/domain\/devices\/interface\[2\]\/bandwidth\/inbound: tc qdisc add dev vnet0 parent 1:1 handle 2: sfq perturb 10 failed \(exit 2\): Error: Specified qdisc kind is unknown\.$/,
    hint: /^the kernel may lack .*sch_sfq/,
  });
  t.equal(bad.log().length, 5, 'nothing runs after the failing command (the caller deletes the device)');
  await t.rejects(
    setBandwidth(b, 'vnet0', IF, { tc: '/nonexistent/tc' }),
    { code: 'TC_UNAVAILABLE', message: /install iproute2, or name the tc binary in NETFD_TC/ },
    'no tc at all: refused at the first command',
  );
});
