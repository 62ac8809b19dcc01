// Xen native configs (xen-xm, xen-xl, xen-sxpr) to and from libvirt XML:
// golden files for the four interface type/model scenarios of libvirt's
// model='netfront' patch, round trips, the scenario table, the xend config
// version threshold, bad input named by line and field, and configs as
// people write them. Pure.
//
// The goldens live in test/fixtures/xen: NAME.xml (hand-written, libvirt's
// layout) and NAME.xm, NAME.xl, NAME.sxpr (what netfd writes). To rewrite the
// native files after an intended change:
//   NETFD_UPDATE_GOLDEN=1 npx tap test/unit/xen.ts
// then read the diff by eye before committing. The XML files are never
// rewritten: they are checked against what netfd reads from the natives.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import {
  DEFAULT_XEND_CONFIG_VERSION,
  domainFromNative,
  domainToNative,
  modelFromVif,
  XEN_FORMATS,
  XEND_CONFIG_MAX_VERS_NET_TYPE_IOEMU,
  XenFormat,
  vifTypeModel,
} from '../../lib/xen';
import { parseConf } from '../../lib/xen/conf';
import { parseSexpr } from '../../lib/xen/sexpr';
import { refused } from '../helpers/refused';

const fixtures = path.join(__dirname, '..', 'fixtures', 'xen');
const UPDATE = process.env.NETFD_UPDATE_GOLDEN === '1';
const EXT: Record<XenFormat, string> = { 'xen-xm': 'xm', 'xen-xl': 'xl', 'xen-sxpr': 'sxpr' };
const read = (f: string) => fs.readFileSync(path.join(fixtures, f), 'utf8');

interface Case {
  /** The natives are NAME.xm, NAME.xl, NAME.sxpr. */
  name: string;
  xml: string;
  xendConfigVersion?: number;
}

const CASES: Case[] = [
  { name: 'hvm-no-model', xml: 'hvm-no-model.xml' }, // 1: nothing for a current xend
  { name: 'hvm-no-model-xend3', xml: 'hvm-no-model.xml', xendConfigVersion: 3 }, // 1: type=ioemu up to xend 3
  { name: 'pv-model', xml: 'pv-model.xml' }, // 2: model passed as is
  { name: 'hvm-netfront', xml: 'hvm-netfront.xml' }, // 3: type=netfront (xl: vif), no model
  { name: 'hvm-ioemu', xml: 'hvm-ioemu.xml' }, // 4: model and type=ioemu
];

const opts = (c: Case) => (c.xendConfigVersion === undefined ? undefined : { xendConfigVersion: c.xendConfigVersion });

t.test('golden: XML to native, byte for byte', async (t) => {
  for (const c of CASES) {
    for (const f of XEN_FORMATS) {
      const file = `${c.name}.${EXT[f]}`;
      const got = domainToNative(read(c.xml), f, opts(c));
      if (UPDATE) fs.writeFileSync(path.join(fixtures, file), got);
      t.equal(got, read(file), `${c.xml} → ${file}`);
    }
  }
  const expected = [...new Set(CASES.map((c) => c.xml)), ...CASES.flatMap((c) => XEN_FORMATS.map((f) => `${c.name}.${EXT[f]}`))].sort();
  t.strictSame(fs.readdirSync(fixtures).sort(), expected, 'every golden file belongs to a case');
});

t.test('golden: native to XML gives the golden XML back', async (t) => {
  for (const c of CASES) {
    for (const f of XEN_FORMATS) {
      const file = `${c.name}.${EXT[f]}`;
      t.equal(domainFromNative(read(file), f, opts(c)), read(c.xml), `${file} → ${c.xml}`);
    }
  }
});

t.test('round trips are stable: xml → native → xml → native', async (t) => {
  for (const c of CASES) {
    for (const f of XEN_FORMATS) {
      const n1 = domainToNative(read(c.xml), f, opts(c));
      const x1 = domainFromNative(n1, f);
      const n2 = domainToNative(x1, f, opts(c));
      t.equal(n2, n1, `${c.name} ${f}: native identical`);
      t.equal(domainFromNative(n2, f), x1, `${c.name} ${f}: XML identical`);
    }
  }
});

t.test('the goldens show the four scenarios', async (t) => {
  const vif = (name: string, ext: string) => read(`${name}.${ext}`).split('\n').find((l) => l.startsWith('vif = ')) as string;
  t.notMatch(vif('hvm-no-model', 'xm'), /type=/, '1, current xend: no type');
  t.match(vif('hvm-no-model-xend3', 'xm'), /bridge=xenbr0,script=vif-bridge,type=ioemu".*ip=192.0.2.10,type=ioemu"/, '1, xend 3: type=ioemu on every vif');
  t.match(read('hvm-no-model-xend3.sxpr'), /\(script 'vif-bridge'\)\(type ioemu\)\)\)/);
  t.match(vif('pv-model', 'xm'), /script=vif-bridge,model=e1000,vifname=net0"/, '2: model as is, no type');
  t.notMatch(read('pv-model.xl') + read('pv-model.sxpr'), /type/);
  t.match(vif('hvm-netfront', 'xm'), /,type=netfront,vifname=gw0"/, '3: type=netfront, no model');
  t.match(vif('hvm-netfront', 'xl'), /,type=vif,vifname=gw0"/, '3: xl says type=vif');
  t.match(read('hvm-netfront.sxpr'), /\(vifname 'gw0'\)\(type netfront\)\)\)/);
  t.notMatch(read('hvm-netfront.xm') + read('hvm-netfront.xl') + read('hvm-netfront.sxpr'), /model/);
  t.match(vif('hvm-ioemu', 'xl'), /model=e1000,type=ioemu", .*model=rtl8139,type=ioemu,vifname=lan1"/, '4: model and type=ioemu');
  t.match(read('hvm-ioemu.sxpr'), /\(model 'e1000'\)\(type ioemu\)/);
});

t.test('the scenario table, both ways', async (t) => {
  const V = DEFAULT_XEND_CONFIG_VERSION;
  t.equal(V, 4, "libvirt's XEND_CONFIG_VERSION_3_1_0, its 'latest xend config format'");
  t.equal(XEND_CONFIG_MAX_VERS_NET_TYPE_IOEMU, 3);
  for (const f of XEN_FORMATS) {
    const pv = f === 'xen-xl' ? 'vif' : 'netfront';
    // to native
    t.strictSame(vifTypeModel(f, true, undefined, 3), { type: 'ioemu' }, `${f} 1: HVM, no model, xend 3`);
    t.strictSame(vifTypeModel(f, true, undefined, V), {}, `${f} 1: HVM, no model, current xend`);
    for (const m of [undefined, 'e1000', 'netfront'])
      for (const v of [1, 3, 4]) t.strictSame(vifTypeModel(f, false, m, v), m === undefined ? {} : { model: m }, `${f} 2: PV, model ${m}, xend ${v}`);
    for (const v of [1, 3, 4]) {
      t.strictSame(vifTypeModel(f, true, 'netfront', v), { type: pv }, `${f} 3: HVM netfront, xend ${v}`);
      t.strictSame(vifTypeModel(f, true, 'rtl8139', v), { model: 'rtl8139', type: 'ioemu' }, `${f} 4: HVM other model, xend ${v}`);
    }
    // from native
    t.strictSame(modelFromVif(f, undefined, undefined), {});
    t.strictSame(modelFromVif(f, 'ioemu', undefined), {}, `${f}: type=ioemu alone is no model`);
    t.strictSame(modelFromVif(f, pv, undefined), { model: 'netfront' }, `${f}: type=${pv} is model netfront`);
    t.strictSame(modelFromVif(f, 'ioemu', 'e1000'), { model: 'e1000' });
    t.strictSame(modelFromVif(f, undefined, 'e1000'), { model: 'e1000' }, `${f}: a PV model is kept`);
    t.match(modelFromVif(f, pv, 'e1000'), { problem: /contradicts model=e1000/ });
    t.match(modelFromVif(f, f === 'xen-xl' ? 'netfront' : 'vif', undefined), { problem: new RegExp(`not a ${f} vif type; expected ioemu or ${pv}`) });
  }
});

t.test('xend config version: the threshold on both sides', async (t) => {
  const xml = read('hvm-no-model.xml');
  for (const f of XEN_FORMATS) {
    for (const v of [1, 2, 3, 4, 5]) {
      const n = domainToNative(xml, f, { xendConfigVersion: v });
      const ioemu = (n.match(/type=ioemu|\(type ioemu\)/g) ?? []).length;
      t.equal(ioemu, v <= 3 ? 2 : 0, `${f} xend ${v}: ${v <= 3 ? 'type=ioemu on both vifs' : 'no type'}`);
      t.equal(domainFromNative(n, f, { xendConfigVersion: v }), xml, `${f} xend ${v}: reads back the same XML`);
    }
    t.equal(domainToNative(xml, f), domainToNative(xml, f, { xendConfigVersion: 4 }), `${f}: the default is 4`);
    // a PV guest and a model never depend on the version
    for (const name of ['pv-model', 'hvm-netfront', 'hvm-ioemu'])
      t.equal(domainToNative(read(`${name}.xml`), f, { xendConfigVersion: 1 }), domainToNative(read(`${name}.xml`), f, { xendConfigVersion: 9 }), `${f} ${name}: same for every version`);
  }
  // reading does not depend on the version: an explicit type=ioemu without a
  // model is scenario 1 (no <model>), written back as the version says (libvirt)
  const old = 'name = "h"\nbuilder = "hvm"\nvif = [ "bridge=xenbr0,type=ioemu" ]\n';
  for (const v of [3, 4]) t.notMatch(domainFromNative(old, 'xen-xm', { xendConfigVersion: v }), /<model/, `xend ${v}: type=ioemu alone is no model`);
  t.match(domainToNative(domainFromNative(old, 'xen-xm'), 'xen-xm', { xendConfigVersion: 3 }), /"bridge=xenbr0,script=vif-bridge,type=ioemu"/);
  t.match(domainToNative(domainFromNative(old, 'xen-xm'), 'xen-xm'), /"bridge=xenbr0,script=vif-bridge"/);
  for (const bad of [0, -1, 2.5, Number.NaN, '3' as unknown as number])
    refused(t, () => domainToNative(xml, 'xen-xm', { xendConfigVersion: bad }), { code: 'INVALID_ARGUMENT', field: 'xendConfigVersion', value: bad }, /positive integer/);
  refused(t, () => domainFromNative('name = "a"\n', 'xen-xm', { xendConfigVersion: 0 }), { code: 'INVALID_ARGUMENT', field: 'xendConfigVersion', value: 0 });
  refused(t, () => domainToNative(xml, 'xen-vmx' as XenFormat), { code: 'INVALID_ARGUMENT', field: 'format', value: 'xen-vmx' }, /xen-xm, xen-xl, xen-sxpr/);
  refused(t, () => domainFromNative('', 'native' as XenFormat), { code: 'INVALID_ARGUMENT', field: 'format', value: 'native' });
});

t.test('XML input: what the subset accepts', async (t) => {
  const dom = (body: string, os = 'hvm', extra = '') =>
    `<domain type='xen'>\n  <name>g</name>\n  <memory unit='MiB'>512</memory>${extra}\n  <os><type arch='x86_64' machine='xenfv'>${os}</type><loader>/usr/lib/xen/boot/hvmloader</loader></os>\n  <devices><disk type='file'/>${body}</devices>\n</domain>`;
  t.equal(domainToNative("<domain type='xen'><name>g</name><memory>2048</memory><os><type>xen</type></os></domain>", 'xen-xl'), 'name = "g"\nmaxmem = 2\nmemory = 2\nvcpus = 1\n', 'no <devices>, no vif');
  t.equal(domainToNative(dom(''), 'xen-xm'), 'name = "g"\nmaxmem = 512\nmemory = 512\nvcpus = 1\nbuilder = "hvm"\n', 'no uuid, no interface: none written; disks and loader are outside the subset');
  t.equal(domainToNative(dom('', 'linux'), 'xen-sxpr'), "(vm (name 'g')(memory 512)(maxmem 512)(vcpus 1)(image (linux)))\n", "linux is the old spelling of a PV guest");
  t.equal(domainToNative(dom('', 'hvm', "<currentMemory unit='KiB'>1000</currentMemory><vcpu placement='static'>3</vcpu>"), 'xen-xl'), 'name = "g"\nmaxmem = 512\nmemory = 1\nvcpus = 3\nbuilder = "hvm"\n', 'KiB rounded up to MiB, as libvirt does');
  t.equal(domainToNative(dom("<interface type='ethernet'/>"), 'xen-xm'), 'name = "g"\nmaxmem = 512\nmemory = 512\nvcpus = 1\nbuilder = "hvm"\nvif = [ "" ]\n', 'an ethernet vif with nothing set is an empty entry');
  t.match(domainToNative(dom("<interface type='bridge'><mac address='00:16:3E:AA:BB:CC'/><source bridge='xenbr0'/></interface>"), 'xen-xm'), /"mac=00:16:3e:aa:bb:cc,bridge=xenbr0,script=vif-bridge"/, 'a MAC is written lower-case; a bridge gets vif-bridge');
  t.match(domainToNative(dom("<interface type='bridge'><source bridge='xenbr0'/><target dev='vif5.0'/></interface>"), 'xen-sxpr'), /\(device \(vif \(bridge 'xenbr0'\)\(script 'vif-bridge'\)\)\)/, "sxpr: a vifN.M target is xend's own name, not written (as libvirt)");
  t.match(domainToNative(dom("<interface type='bridge'><source bridge='xenbr0'/><target dev='vif5.0'/></interface>"), 'xen-xl'), /vifname=vif5\.0"/, 'xm/xl keep it');
  t.match(domainToNative(dom("<interface type='ethernet'><script path=\"/opt/it's/vif-x\"/></interface>", 'xen'), 'xen-sxpr'), /\(script '\/opt\/it\\'s\/vif-x'\)/, 'sxpr escapes a quote with a backslash');
  t.match(domainToNative(dom("<interface type='ethernet'><script path='/opt/a\"b'/></interface>", 'xen'), 'xen-xm'), /vif = \[ 'script=\/opt\/a"b' \]/, "xm: single quotes when the value holds a '\"'");
});

t.test('XML input: refused, naming the element or attribute', async (t) => {
  const dom = (body: string, root = "type='xen'", os = 'hvm') => `<domain ${root}><name>g</name><memory>524288</memory><os><type>${os}</type></os><devices>${body}</devices></domain>`;
  const I = '/domain/devices/interface';
  const ns = (field: string, value: unknown) => ({ code: 'NOT_SUPPORTED', field, value });
  const inv = (field: string, value: unknown) => ({ code: 'INVALID_ARGUMENT', field, value });
  for (const type of ['direct', 'network', 'user', 'vhostuser', 'hostdev'])
    refused(t, () => domainToNative(dom(`<interface type='${type}'><source dev='eth0'/></interface>`), 'xen-xm'), ns(`${I}/@type`, type), new RegExp(`<interface type='${type}'> is not supported by the Xen native formats`));
  refused(t, () => domainToNative(dom("<interface type='bridge'><source bridge='b'/></interface><interface type='direct'/>"), 'xen-xl'), ns(`${I}[2]/@type`, 'direct'), /type='bridge'/);
  refused(t, () => domainToNative(dom("<interface type='bridge'><source bridge='b'/><bandwidth/></interface>"), 'xen-xm'), ns(`${I}/bandwidth`, 'bandwidth'), /remove <bandwidth>/);
  refused(t, () => domainToNative(dom("<interface type='bridge'><source bridge='b'/><alias name='ua-x'/></interface>"), 'xen-xm'), ns(`${I}/alias`, 'alias'));
  refused(t, () => domainToNative(dom("<interface type='bridge'><source bridge='b'/><driver name='vhost'/></interface>"), 'xen-sxpr'), ns(`${I}/driver`, 'driver'));
  refused(t, () => domainToNative(dom("<interface type='ethernet'><source bridge='b'/></interface>"), 'xen-xm'), ns(`${I}/source`, 'source'), /type='ethernet'/);
  refused(t, () => domainToNative(dom("<interface type='bridge'><source bridge='b'/><ip address='10.0.0.1' prefix='24'/></interface>"), 'xen-xm'), ns(`${I}/ip/@prefix`, '24'), /addresses only/);
  refused(t, () => domainToNative(dom("<interface type='bridge' trustGuestRxFilters='yes'><source bridge='b'/></interface>"), 'xen-xm'), ns(`${I}/@trustGuestRxFilters`, 'yes'));
  refused(t, () => domainToNative(dom("<interface type='bridge'><source bridge='b'/><target dev='t0' managed='no'/></interface>"), 'xen-xm'), ns(`${I}/target/@managed`, 'no'));
  refused(t, () => domainToNative(dom("<interface type='bridge'/>"), 'xen-xm'), inv(I, ''), /needs <source bridge/);
  refused(t, () => domainToNative(dom('<interface/>'), 'xen-xm'), inv(`${I}/@type`, ''), /type='bridge' or type='ethernet'/);
  refused(t, () => domainToNative(dom("<interface type='bridge'><source bridge='b'/><mac address='01:00:5e:00:00:01'/></interface>"), 'xen-xm'), inv(`${I}/mac/@address`, '01:00:5e:00:00:01'), /multicast/);
  refused(t, () => domainToNative(dom("<interface type='bridge'><source bridge='a/b'/></interface>"), 'xen-xm'), inv(`${I}/source/@bridge`, 'a/b'), /interface name/);
  refused(t, () => domainToNative(dom("<interface type='bridge'><source bridge='b'/><model type='e 1000'/></interface>"), 'xen-xm'), inv(`${I}/model/@type`, 'e 1000'), /letters, digits/);
  refused(t, () => domainToNative(dom("<interface type='bridge'><source bridge='b'/><ip address='10.0.0.300'/></interface>"), 'xen-xm'), inv(`${I}/ip/@address`, '10.0.0.300'), /IPv4 or IPv6/);
  refused(t, () => domainToNative(dom("<interface type='bridge'><source bridge='b'/><ip address='10.0.0.3' family='ipv6'/></interface>"), 'xen-xm'), inv(`${I}/ip/@family`, 'ipv6'), /is ipv4/);
  refused(t, () => domainToNative(dom("<interface type='bridge'><source bridge='b'/><model type='e1000'/><model type='rtl8139'/></interface>"), 'xen-xm'), inv(`${I}/model[2]`, 'model'), /only once/);
  // values a format cannot hold
  refused(t, () => domainToNative(dom("<interface type='bridge'><source bridge='b'/><script path='/x,y'/></interface>"), 'xen-xm'), ns(`${I}/script/@path`, '/x,y'), /holds a ','/);
  refused(t, () => domainToNative(dom("<interface type='bridge'><source bridge='br,1'/></interface>"), 'xen-xl'), ns(`${I}/source/@bridge`, 'br,1'), /separates the key=value pairs of a xen-xl vif/);
  t.match(domainToNative(dom("<interface type='bridge'><source bridge='br,1'/></interface>"), 'xen-sxpr'), /\(bridge 'br,1'\)/, 'the s-expression can hold it');
  refused(t, () => domainToNative(dom(`<interface type='ethernet'><script path="/a&quot;b'c"/></interface>`), 'xen-xm'), ns(`${I}/script/@path`, "script=/a\"b'c"), /both ' and "/);
  // the domain
  refused(t, () => domainToNative(dom('', "type='kvm'"), 'xen-xm'), inv('/domain/@type', 'kvm'), /type='xen'/);
  refused(t, () => domainToNative('<network/>', 'xen-xm'), inv('/network', 'network'), /<domain>/);
  refused(t, () => domainToNative(dom('', "type='xen'", 'exe'), 'xen-xm'), inv('/domain/os/type', 'exe'), /hvm .* or xen/);
  refused(t, () => domainToNative("<domain type='xen'><name>g</name><memory>1</memory></domain>", 'xen-xm'), inv('/domain/os/type', ''), /needs <os><type>hvm/);
  refused(t, () => domainToNative("<domain type='xen'><name>g</name><os><type>hvm</type></os></domain>", 'xen-xm'), inv('/domain/memory', ''), /needs <memory/);
  refused(t, () => domainToNative("<domain type='xen'><name>g</name><memory unit='KiB'>2048</memory><currentMemory>4096</currentMemory><os><type>hvm</type></os></domain>", 'xen-xm'), inv('/domain/currentMemory', '4096'), /cannot exceed/);
  refused(t, () => domainToNative("<domain type='xen'><name>g</name><memory unit='parsec'>2</memory><os><type>hvm</type></os></domain>", 'xen-xm'), inv('/domain/memory/@unit', 'parsec'));
  refused(t, () => domainToNative("<domain type='xen'><name>g</name><memory>1</memory><vcpu current='1'>2</vcpu><os><type>hvm</type></os></domain>", 'xen-xm'), ns('/domain/vcpu/@current', '1'), /vCPU count only/);
  refused(t, () => domainToNative("<domain type='xen'><name>g</name><memory>1</memory><vcpu>0</vcpu><os><type>hvm</type></os></domain>", 'xen-xm'), inv('/domain/vcpu', '0'), /from 1 to 4096/);
  refused(t, () => domainToNative("<domain type='xen'><name>a b</name></domain>", 'xen-xm'), inv('/domain/name', 'a b'));
  refused(t, () => domainToNative('<domain', 'xen-xm'), { code: 'INVALID_XML', field: 'domain XML', value: '<domain' });
  refused(t, () => domainToNative(42 as unknown as string, 'xen-xm'), inv('domain XML', 42), /must be a string/);
  refused(t, () => domainFromNative(undefined as unknown as string, 'xen-sxpr'), inv('native config', undefined), /must be a string/);
});

t.test('xm/xl input: bad text is named by its line', async (t) => {
  const inv = (field: string, value: unknown) => ({ code: 'INVALID_ARGUMENT', field, value });
  const cfg = (vifs: string, more = '') => `# a guest\nname = "g"\nmemory = 512\n${more}vif = [\n  ${vifs}\n]\n`;
  refused(t, () => domainFromNative(cfg('"mac=00:16:3e:00:00:01,bridge=xenbr0",\n  "mac=zz:16:3e:00:00:02,bridge=xenbr0"'), 'xen-xm'), inv('line 6: vif[1].mac', 'zz:16:3e:00:00:02'), /^line 6: vif\[1\]\.mac: invalid value "zz:16:3e:00:00:02": a MAC address is six hex octets/);
  refused(t, () => domainFromNative(cfg('"bridge=xenbr0,rate=10MB/s"'), 'xen-xl'), { code: 'NOT_SUPPORTED', field: 'line 5: vif[0].rate', value: '10MB/s' }, /unknown vif key "rate": netfd converts mac, bridge, script, ip, vifname, model, type/);
  refused(t, () => domainFromNative(cfg('"bridge=xenbr0,mac=00:16:3e:00:00:01,mac=00:16:3e:00:00:02"'), 'xen-xm'), inv('line 5: vif[0].mac', '00:16:3e:00:00:02'), /given twice/);
  refused(t, () => domainFromNative(cfg('"bridge=xenbr0,xenbr1"'), 'xen-xm'), inv('line 5: vif[0]', 'bridge=xenbr0,xenbr1'), /"xenbr1" is not key=value/);
  refused(t, () => domainFromNative(cfg('"bridge=xenbr0,mac="'), 'xen-xm'), inv('line 5: vif[0].mac', ''), /mac is empty/);
  refused(t, () => domainFromNative(cfg('"bridge=xenbr0,ip=10.0.0.1 10.0.0.999"'), 'xen-xm'), inv('line 5: vif[0].ip', '10.0.0.999'), /IPv4 or IPv6/);
  refused(t, () => domainFromNative(cfg('"bridge=xenbr0,type=netfront,model=e1000"', 'builder = "hvm"\n'), 'xen-xm'), inv('line 6: vif[0].type', 'netfront'), /contradicts model=e1000/);
  refused(t, () => domainFromNative(cfg('"bridge=xenbr0,type=netfront"', 'builder = "hvm"\n'), 'xen-xl'), inv('line 6: vif[0].type', 'netfront'), /not a xen-xl vif type; expected ioemu or vif/);
  refused(t, () => domainFromNative(cfg('"bridge=xenbr0,type=vif"'), 'xen-xm'), inv('line 5: vif[0].type', 'vif'), /expected ioemu or netfront/);
  refused(t, () => domainFromNative(cfg('"bridge=xenbr0,model=e 1000"'), 'xen-xm'), inv('line 5: vif[0].model', 'e 1000'));
  refused(t, () => domainFromNative(cfg('"bridge=br/0"'), 'xen-xm'), inv('line 5: vif[0].bridge', 'br/0'), /interface name/);
  refused(t, () => domainFromNative(cfg('"vifname=a:b"'), 'xen-xm'), inv('line 5: vif[0].vifname', 'a:b'));
  t.match(domainFromNative(cfg('" bridge = xenbr0 , script= vif-x "'), 'xen-xm'), /<source bridge='xenbr0'\/>\n {6}<script path='vif-x'\/>/, 'blanks around keys and values are dropped, as xm does');
  refused(t, () => domainFromNative(cfg('42'), 'xen-xm'), inv('line 5: vif[0]', 42), /each vif is a string of key=value pairs, not the number 42/);
  refused(t, () => domainFromNative('name = "g"\nvif = "bridge=xenbr0"\n', 'xen-xm'), inv('line 2: vif', 'bridge=xenbr0'), /vif must be a list of strings/);
  refused(t, () => domainFromNative('name = "g"\nvif = []\nvif = [ "bridge=b" ]\n', 'xen-xm'), inv('line 3: vif', '[...]'), /set twice \(first on line 2\)/);
  // the basics
  refused(t, () => domainFromNative('memory = 512\n', 'xen-xm'), inv('name', ''), /needs name = "GUEST"/);
  refused(t, () => domainFromNative('name = 7\n', 'xen-xm'), inv('line 1: name', 7), /quoted string, not the number 7/);
  refused(t, () => domainFromNative('name = "a b"\n', 'xen-xm'), inv('line 1: name', 'a b'), /domain name/);
  refused(t, () => domainFromNative('name = "g"\nuuid = "nope"\n', 'xen-xm'), inv('line 2: uuid', 'nope'), /UUID/);
  refused(t, () => domainFromNative('name = "g"\nmemory = "lots"\n', 'xen-xm'), inv('line 2: memory', 'lots'), /positive integer \(MiB\)/);
  refused(t, () => domainFromNative('name = "g"\nmemory = 0\n', 'xen-xm'), inv('line 2: memory', '0'));
  refused(t, () => domainFromNative('name = "g"\nmemory = 1024\nmaxmem = 512\n', 'xen-xm'), inv('line 2: memory', 1024), /exceeds maxmem/);
  refused(t, () => domainFromNative('name = "g"\nvcpus = -2\n', 'xen-xm'), inv('line 2: vcpus', '-2'), /vCPUs/);
  refused(t, () => domainFromNative('name = "g"\nbuilder = "generic"\n', 'xen-xm'), inv('line 2: builder', 'generic'), /"hvm" or "linux"/);
  refused(t, () => domainFromNative('name = "g"\ntype = "pvh"\n', 'xen-xl'), { code: 'NOT_SUPPORTED', field: 'line 2: type', value: 'pvh' }, /PVH/);
  refused(t, () => domainFromNative('name = "g"\ntype = "hvn"\n', 'xen-xl'), inv('line 2: type', 'hvn'));
  // syntax
  refused(t, () => domainFromNative('name = "g"\nmemory 512\n', 'xen-xm'), inv('line 2', '512'), /expected '=' after memory/);
  refused(t, () => domainFromNative('name = "g\n', 'xen-xm'), inv('line 1', '"g'), /unterminated string/);
  refused(t, () => domainFromNative("name = 'g'\nextra = '''never\nclosed\n", 'xen-xm'), inv('line 2', "'''never"), /unterminated ''' string/);
  refused(t, () => domainFromNative('name = "g"\n\n\nvif = [ "bridge=b",\n  "bridge=c"\n', 'xen-xm'), inv('line 4', '['), /vif: the list opened here is not closed with \]/);
  refused(t, () => domainFromNative('name = "g"\nvif = [ "bridge=b" "bridge=c" ]\n', 'xen-xm'), inv('line 2', '"bridge=c" ]'), /expected ',' or '\]' after a list item/);
  refused(t, () => domainFromNative('name = "g"\nacpi = True\n', 'xen-xm'), inv('line 2', 'True'), /acpi: expected a value/);
  refused(t, () => domainFromNative('name = "g"\nmemory = 1.5\n', 'xen-xm'), inv('line 2', '1.5'), /expected a value/);
  refused(t, () => domainFromNative('name = "g" "h"\n', 'xen-xm'), inv('line 1', '"h"'), /unexpected text after the value of name/);
  refused(t, () => domainFromNative('name = "g"\n  = 3\n', 'xen-xm'), inv('line 2', '= 3'), /expected a setting/);
  refused(t, () => domainFromNative('name =\nmemory = 3\n', 'xen-xm'), inv('line 1', 'name'), /expected a value after '='/);
  refused(t, () => domainFromNative('name = "g"\nextra = """console=hvc0\nroot=/dev/xvda1"""\nmemory = "x"\n', 'xen-xm'), inv('line 4: memory', 'x'), /positive integer/); // a """ string spans lines
  refused(t, () => domainFromNative(`name = "g"\nbootloader = "${'/x'.repeat(40)}`, 'xen-xm'), inv('line 2', `"${'/x'.repeat(28)}...`), /unterminated string/);
  t.strictSame(parseConf('a = 1; b = "x" # c\r\nc = [ 1, [ "n" ], ]\n'), [
    { name: 'a', value: { kind: 'number', value: 1, text: '1', line: 1 }, line: 1 },
    { name: 'b', value: { kind: 'string', value: 'x', line: 1 }, line: 1 },
    { name: 'c', value: { kind: 'list', items: [{ kind: 'number', value: 1, text: '1', line: 2 }, { kind: 'list', items: [{ kind: 'string', value: 'n', line: 2 }], line: 2 }], line: 2 }, line: 2 },
  ], "';' separates statements, CRLF ends a line, lists nest and may end with ','");
});

t.test('s-expression input: bad text is named by its line', async (t) => {
  const inv = (field: string, value: unknown) => ({ code: 'INVALID_ARGUMENT', field, value });
  const vm = (vif: string) => `(vm (name 'g')(memory 512)(maxmem 512)(vcpus 1)(image (hvm))\n(device (vif ${vif})))\n`;
  refused(t, () => domainFromNative(vm("(mac 'zz')(bridge 'xenbr0')"), 'xen-sxpr'), inv('line 2: vif[0].mac', 'zz'), /MAC address/);
  refused(t, () => domainFromNative(vm("(bridge 'xenbr0')(rate '10MB/s')"), 'xen-sxpr'), { code: 'NOT_SUPPORTED', field: 'line 2: vif[0].rate', value: '10MB/s' }, /unknown vif key "rate"/);
  refused(t, () => domainFromNative(vm("(bridge 'xenbr0' 'xenbr1')"), 'xen-sxpr'), inv('line 2: vif[0].bridge', '(bridge xenbr0 xenbr1)'), /takes exactly one value/);
  refused(t, () => domainFromNative(vm('(bridge)'), 'xen-sxpr'), inv('line 2: vif[0].bridge', '(bridge)'), /takes exactly one value/);
  refused(t, () => domainFromNative(vm("bridge 'xenbr0'"), 'xen-sxpr'), inv('line 2: vif[0]', 'bridge'), /\(key value\) items in \(vif/);
  refused(t, () => domainFromNative(vm("(bridge 'xenbr0')(type 'vif')"), 'xen-sxpr'), inv('line 2: vif[0].type', 'vif'), /expected ioemu or netfront/);
  refused(t, () => domainFromNative("(vm (name 'g')(device (vbd (uname 'file:/x')))\n(device (vif (bridge 'b')))\n(device (vif (bridge 'c')(mac '1'))))", 'xen-sxpr'), inv('line 3: vif[1].mac', '1'), /^line 3: vif\[1\]\.mac: .*MAC address/); // vifs count from 0, other devices aside
  refused(t, () => domainFromNative("(vm (name 'g')\n(memory 512)(maxmem 256))", 'xen-sxpr'), inv('line 2: memory', 512), /exceeds maxmem/);
  refused(t, () => domainFromNative("(vm (name 'g')(memory many))", 'xen-sxpr'), inv('line 1: memory', 'many'), /positive integer \(MiB\)/);
  refused(t, () => domainFromNative("(vm (name 'g')(name 'h'))", 'xen-sxpr'), inv('line 1: name', '(name h)'), /given twice/);
  refused(t, () => domainFromNative("(vm (memory 5))", 'xen-sxpr'), inv('name', ''), /needs \(name 'GUEST'\)/);
  refused(t, () => domainFromNative("(vm (name 'g')(uuid 'xyz'))", 'xen-sxpr'), inv('line 1: uuid', 'xyz'), /UUID/);
  refused(t, () => domainFromNative("(vm (name 'g')(image (netbsd)))", 'xen-sxpr'), { code: 'NOT_SUPPORTED', field: 'line 1: image', value: '(image (netbsd))' }, /\(image \(hvm/);
  refused(t, () => domainFromNative("(vm (name 'g') stray)", 'xen-sxpr'), inv('line 1', 'stray'), /\(key value\) items in \(vm/);
  refused(t, () => domainFromNative("(vm (name 'g')(device))", 'xen-sxpr'), inv('line 1: device', '(device)'), /\(device \(KIND/);
  refused(t, () => domainFromNative("(config (name 'g'))", 'xen-sxpr'), inv('line 1', '(config (name g))'), /\(vm \.\.\.\) or \(domain \.\.\.\)/);
  // syntax
  refused(t, () => domainFromNative("(vm (name 'g')\n(device (vif (bridge 'b'))", 'xen-sxpr'), inv('line 2', "(device (vif (bridge 'b'))"), /'\(' opened here is never closed/);
  refused(t, () => domainFromNative("(vm (name 'g'))\n)", 'xen-sxpr'), inv('line 2', ')'), /text after the end/);
  refused(t, () => domainFromNative(")", 'xen-sxpr'), inv('line 1', ')'), /unexpected '\)'/);
  refused(t, () => domainFromNative("(vm\n(name 'g))", 'xen-sxpr'), inv('line 2', "'g))"), /unterminated quoted atom/);
  refused(t, () => domainFromNative('  \n', 'xen-sxpr'), inv('line 2', ''), /expected an s-expression/);
  refused(t, () => domainFromNative("(vm (name 'g')(device (vif (ip '10.0.0.1\n10.0.0.2')(mac 'zz'))))", 'xen-sxpr'), inv('line 2: vif[0].mac', 'zz'), /MAC/); // a quoted atom spans lines
  refused(t, () => domainFromNative(`(vm (name 'g')(memory 1))\n(bootloader '${'/x'.repeat(40)}')`, 'xen-sxpr'), inv('line 2', `(bootloader '${'/x'.repeat(22)}...`), /text after the end/);
  t.strictSame(parseSexpr("(a 'b c' 'it\\'s' d\\e\n ('\\\\'))"), {
    kind: 'list', line: 1, items: [
      { kind: 'atom', value: 'a', line: 1 }, { kind: 'atom', value: 'b c', line: 1 }, { kind: 'atom', value: "it's", line: 1 }, { kind: 'atom', value: 'd\\e', line: 1 },
      { kind: 'list', line: 2, items: [{ kind: 'atom', value: '\\', line: 2 }] },
    ],
  }, 'quoted atoms hold blanks and escapes; a bare backslash is kept');
});

t.test('configs as people write them', async (t) => {
  const xm = `#  -*- mode: python; -*-
# Xen HVM guest, hand-edited
kernel = "/usr/lib/xen/boot/hvmloader"
builder = 'hvm'
memory = 512   # MiB
maxmem = 1024
name = "web01"
uuid = "C7A5FDB2CDAF9455926AD65C16DB1809"
vcpus = 2
disk = [ 'phy:/dev/vg0/web01,hda,w',
         'file:/srv/iso/debian.iso,hdc:cdrom,r', ]
vif = [
    # public side, emulated
    'mac=00:16:3e:00:00:01, bridge=xenbr0, model=e1000, type=ioemu',
    # private side, PV only
    'mac=00:16:3E:00:00:02,bridge=xenbr1,type=netfront,vifname=web01-priv',
    "ip=10.1.0.5,script=vif-route",  # routed
]
on_reboot = 'restart'; on_crash = 'destroy'
vnc = 1
`;
  const web01 = `<domain type='xen'>
  <name>web01</name>
  <uuid>c7a5fdb2-cdaf-9455-926a-d65c16db1809</uuid>
  <memory unit='KiB'>1048576</memory>
  <currentMemory unit='KiB'>524288</currentMemory>
  <vcpu>2</vcpu>
  <os>
    <type>hvm</type>
  </os>
  <devices>
    <interface type='bridge'>
      <mac address='00:16:3e:00:00:01'/>
      <source bridge='xenbr0'/>
      <model type='e1000'/>
    </interface>
    <interface type='bridge'>
      <mac address='00:16:3e:00:00:02'/>
      <source bridge='xenbr1'/>
      <target dev='web01-priv'/>
      <model type='netfront'/>
    </interface>
    <interface type='ethernet'>
      <ip address='10.1.0.5' family='ipv4'/>
      <script path='vif-route'/>
    </interface>
  </devices>
</domain>
`;
  t.equal(domainFromNative(xm, 'xen-xm'), web01, 'comments, single quotes, a multi-line list with comments and a trailing comma, unknown keys skipped');
  t.equal(domainToNative(web01, 'xen-xm'), `name = "web01"
uuid = "c7a5fdb2-cdaf-9455-926a-d65c16db1809"
maxmem = 1024
memory = 512
vcpus = 2
builder = "hvm"
vif = [ "mac=00:16:3e:00:00:01,bridge=xenbr0,script=vif-bridge,model=e1000,type=ioemu", "mac=00:16:3e:00:00:02,bridge=xenbr1,script=vif-bridge,type=netfront,vifname=web01-priv", "script=vif-route,ip=10.1.0.5" ]
`, 'and back, in libvirt\'s order (a bridge gets vif-bridge)');

  const xl = `name = "pv1"
type = "pv"
builder = "hvm"   # ignored: xl's type wins
memory = 256
vif = [ 'bridge=xenbr0,model=rtl8139,type=ioemu', 'bridge=xenbr0,type=vif' ]
`;
  const pv1 = domainFromNative(xl, 'xen-xl');
  t.match(pv1, /<type>xen<\/type>/, 'xl: type = "pv"');
  t.match(pv1, /<model type='rtl8139'\/>[\s\S]*<model type='netfront'\/>/, 'xl: type=vif is netfront; a PV model is kept');
  t.equal(domainToNative(pv1, 'xen-xl'), 'name = "pv1"\nmaxmem = 256\nmemory = 256\nvcpus = 1\nvif = [ "bridge=xenbr0,script=vif-bridge,model=rtl8139", "bridge=xenbr0,script=vif-bridge,model=netfront" ]\n', 'PV: models as is, no type');
  t.match(domainFromNative('name = "h"\ntype = "hvm"\n', 'xen-xl'), /<type>hvm<\/type>/);
  t.match(domainFromNative('name = "h"\ntype = "hvm"\n', 'xen-xm'), /<type>xen<\/type>/, 'xm has no type key: skipped, as xm does');
  t.equal(domainFromNative('name = "x"\n', 'xen-xm'), "<domain type='xen'>\n  <name>x</name>\n  <memory unit='KiB'>131072</memory>\n  <currentMemory unit='KiB'>131072</currentMemory>\n  <vcpu>1</vcpu>\n  <os>\n    <type>xen</type>\n  </os>\n</domain>\n", "libvirt's defaults: 128 MiB, one vCPU, PV");

  // xend's own output (sexpr2xml-fv-net-netfront.sexpr in libvirt's tests), wrapped with backslashes as there
  const xend = `(domain (domid 3)(name 'fvtest')(memory 400)(maxmem 400)(vcpus 1)\\
(uuid 'b5d70dd275cdaca517769660b059d8bc')(on_poweroff 'destroy')\\
(on_reboot 'restart')(on_crash 'restart')\\
(image (hvm (kernel '/usr/lib/xen/boot/hvmloader')\\
(device_model '/usr/lib64/xen/bin/qemu-dm')(boot c)(cdrom '/root/boot.iso')\\
(acpi 1)(vnc 1)(keymap ja)))(device (vbd (dev 'ioemu:hda')\\
(uname 'file:/root/foo.img')(mode 'w')))\\
(device (vif (mac '00:16:3e:1b:b1:47')(bridge 'xenbr0')\\
(script 'vif-bridge')(type 'netfront'))))
`;
  t.equal(domainFromNative(xend, 'xen-sxpr'), `<domain type='xen'>
  <name>fvtest</name>
  <uuid>b5d70dd2-75cd-aca5-1776-9660b059d8bc</uuid>
  <memory unit='KiB'>409600</memory>
  <currentMemory unit='KiB'>409600</currentMemory>
  <vcpu>1</vcpu>
  <os>
    <type>hvm</type>
  </os>
  <devices>
    <interface type='bridge'>
      <mac address='00:16:3e:1b:b1:47'/>
      <source bridge='xenbr0'/>
      <script path='vif-bridge'/>
      <model type='netfront'/>
    </interface>
  </devices>
</domain>
`, "(domain ...) as xend reports it: a quoted (type 'netfront'), a dashless uuid, a disk skipped");
  t.equal(domainToNative(domainFromNative(xend, 'xen-sxpr'), 'xen-sxpr', { xendConfigVersion: 1 }),
    "(vm (name 'fvtest')(memory 400)(maxmem 400)(vcpus 1)(uuid 'b5d70dd2-75cd-aca5-1776-9660b059d8bc')(image (hvm))(device (vif (mac '00:16:3e:1b:b1:47')(bridge 'xenbr0')(script 'vif-bridge')(type netfront))))\n",
    'and back as libvirt writes it for xend');
  const two = domainFromNative("(vm (name 'two')(image (linux (kernel '/boot/vmlinuz')))\n  (device (vif (bridge 'xenbr0')(model 'e1000')))\n  (device (vif (script 'vif-nat')(ip '10.0.0.9')(vifname 'nat0'))))", 'xen-sxpr');
  t.match(two, /<type>xen<\/type>[\s\S]*<source bridge='xenbr0'\/>[\s\S]*<model type='e1000'\/>[\s\S]*<interface type='ethernet'>\n {6}<ip address='10.0.0.9' family='ipv4'\/>\n {6}<script path='vif-nat'\/>\n {6}<target dev='nat0'\/>/, 'two vifs, PV, an ethernet one');
});
