// The local backend's list, from a state directory alone (no host change).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { LocalBackend } from '../../../lib/api/local';

t.test('list: running, prepared or stale from the pid file; devices from the live XML', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-api-local-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const live = (name: string, ifaces: string) => fs.writeFileSync(path.join(dir, `${name}.xml`), `<domain type='qemu'><name>${name}</name><memory>1024</memory><devices>${ifaces}</devices></domain>`);
  live('a', "<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/><target dev='vnet4'/></interface>");
  live('b', '');
  live('c', '');
  fs.writeFileSync(path.join(dir, 'a.pid'), JSON.stringify({ pid: process.pid, supervisor: process.pid, qmp: path.join(dir, 'a.qmp'), netns: null }));
  fs.writeFileSync(path.join(dir, 'c.pid'), JSON.stringify({ pid: 2 ** 30, supervisor: 1, qmp: path.join(dir, 'c.qmp'), netns: null }));
  t.strictSame(await new LocalBackend({ stateDir: dir }).list(), [
    { name: 'a', pid: process.pid, state: 'running', interfaces: [{ dev: 'vnet4', mac: '52:54:00:00:00:01', type: 'bridge', source: { bridge: 'br0' } }] },
    { name: 'b', pid: null, state: 'prepared', interfaces: [] },
    { name: 'c', pid: 2 ** 30, state: 'stale', interfaces: [] },
  ]);
  await t.rejects(new LocalBackend({ stateDir: dir }).dumpxml('nope', { inactive: false }), { code: 'ENOENT', message: `no domain named nope in ${dir}` });
});
