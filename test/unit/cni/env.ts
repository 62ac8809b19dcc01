// The CNI_* environment per command. Pure.
import t from 'tap';
import { checkArgs, CNI_COMMANDS, NEEDS, parseEnv } from '../../../lib/cni/env';
import { CniError } from '../../../lib/cni/errors';

const full = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'c0ffee-1.x_y',
  CNI_NETNS: '/var/run/netns/pod1',
  CNI_IFNAME: 'net1',
  CNI_ARGS: 'K8S_POD_NAME=web;IgnoreUnknown=1',
  CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
};

function refusal(env: Record<string, string | undefined>): CniError {
  try {
    parseEnv(env);
  } catch (e) {
    return e as CniError;
  }
  throw new Error('accepted');
}

t.test('ADD with everything', async (t) => {
  t.same(parseEnv(full), {
    command: 'ADD',
    containerId: 'c0ffee-1.x_y',
    netns: '/var/run/netns/pod1',
    ifname: 'net1',
    args: [
      ['K8S_POD_NAME', 'web'],
      ['IgnoreUnknown', '1'],
    ],
    path: ['/opt/cni/bin', '/usr/lib/cni'],
  });
  t.same(parseEnv({ ...full, CNI_NETNS: '/proc/1234/ns/net', CNI_ARGS: undefined }).args, [], 'CNI_ARGS is optional');
  t.same(parseEnv({ ...full, CNI_ARGS: 'A=b=c' }).args, [['A', 'b=c']], 'the value runs to the next ;');
});

t.test('the command', async (t) => {
  for (const bad of [undefined, '', 'add', 'REMOVE']) {
    const e = refusal({ ...full, CNI_COMMAND: bad });
    t.equal(e.cniCode, 4);
    t.match(e.message, /CNI_COMMAND/);
  }
});

t.test('each command needs what the spec says, and names every variable that is wrong', async (t) => {
  t.same(Object.keys(NEEDS).sort(), [...CNI_COMMANDS].sort());
  for (const cmd of ['ADD', 'CHECK'])
    for (const v of ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH']) {
      const e = refusal({ ...full, CNI_COMMAND: cmd, [v]: undefined });
      t.equal(e.cniCode, 4, `${cmd} without ${v}`);
      t.match(e.message, new RegExp(`${v} is not set \\(${cmd} needs it\\)`));
    }
  const del = parseEnv({ ...full, CNI_COMMAND: 'DEL', CNI_NETNS: undefined });
  t.equal(del.netns, undefined, 'DEL without CNI_NETNS');
  t.equal(refusal({ ...full, CNI_COMMAND: 'DEL', CNI_IFNAME: '' }).cniCode, 4, 'DEL needs CNI_IFNAME');
  t.same(parseEnv({ CNI_COMMAND: 'VERSION' }), { command: 'VERSION', args: [], path: [] }, 'VERSION needs nothing');
  t.same(parseEnv({ CNI_COMMAND: 'VERSION', CNI_IFNAME: '../../x' }), { command: 'VERSION', args: [], path: [] }, 'and reads nothing');
  t.same(parseEnv({ CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin' }), { command: 'GC', args: [], path: ['/opt/cni/bin'] });
  t.same(parseEnv({ CNI_COMMAND: 'STATUS' }), { command: 'STATUS', args: [], path: [] });
  const e = refusal({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: '-x', CNI_NETNS: 'pod1', CNI_IFNAME: 'a/b', CNI_ARGS: 'novalue', CNI_PATH: '/opt/cni/bin' });
  t.equal(e.cniCode, 4);
  for (const v of ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS']) t.match(e.message, v, `names ${v}`);
  t.notMatch(e.message, 'CNI_PATH');
});

t.test('malformed values', async (t) => {
  const cases: [string, string][] = [
    ['CNI_CONTAINERID', '_starts-with-underscore'],
    ['CNI_CONTAINERID', 'has space'],
    ['CNI_NETNS', 'relative/path'],
    ['CNI_IFNAME', 'sixteen-bytes-xx'],
    ['CNI_IFNAME', '..'],
    ['CNI_IFNAME', 'eth:0'],
    ['CNI_ARGS', 'A=1;;B=2'],
    ['CNI_ARGS', '=1'],
  ];
  for (const [k, v] of cases) {
    const e = refusal({ ...full, [k]: v });
    t.equal(e.cniCode, 4, `${k}=${v}`);
    t.match(e.message, k);
  }
});

t.test('CNI_ARGS keys are refused (2) unless IgnoreUnknown is set', async (t) => {
  t.doesNotThrow(() => checkArgs([]));
  t.doesNotThrow(() => checkArgs([['IgnoreUnknown', '1']]));
  for (const yes of ['1', 'true', 'True'])
    t.doesNotThrow(() =>
      checkArgs([
        ['K8S_POD_NAME', 'web'],
        ['IgnoreUnknown', yes],
      ]),
    );
  for (const args of [
    [['K8S_POD_NAME', 'web']],
    [
      ['IgnoreUnknown', '0'],
      ['FOO', 'bar'],
    ],
  ] as [string, string][][]) {
    try {
      checkArgs(args);
      t.fail('accepted');
    } catch (e) {
      t.equal((e as CniError).cniCode, 2);
      t.match((e as Error).message, /unsupported field CNI_ARGS (K8S_POD_NAME="web"|FOO="bar")/);
    }
  }
});
