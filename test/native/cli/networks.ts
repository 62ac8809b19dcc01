// The net-* verbs through main(), on temporary directories and a fake sysfs.
// Not unit: the global options set env variables in this process.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { cli } from '../../helpers/cli';

t.test('net-* verbs: define, list, start, dumpxml, autostart, destroy, undefine; refusals name the field', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-cli-net-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const g = ['--config-dir', path.join(dir, 'etc'), '--state-dir', path.join(dir, 'run'), '--sysfs-root', path.join(dir, 'sys')];
  const { pfN } = await import('../../../scripts/sriov-fixture');
  const pf = pfN(path.join(dir, 'sys'), 3, 'eth0');
  const file = path.join(dir, 'vfs.xml');
  fs.writeFileSync(file, "<network>\n  <name>vfs</name>\n  <forward mode='passthrough'>\n    <pf dev='eth0'/>\n  </forward>\n</network>\n");
  t.match(await cli(...g, 'net-define', file), { code: 0, out: /^Network vfs defined from .*vfs\.xml \(uuid [0-9a-f-]{36}\)\n$/ });
  t.match(await cli(...g, 'net-define', file), { code: 0, out: /^Network vfs redefined/ });
  t.match(await cli(...g, 'net-list'), { code: 0, out: /^ Name +State +Autostart +Persistent +Connections\n-+\n$/ });
  t.match(await cli(...g, 'net-list', '--all'), { code: 0, out: /\n vfs +inactive +no +yes +-\n$/ });
  t.match(await cli(...g, 'net-start', 'vfs'), { code: 0, out: 'Network vfs started: 3 device(s) in its pool\n' });
  t.match(await cli(...g, 'net-autostart', 'vfs'), { code: 0, out: 'Network vfs marked as autostarted\n' });
  const listed = JSON.parse((await cli(...g, 'net-list', '--json')).out);
  t.match(listed, [{ name: 'vfs', active: true, autostart: true, persistent: true, connections: 0 }]);
  const live = (await cli(...g, 'net-dumpxml', 'vfs')).out;
  t.equal((live.match(/<interface dev="[^"]+" connections="0"\/>/g) ?? []).length, 3, 'live: the expanded pool with counts');
  t.match(live, pf.devices[2]);
  const inactive = (await cli(...g, 'net-dumpxml', 'vfs', '--inactive')).out;
  t.notMatch(inactive, '<interface', '--inactive: the <pf> alone');

  // domxml-to-native names the device the network would give, and records nothing.
  const dom = path.join(dir, 'g.xml');
  fs.writeFileSync(
    dom,
    "<domain type='qemu'><name>g</name><memory unit='MiB'>64</memory><devices><interface type='network'><source network='vfs'/><model type='virtio'/></interface></devices></domain>",
  );
  t.match(await cli(...g, '--vhost-device', '/nonexistent/vhost', 'domxml-to-native', 'qemu-argv', dom), {
    code: 0,
    out: new RegExp(`macvtap macvtap%d on ${pf.devices[0]} mode passthru \\(network 'vfs' would give ${pf.devices[0]} now\\)`),
  });
  t.match(JSON.parse((await cli(...g, 'net-list', '--json')).out), [{ connections: 0 }], 'a preview allocates nothing');

  t.match(await cli(...g, 'net-start', 'vfs'), { code: 1, err: /^netfd net-start: EEXIST: network 'vfs' is already active\n$/ });
  t.match(await cli(...g, 'net-undefine', 'vfs'), { code: 0, out: 'Network vfs has been undefined (it stays active until net-destroy)\n' });
  t.notOk(fs.existsSync(path.join(dir, 'etc', 'autostart', 'vfs.xml')), 'undefine removes the autostart link');
  t.match(await cli(...g, 'net-destroy', 'vfs'), { code: 0, out: 'Network vfs destroyed\n' });
  t.match(await cli(...g, 'net-list', '--all'), { code: 0, out: /-\n$/ });

  t.match(await cli(...g, 'net-start', 'vfs'), { code: 1, err: /ENOENT: no network named 'vfs'/ });
  t.match(await cli(...g, 'net-start'), { code: 2, err: /usage: net-start NAME/ });
  t.match(await cli(...g, 'net-dumpxml', 'a/b'), { code: 1, err: /INVALID_ARGUMENT: invalid network name "a\/b"/ });
  fs.writeFileSync(file, "<network><name>bad</name><forward mode='nat'/></network>");
  t.match(await cli(...g, 'net-define', file), {
    code: 1,
    err: /^netfd net-define: NOT_SUPPORTED: \/network\/forward\/@mode: netfd does not run <forward mode='nat'>, .*; netfd runs forward modes passthrough, private, vepa, bridge/,
  });
  fs.writeFileSync(file, "<network><name>none</name><forward mode='vepa'><pf dev='eth9'/></forward></network>");
  t.match(await cli(...g, 'net-define', file), { code: 0 });
  t.match(await cli(...g, 'net-start', 'none'), { code: 1, err: /ENODEV: no network device eth9/ });
  t.match(await cli(...g, '--config-dir', 'relative', 'net-list'), { code: 1, err: /invalid configDir "relative"/ });
});
