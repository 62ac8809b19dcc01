// The CNI plugin binary on its own: VERSION answered without the agent in
// each version, the CNI error object for a missing command, an agent that
// cannot be reached (11, 50 for STATUS), a configuration over the bound; the
// request it sends a fake agent and what it makes of the replies.
// Runs without root (no devices).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Conn, Listener } from '../../lib/agent/conn';
import { errorReply, MAX_REQUEST, okReply, parseRequest, Request } from '../../lib/agent/protocol';
import { NetfdError } from '../../lib/errors';
import { native } from '../../lib/sys/native';
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

t.test('against a fake agent: one request of the protocol, the answer printed as it came', { skip: noPlugin }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-cni-plugin-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 'agent.sock');
  const seen: Request[] = [];
  let answer: (r: Request, conn: Conn) => void = () => undefined;
  const served: Conn[] = [];
  const listener = new Listener(native().unixListen(sock), (fd) => {
    const conn: Conn = new Conn(fd, {
      maxBytes: MAX_REQUEST,
      maxFds: 0,
      onMessage: (m) => {
        const r = parseRequest(m.data);
        seen.push(r);
        answer(r, conn);
      },
      onClose: () => undefined,
    });
    served.push(conn);
  });
  t.teardown(() => {
    listener.close();
    for (const c of served) c.close();
  });
  const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/proc/1/ns/net', CNI_IFNAME: 'net1', CNI_PATH: '/opt/cni/bin', NETFD_AGENT_SOCKET: sock };
  const stdin = '{"cniVersion":"1.0.0","name":"n","type":"netfd","interface":"<interface type=\\"ethernet\\"/>\\n"}';

  answer = (r, conn) => void conn.send(okReply(r.id, { exit: 0, stdout: '{"cniVersion":"1.0.0","interfaces":[{"name":"net1"}],"dns":{}}\n' }));
  const ok = await runPlugin(env, stdin);
  t.equal(ok.code, 0);
  t.equal(ok.stdout, '{"cniVersion":"1.0.0","interfaces":[{"name":"net1"}],"dns":{}}\n', 'stdout as the agent gave it');
  t.strictSame(
    seen[0],
    { v: 1, id: 1, op: 'cni', args: { command: 'ADD', containerId: 'c1', netns: '/proc/1/ns/net', ifname: 'net1', path: '/opt/cni/bin', config: stdin } },
    'the request: the variables that are set, and stdin verbatim',
  );
  const odd = await runPlugin({ CNI_COMMAND: 'DEL', CNI_ARGS: 'A=\u00e9;B="q"\\', NETFD_AGENT_SOCKET: sock }, 'not json \u0001 at all');
  t.equal(odd.code, 0);
  t.strictSame(seen[1].args, { command: 'DEL', args: 'A=\u00e9;B="q"\\', config: 'not json \u0001 at all' }, 'escaped for JSON, read back the same');

  answer = (r, conn) => void conn.send(okReply(r.id, { exit: 1, stdout: '{"cniVersion":"1.0.0","code":7,"msg":"bad"}\n' }));
  t.match(await runPlugin(env, stdin), { code: 1, json: { code: 7, msg: 'bad' } }, "the agent's CNI error, exit 1");

  for (const [code, cni] of [
    ['RATE_LIMITED', 11],
    ['EBUSY', 11],
    ['UNKNOWN_OP', 5],
    ['ACCESS_DENIED', 5],
  ] as const) {
    answer = (r, conn) => void conn.send(errorReply(r.id, new NetfdError('no', { code })));
    const r = await runPlugin(env, stdin);
    t.match(r, { code: 1, json: { cniVersion: '1.0.0', code: cni, msg: /refused the request: no/, details: `netfd ${code}` } }, `the agent refuses ${code}: ${cni}`);
    t.match(await runPlugin({ ...env, CNI_COMMAND: 'STATUS' }, stdin), { json: { code: 50 } }, `STATUS: 50 for ${code}`);
  }
  for (const [what, reply] of [
    ['not JSON', Buffer.from('nope')],
    ['no exit', Buffer.from('{"v":1,"id":1,"ok":true,"result":{"stdout":""}}')],
    ['no error', Buffer.from('{"v":1,"id":1,"ok":false}')],
  ] as const) {
    answer = (_r, conn) => void conn.send(reply);
    t.match(await runPlugin(env, stdin), { code: 1, json: { code: 5 } }, `a reply with ${what}: I/O failure (5)`);
  }
  answer = (_r, conn) => conn.close('hang up');
  t.match(await runPlugin(env, stdin), { code: 1, json: { code: 11, details: /closed the connection/ } }, 'no reply: try again later');
});

t.test("an agent that refuses the connection and closes it with the request unread: the refusal is printed (11), not 'not reachable'", { skip: noPlugin }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-cni-plugin-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 'agent.sock');
  const timers = new Set<NodeJS.Timeout>();
  // As the agent over its connection limit, but late enough that the plugin's request is waiting when it closes.
  const listener = new Listener(native().unixListen(sock), (fd) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      native().sendNow(fd, errorReply(null, new NetfdError('the agent serves at most 1 connections', { code: 'EAGAIN' })));
      native().close(fd);
    }, 100);
    timers.add(timer);
  });
  t.teardown(() => {
    listener.close();
    for (const x of timers) clearTimeout(x);
  });
  const r = await runPlugin(
    { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/proc/1/ns/net', CNI_IFNAME: 'net1', NETFD_AGENT_SOCKET: sock },
    '{"cniVersion":"1.0.0","name":"n","type":"netfd"}',
  );
  t.match(r, { code: 1, json: { code: 11, msg: /the agent serves at most 1 connections/, details: 'netfd EAGAIN' } }, "the agent's refusal, try again later");
});
