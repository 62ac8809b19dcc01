// An attacker's client: prepares a domain through the agent, then uses
// nothing but the fds it got to try to make the devices outlive their
// release: SIOCSIFHWADDR (a new MAC), TUNSETPERSIST, TUNSETOWNER and
// TUNSETGROUP on taps. The ioctls run in python3 (fcntl.ioctl) on the fd
// passed as its fd 3. Prints one JSON line per step, then "HOLDING" and
// waits to be killed. Usage:
//   node agent-fd-abuse.js SOCKET DOMAIN_XML MAC_TAP MAC_MACVTAP
'use strict';
const { spawnSync } = require('node:child_process');
const { AgentClient } = require('../../dist/agent/client');

const PY = `
import fcntl, os, struct, sys
fd, kind, mac = 3, sys.argv[1], bytes.fromhex(sys.argv[2].replace(':', ''))
done = []
def ioctl(name, req, arg):
    try:
        fcntl.ioctl(fd, req, arg)
        done.append(name)
    except OSError as e:
        done.append(name + ':' + str(e.errno))
# struct ifreq: 16 bytes of name, then struct sockaddr (family, 14 bytes of data), padded to 40.
ioctl('SIOCSIFHWADDR', 0x8924, struct.pack('16sH14s8x', b'', 1, mac + bytes(8)))
if kind == 'tap':
    ioctl('TUNSETPERSIST', 0x400454cb, 1)
    ioctl('TUNSETOWNER', 0x400454cc, os.getuid())
    ioctl('TUNSETGROUP', 0x400454ce, os.getgid())
print(' '.join(done))
`;

(async () => {
  const [socket, xml, macTap, macMvt] = process.argv.slice(2);
  const c = await AgentClient.connect(socket);
  const r = await c.request('prepare', { xml });
  process.stdout.write(`${JSON.stringify({ ok: true, result: r.result, fds: r.fds.length })}\n`);
  let k = 0;
  for (const i of r.result.interfaces) {
    const fd = r.fds[k];
    k += i.tapFds + i.vhostFds;
    const kind = i.dev.startsWith('macvtap') ? 'macvtap' : 'tap';
    const p = spawnSync('python3', ['-c', PY, kind, kind === 'tap' ? macTap : macMvt], { stdio: ['ignore', 'pipe', 'pipe', fd], encoding: 'utf8' });
    process.stdout.write(`${JSON.stringify({ dev: i.dev, kind, ioctls: p.stdout.trim(), err: p.stderr.trim() })}\n`);
  }
  process.stdout.write('HOLDING\n');
  setInterval(() => undefined, 1 << 30);
})().catch((e) => {
  process.stderr.write(`agent-fd-abuse: ${e.stack || e}\n`);
  process.exit(3);
});
