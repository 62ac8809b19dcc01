// attach-interface, detach-interface, destroy, launch --detach: usage and
// refusals before any host change. Not unit: --state-dir sets
// NETFD_STATE_DIR in this process, as the CLI does for its children.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { cli } from '../../helpers/cli';

t.test('hotplug and destroy verbs: usage and refusals before any host change', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-cli-hp-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const nic = path.join(dir, 'nic.xml');
  fs.writeFileSync(nic, "<interface type='ethernet'/>");
  const sd = ['--state-dir', dir];
  t.match(await cli(...sd, 'attach-interface', 'g'), { code: 2, err: /usage: attach-interface NAME IFACE.xml/ });
  t.match(await cli(...sd, 'detach-interface', 'g'), { code: 2, err: /needs --mac MAC/ });
  t.match(await cli(...sd, 'attach-interface', 'g', nic), { code: 1, err: /ENOENT: domain g is not running: no live state/ });
  t.match(await cli(...sd, 'detach-interface', 'g', '--mac', '52:54:00:00:00:01'), { code: 1, err: /ENOENT: domain g is not running/ });
  t.match(await cli(...sd, 'detach-interface', 'g', '--mac', 'xx'), { code: 1, err: /INVALID_ARGUMENT: invalid mac "xx"/ });
  t.match(await cli(...sd, 'attach-interface', '../g', nic), { code: 1, err: /invalid name "..\/g"/ });
  t.match(await cli(...sd, 'attach-interface', 'g', nic, '--timeout', '0'), { code: 1, err: /invalid timeout "0"/ });
  t.match(await cli(...sd, 'destroy', 'g'), { code: 1, err: /ENOENT: no domain named g/ });
  t.match(await cli(...sd, 'destroy'), { code: 2, err: /usage: destroy NAME/ });
  fs.writeFileSync(path.join(dir, 'g.xml'), "<domain type='qemu'><name>g</name><memory>1024</memory></domain>");
  t.match(await cli(...sd, 'attach-interface', 'g', nic), { code: 1, err: /ENOENT: domain g is not running: it is prepared but no qemu runs it/ });
  t.match(await cli(...sd, 'launch', path.join(dir, 'missing.xml'), '--detach'), { code: 1, err: /cannot read .*missing.xml/ });
  t.same(fs.readdirSync(dir).sort(), ['g.xml', 'nic.xml'], 'nothing written to the state dir');
});
