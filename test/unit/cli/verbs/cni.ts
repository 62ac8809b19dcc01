// cni-claim's command line: the placeholders a launcher's argv uses for the fds it inherits.
import t from 'tap';
import { claimArgv } from '../../../../lib/cli/verbs/cni';

t.test('{netdev}, {tapfds}, {vhostfds} and {mac} as the command inherits the fds (queues from 3, then vhost)', async (t) => {
  const argv = ['qemu-system-x86_64', '-netdev', 'tap,id=n0,{netdev}', '-device', 'virtio-net-pci,netdev=n0,mac={mac}', 'echo {tapfds}/{tapfds}'];
  t.strictSame(claimArgv(argv, { tapFds: 2, vhostFds: 0, guestMac: '52:54:00:00:00:01' }), [
    'qemu-system-x86_64',
    '-netdev',
    'tap,id=n0,fds=3:4,vhost=off',
    '-device',
    'virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01',
    'echo 3:4/3:4',
  ]);
  t.equal(claimArgv(['{netdev}'], { tapFds: 1, vhostFds: 0 })[0], 'fd=3,vhost=off', 'one queue: fd=');
  t.equal(claimArgv(['{netdev}'], { tapFds: 1, vhostFds: 1 })[0], 'fd=3,vhostfd=4,vhost=on', 'one queue with vhost');
  t.equal(claimArgv(['{netdev}'], { tapFds: 2, vhostFds: 2 })[0], 'fds=3:4,vhostfds=5:6,vhost=on', 'two queues with vhost');
  t.equal(claimArgv(['{vhostfds}'], { tapFds: 2, vhostFds: 2 })[0], '5:6');
  t.strictSame(claimArgv(['{other}', 'x{'], { tapFds: 1, vhostFds: 0 }), ['{other}', 'x{'], 'anything else is left as written');
});

t.test('a placeholder with nothing to stand for is an error naming it, not an empty word', async (t) => {
  t.throws(() => claimArgv(['vhostfds={vhostfds}'], { tapFds: 1, vhostFds: 0 }), {
    code: 'INVALID_ARGUMENT',
    field: 'command',
    value: 'vhostfds={vhostfds}',
    message: /\{vhostfds\}.*no vhost-net fds/,
  });
  t.throws(() => claimArgv(['mac={mac}'], { tapFds: 1, vhostFds: 0, guestMac: null }), { code: 'INVALID_ARGUMENT', message: /\{mac\}.*no guest MAC/ });
});
