// The parts of lib/netdev that need no privileges: template retries, the
// state directory, the atomic live-XML writes, previews (the domain lock:
// test/native/state/lock.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { NetfdError } from '../../lib/errors';
import { previewDomain, withNameRetry } from '../../lib/netdev/domain';
import { DomainXml } from '../../lib/xml/domain';
import { agentScope, DEFAULT_STATE_DIR, inactiveXmlPath, liveXmlPath, objectFile, objectOf, stateDir } from '../../lib/state/dirs';
import { replaceFileAtomic, writeNewFileAtomic } from '../../lib/state/atomic';

const eexist = () => new NetfdError('File exists', { code: 'EEXIST', errno: -17 });

t.test('a template name that met EEXIST is tried again; exact names are not', async (t) => {
  let calls = 0;
  t.equal(await withNameRetry('vnet%d', async () => (++calls < 3 ? Promise.reject(eexist()) : 'vnet7')), 'vnet7');
  t.equal(calls, 3, 'two lost races, then a name');
  calls = 0;
  await t.rejects(withNameRetry('mine0', async () => (calls++, Promise.reject(eexist()))), { code: 'EEXIST' });
  t.equal(calls, 1, 'an exact name is not retried');
  calls = 0;
  await t.rejects(withNameRetry('vnet%d', async () => (calls++, Promise.reject(new NetfdError('x', { code: 'ENODEV' })))), { code: 'ENODEV' });
  t.equal(calls, 1, 'other errors are not retried');
  calls = 0;
  await t.rejects(withNameRetry('vnet%d', async () => (calls++, Promise.reject(eexist()))), { code: 'EEXIST' });
  t.equal(calls, 8, 'gives up after 8 attempts');
});

t.test('state directory: option, then NETFD_STATE_DIR, then /run/netfd/qemu', async (t) => {
  t.equal(stateDir(undefined, {}), DEFAULT_STATE_DIR);
  t.equal(DEFAULT_STATE_DIR, '/run/netfd/qemu');
  t.equal(stateDir(undefined, { NETFD_STATE_DIR: '/tmp/s' }), '/tmp/s');
  t.equal(stateDir('/x', { NETFD_STATE_DIR: '/tmp/s' }), '/x');
  t.throws(() => stateDir('rel/dir', {}), { code: 'INVALID_ARGUMENT', field: 'stateDir', value: 'rel/dir' });
  t.throws(() => stateDir(undefined, { NETFD_STATE_DIR: 'rel' }), { code: 'INVALID_ARGUMENT', field: 'NETFD_STATE_DIR' });
  t.equal(liveXmlPath('/run/netfd/qemu', 'vm1'), '/run/netfd/qemu/vm1.xml');
});

t.test('live XML is written atomically and only once', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-state-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'sub', 'vm1.xml');
  writeNewFileAtomic(file, '<domain/>\n');
  t.equal(fs.readFileSync(file, 'utf8'), '<domain/>\n', 'written, directory created');
  t.throws(() => writeNewFileAtomic(file, '<other/>\n'), { code: 'EEXIST' }, 'a second writer loses');
  t.equal(fs.readFileSync(file, 'utf8'), '<domain/>\n', 'the first content stays');
  t.same(fs.readdirSync(path.dirname(file)), ['vm1.xml'], 'no temporary file left behind');
});

t.test('replaceFileAtomic replaces; writeNewFileAtomic refuses', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-repl-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'x.xml');
  writeNewFileAtomic(f, 'one');
  t.throws(() => writeNewFileAtomic(f, 'two'), { code: 'EEXIST' });
  replaceFileAtomic(f, 'three');
  t.equal(fs.readFileSync(f, 'utf8'), 'three');
  t.same(fs.readdirSync(dir), ['x.xml'], 'no temporary file left');
});

t.test('state files: no domain name maps onto another object file, whatever the name', async (t) => {
  const dir = '/run/netfd/qemu';
  const names = ['vm1', 'vm1.inactive', 'vm1.xml', 'vm1.lock', '.vm1', '..vm1', 'networks', 'agent', 'vm1.json', 'a.b.c', 'vm1.qmp', 'x.123'];
  const exts = ['xml', 'inactive', 'lock', 'qmp', 'pid', 'log', 'json'];
  const seen = new Map<string, string>();
  for (const n of names)
    for (const e of exts) {
      const f = objectFile(dir, n, e);
      t.notOk(seen.has(f), `${n}.${e} is nobody else's (${seen.get(f) ?? ''})`);
      seen.set(f, `${n} ${e}`);
      t.equal(objectOf(path.basename(f), e), n, `${path.basename(f)} splits back into ${n} and ${e}`);
    }
  t.equal(inactiveXmlPath(dir, 'vm1'), '/run/netfd/qemu/vm1.inactive', 'the inactive copy ends in no .xml');
  t.not(inactiveXmlPath(dir, 'vm1'), liveXmlPath(dir, 'vm1.inactive'), "the reported attack: vm1.inactive's live XML is not vm1's inactive copy");
  t.throws(() => objectFile(dir, 'vm1', 'inactive.xml'), /bad state file extension/, 'an extension with a dot is refused');
  t.equal(agentScope(dir, 1000), '/run/netfd/qemu/agent/1000');
});

t.test('previewDomain({ netOnly: true }): the interfaces\' arguments, whatever else the domain holds', async (t) => {
  const xml = `<domain type='kvm'><name>vm</name><devices>
    <disk type='network'><source protocol='rbd' name='p/i'><host name='mon1'/></source><target dev='vda'/></disk>
    <serial type='udp'/><graphics type='spice'/>
    <interface type='ethernet'><mac address='52:54:00:00:00:31'/><model type='virtio'/></interface>
  </devices></domain>`;
  const o = { vhostDevice: '/nonexistent/vhost-net' };
  await t.rejects(previewDomain(xml, o), { code: 'INVALID_ARGUMENT', field: '/domain' }, 'the whole domain is refused (no <memory>)');
  const p = await previewDomain(xml, { ...o, netOnly: true });
  t.strictSame(p.argv, ['-netdev', 'tap,id=hostnet0,fd=3,vhost=off', '-device', 'virtio-net-pci,netdev=hostnet0,id=net0,mac=52:54:00:00:00:31']);
  t.equal(p.xml.def.netOnly, true);
  // A fully parsed domain can be previewed net-only too; a netOnly one is net-only anyway.
  const full = DomainXml.parse("<domain type='qemu'><name>f</name><memory>1024</memory><devices><disk type='block'><source dev='/dev/vg/f'/><target dev='vda'/></disk><interface type='ethernet'><mac address='52:54:00:00:00:32'/></interface></devices></domain>");
  t.strictSame((await previewDomain(full, { ...o, netOnly: true })).argv, ['-netdev', 'tap,id=hostnet0,fd=3,vhost=off', '-device', 'rtl8139,netdev=hostnet0,id=net0,mac=52:54:00:00:00:32']);
  t.match((await previewDomain(full, o)).argv, ['qemu-system-x86_64'], 'without the option: the whole command line');
  t.strictSame((await previewDomain(DomainXml.parse(xml, { netOnly: true }), o)).argv, p.argv);
});
