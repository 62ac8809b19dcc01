// State directory and the names of a domain's files (lib/state/dirs.ts).
import path from 'node:path';
import t from 'tap';
import { agentScope, DEFAULT_STATE_DIR, inactiveXmlPath, liveXmlPath, objectFile, objectOf, stateDir } from '../../../lib/state/dirs';

t.test('state directory: option, then NETFD_STATE_DIR, then /run/netfd/qemu', async (t) => {
  t.equal(stateDir(undefined, {}), DEFAULT_STATE_DIR);
  t.equal(DEFAULT_STATE_DIR, '/run/netfd/qemu');
  t.equal(stateDir(undefined, { NETFD_STATE_DIR: '/tmp/s' }), '/tmp/s');
  t.equal(stateDir('/x', { NETFD_STATE_DIR: '/tmp/s' }), '/x');
  t.throws(() => stateDir('rel/dir', {}), { code: 'INVALID_ARGUMENT', field: 'stateDir', value: 'rel/dir' });
  t.throws(() => stateDir(undefined, { NETFD_STATE_DIR: 'rel' }), { code: 'INVALID_ARGUMENT', field: 'NETFD_STATE_DIR' });
  t.equal(liveXmlPath('/run/netfd/qemu', 'vm1'), '/run/netfd/qemu/vm1.xml');
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
