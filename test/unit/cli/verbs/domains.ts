// list: one table here and through the agent, virsh list's columns (qemu's
// pid for Id) and each domain's devices.
import t from 'tap';
import { formatList } from '../../../../lib/cli/verbs/domains';

t.test('list rows: Pid, Name, State, Devices; no trailing blanks', async (t) => {
  t.equal(formatList([]), ' Pid      Name                 State            Devices\n' + '-'.repeat(64) + '\n', 'no domains: the header');
  t.equal(
    formatList([
      {
        pid: 4242,
        name: 'vm1',
        state: 'running',
        interfaces: [
          { dev: 'vnet0', type: 'bridge', source: {} },
          { dev: 'macvtap3', type: 'direct', source: {} },
        ],
      },
      { pid: null, name: 'vm2', state: 'prepared', interfaces: [] },
      { pid: null, name: 'vm3', state: 'held elsewhere', interfaces: [{ type: 'ethernet', source: {} }] },
    ]),
    [
      ' Pid      Name                 State            Devices',
      '-'.repeat(64),
      ' 4242     vm1                  running          vnet0 macvtap3',
      ' -        vm2                  prepared',
      ' -        vm3                  held elsewhere   -',
      '',
    ].join('\n'),
  );
});
