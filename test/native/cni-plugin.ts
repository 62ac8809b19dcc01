// The CNI plugin binary on its own: VERSION answered without the agent in
// each version, the CNI error object for a missing command, an agent that
// cannot be reached (11, 50 for STATUS), a configuration over the bound.
// Runs without root (no devices).
import t from 'tap';
import { versionResult, SUPPORTED_VERSIONS } from '../../lib/cni/version';
import { noPlugin, runPlugin } from '../helpers/cni';

const nowhere = '/nonexistent/netfd-cni-test.sock';

t.test('VERSION without the agent, in the version asked for', { skip: noPlugin }, async (t) => {
  for (const v of SUPPORTED_VERSIONS) {
    const r = await runPlugin({ CNI_COMMAND: 'VERSION', NETFD_AGENT_SOCKET: nowhere }, JSON.stringify({ cniVersion: v }));
    t.equal(r.code, 0, v);
    t.same(r.json, versionResult(v), `${v}: as lib/cni says`);
  }
  for (const stdin of ['', 'not json', '{"cniVersion":"0.1.0"}', '{"cniVersion":7}']) {
    const r = await runPlugin({ CNI_COMMAND: 'VERSION' }, stdin);
    t.equal(r.code, 0);
    t.same(r.json, versionResult(), `${JSON.stringify(stdin)}: the newest`);
  }
});

t.test('no CNI_COMMAND is error 4', { skip: noPlugin }, async (t) => {
  for (const cmd of [undefined, '']) {
    const r = await runPlugin({ CNI_COMMAND: cmd }, '{"cniVersion":"0.4.0"}');
    t.equal(r.code, 1);
    t.equal(r.json?.code, 4);
    t.equal(r.json?.cniVersion, '0.4.0', "in the configuration's version");
    t.match(r.json?.msg, /CNI_COMMAND/);
  }
});

t.test('an agent that cannot be reached: 11, and 50 for STATUS', { skip: noPlugin }, async (t) => {
  const env = { CNI_CONTAINERID: 'c1', CNI_NETNS: '/proc/1/ns/net', CNI_IFNAME: 'net1', CNI_PATH: '/opt/cni/bin', NETFD_AGENT_SOCKET: nowhere };
  for (const cmd of ['ADD', 'DEL', 'CHECK', 'GC']) {
    const r = await runPlugin({ ...env, CNI_COMMAND: cmd }, '{"cniVersion":"1.0.0","name":"n","type":"netfd"}');
    t.equal(r.code, 1, cmd);
    t.equal(r.json?.code, 11, `${cmd}: try again later`);
    t.equal(r.json?.cniVersion, '1.0.0');
    t.match(r.json?.details, new RegExp(`connect ${nowhere}`));
  }
  const s = await runPlugin({ CNI_COMMAND: 'STATUS', NETFD_AGENT_SOCKET: nowhere }, '{"cniVersion":"1.1.0","name":"n","type":"netfd"}');
  t.equal(s.code, 1);
  t.equal(s.json?.code, 50, 'STATUS: not available');
  const viaConfig = await runPlugin({ ...env, CNI_COMMAND: 'ADD', NETFD_AGENT_SOCKET: undefined }, `{"cniVersion":"1.0.0","name":"n","type":"netfd","socket":"${nowhere}"}`);
  t.match(viaConfig.json?.details, new RegExp(`connect ${nowhere}`), "the configuration's socket when the environment names none");
});

t.test('a configuration over the bound is refused before anything is sent', { skip: noPlugin }, async (t) => {
  const r = await runPlugin({ CNI_COMMAND: 'ADD', NETFD_AGENT_SOCKET: nowhere }, `{"cniVersion":"1.0.0","pad":"${'x'.repeat(100 * 1024)}"}`);
  t.equal(r.code, 1);
  t.equal(r.json?.code, 7);
  t.match(r.json?.msg, /larger than/);
  const quoted = await runPlugin({ CNI_COMMAND: 'ADD', NETFD_AGENT_SOCKET: nowhere }, `{"cniVersion":"1.0.0","pad":"${'\\"'.repeat(45 * 1024)}"}`);
  t.equal(quoted.json?.code, 7, 'escaped for the request, it is over what the agent reads');
});
