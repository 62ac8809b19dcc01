// The probe's checks that change the host, on this host: macvtap, macvlan
// and bridge made in a scratch namespace, and qemu given a tap fd. Nothing
// may be left behind: no namespace, no link in the root namespace, no fd.
import fs from 'node:fs';
import t from 'tap';
import { probeHost } from '../../lib/host/probe';
import { ipLinks, needsRoot, openFds } from '../helpers/host';

const QEMU = '/usr/bin/qemu-system-x86_64';

t.test('macvtap, macvlan and bridge are proven in a scratch namespace; qemu takes a tap fd', { skip: needsRoot }, async (t) => {
  const fds = openFds();
  const links = ipLinks()
    .map((l) => l.ifname)
    .sort();
  // Other test files run in parallel with namespaces of their own: look for the probe's only.
  const probeNs = () => (fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns').filter((n) => n.startsWith('netfd-probe-')) : []);
  const r = await probeHost({ only: ['macvtap', 'macvlan', 'bridge', 'qemu'], qemu: fs.existsSync(QEMU) ? [QEMU] : [] });
  t.match(r.checks, [
    { id: 'macvtap', level: 'PASS', summary: /created a macvtap .* opened its character device \(1 fd\), deleted it/ },
    { id: 'macvlan', level: 'PASS' },
    { id: 'bridge', level: 'PASS', summary: /attached a veth/ },
    { id: 'qemu', level: 'PASS', details: { binary: QEMU, version: /^\d+\.\d+/, tapFd: true } },
  ]);
  t.equal(r.ok, true);
  t.strictSame(probeNs(), [], 'the scratch namespace is gone');
  t.strictSame(
    ipLinks()
      .map((l) => l.ifname)
      .sort(),
    links,
    'root namespace links unchanged',
  );
  t.strictSame(openFds(), fds, 'no fd left open');

  const missing = await probeHost({ only: ['qemu'], qemu: ['/nonexistent/qemu-system-x86_64'] });
  t.match(missing.checks, [{ id: 'qemu', level: 'FAIL', summary: /does not run/ }]);
  t.equal(missing.ok, false);
});
