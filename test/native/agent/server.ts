// The agent's wiring (lib/agent/server.ts), in process on a socket in a
// temporary directory: requests that never reach the host (hello, list,
// refusals), a second agent on a live socket or on the same state
// directory, and stop's timeout.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AgentClient } from '../../../lib/agent/client';
import { encodeRequest } from '../../../lib/agent/protocol';
import { Agent } from '../../../lib/agent/server';
import { native } from '../../../lib/sys/native';
import { agentIn, logSink } from '../../helpers/agent-in-process';

const uid = process.getuid?.() ?? 0;

t.test('an in-process agent: hello, an empty list, ACL refusals before any host change, the socket mode', async (t) => {
  const { dir, client, log } = await agentIn(t, `deny user ${uid} bridge br9\nallow user ${uid} ethernet\n`);
  t.equal(fs.statSync(path.join(dir, 'a.sock')).mode & 0o777, 0o660, 'the socket is 0660');
  t.match((await client.request('hello')).result, { version: 1, uid, graceMs: 30000 });
  t.same((await client.request('list')).result, []);
  const refused = await client
    .request('prepare', { xml: "<domain type='qemu'><name>d</name><memory>65536</memory><devices><interface type='bridge'><source bridge='br9'/></interface></devices></domain>" })
    .catch((e) => e);
  t.match(refused, { code: 'ACCESS_DENIED', field: '/domain/devices/interface', value: 'br9', rule: /^deny user \d+ bridge br9 \(.*acl\.conf:1\)$/ });
  const backend = await client
    .request('prepare', { xml: "<domain type='qemu'><name>d</name><memory>65536</memory><devices><interface type='ethernet'><backend tap='/etc/shadow'/></interface></devices></domain>" })
    .catch((e) => e);
  t.match(backend, { code: 'ACCESS_DENIED', rule: 'default deny' }, 'a <backend> path needs `all`');
  t.match((await client.request('release', { name: 'nope' }).catch((e) => e)) as object, { code: 'ENOENT', field: 'args.name' });
  t.match((await client.request('release', { name: '../x' }).catch((e) => e)) as object, { code: 'INVALID_ARGUMENT', field: 'args.name', value: '../x' });
  t.match((await client.request('net-start', { name: 'n' }).catch((e) => e)) as object, { code: 'ACCESS_DENIED', field: 'op', value: 'net-start' });
  t.match(
    (await client.request('net-start', { name: '../n' }).catch((e) => e)) as object,
    { code: 'INVALID_ARGUMENT', field: 'args.name', value: '../n' },
    'a bad network name is refused before the ACL',
  );
  t.match((await client.request('net-define', { xml: '<network/>' }).catch((e) => e)) as object, { code: 'ACCESS_DENIED', field: 'op', value: 'net-define' });
  t.same((await client.request('net-list', { all: true })).result, { rows: [], warnings: [] });
  t.same(fs.readdirSync(path.join(dir, 'state', 'agent')), ['agent.lock'], 'no record was written for refused requests (only the state directory lock is there)');
  t.ok(
    log.lines().some((l) => l.msg === 'refused by the ACL' && l.uid === uid && typeof l.req === 'number' && l.code === 'ACCESS_DENIED'),
    'refusals are logged with the uid and a request id',
  );
});

t.test('prepare refuses alike whether its XML is parsed on the event loop (small) or on the worker (over 2 KiB)', async (t) => {
  const { client } = await agentIn(t, `deny user ${uid} bridge br9\nallow user ${uid} bridge br0\n`);
  // The same domain, padded past the size the agent parses on its loop.
  const doc = (devices: string, pad: boolean) =>
    `<domain type='qemu'><name>d</name><memory>65536</memory><devices>${devices}</devices>${pad ? `<description>${'x'.repeat(4096)}</description>` : ''}</domain>`;
  const refusal = (xml: string) =>
    client.request('prepare', { xml }).then(
      () => 'no error',
      (e: Error & { code?: string; field?: string; value?: unknown; rule?: string }) => ({ code: e.code, field: e.field, value: e.value, rule: e.rule, message: e.message }),
    );
  const cases: [string, string][] = [
    ['a bridge the ACL denies', "<interface type='bridge'><source bridge='br9'/></interface>"],
    ['no interface', ''],
    ['an unknown interface type', "<interface type='nonsense'/>"],
    ['broken XML', "<interface type='bridge'>"],
  ];
  for (const [what, devices] of cases) {
    const small = await refusal(doc(devices, false));
    const large = await refusal(doc(devices, true));
    t.not(small, 'no error', `${what}: refused`);
    t.same(large, small, `${what}: the same refusal from both parses`);
  }
  t.match(await refusal(doc("<interface type='bridge'><source bridge='br9'/></interface>", false)), { code: 'ACCESS_DENIED', value: 'br9' });
  t.match(await refusal(doc('', false)), { code: 'INVALID_ARGUMENT', field: '/domain/devices/interface' });
});

t.test('a second agent on a live socket is refused; a stale socket file is replaced', async (t) => {
  const { dir } = await agentIn(t, '');
  const second = new Agent({ socket: path.join(dir, 'a.sock'), acl: path.join(dir, 'acl.conf'), stateDir: path.join(dir, 'state2'), logger: logSink().logger });
  await t.rejects(second.start(), { code: 'EADDRINUSE', field: 'socket' });
  const notSocket = path.join(dir, 'file');
  fs.writeFileSync(notSocket, '');
  await t.rejects(new Agent({ socket: notSocket, acl: path.join(dir, 'acl.conf'), stateDir: path.join(dir, 'state3'), logger: logSink().logger }).start(), { code: 'EEXIST', field: 'socket' });
});

t.test('a second agent on the same state directory is refused, naming the first; one may start once the first stopped', async (t) => {
  const { dir, agent } = await agentIn(t, '');
  const opts = { socket: path.join(dir, 'b.sock'), acl: path.join(dir, 'acl.conf'), stateDir: path.join(dir, 'state') };
  const lock = path.join(dir, 'state', 'agent', 'agent.lock');
  t.equal(fs.readFileSync(lock, 'utf8'), `${process.pid}\n`, "the lock file names the agent's pid");
  await t.rejects(new Agent({ ...opts, logger: logSink().logger }).start(), {
    code: 'EBUSY',
    field: 'stateDir',
    message: new RegExp(`another agent \\(pid ${process.pid}\\) serves the state directory ${opts.stateDir}`),
  });
  t.notOk(fs.existsSync(opts.socket), 'the second never listened');
  await agent.stop();
  t.notOk(fs.existsSync(lock), 'the first removed its lock as it stopped');
  const next = new Agent({ ...opts, logger: logSink().logger });
  await next.start();
  t.teardown(() => next.stop());
  t.ok(fs.existsSync(opts.socket), 'then another starts on that state directory');
});

t.test('stop: a client that does not read is cut off at stopTimeoutMs; an idle agent stops at once', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-unit-agent-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const log = logSink();
  const socket = path.join(dir, 'a.sock');
  const agent = new Agent({ socket, acl: path.join(dir, 'acl.conf'), stateDir: path.join(dir, 'state'), configDir: path.join(dir, 'networks'), stopTimeoutMs: 300, logger: log.logger });
  await agent.start();
  // A raw socket that never reads: 8 requests whose error replies (~100 KB, the name echoed) fill it.
  const fd = await native().unixConnect(socket);
  t.teardown(() => native().close(fd));
  const big = 'x'.repeat(100_000);
  for (let id = 1; id <= 8; id++) while (native().sendNow(fd, encodeRequest(id, 'release', { name: big })) < 0) await new Promise((r) => setTimeout(r, 5));
  for (const end = Date.now() + 5000; log.lines().filter((l) => l.code === 'INVALID_ARGUMENT').length < 8; await new Promise((r) => setTimeout(r, 5)))
    if (Date.now() > end) throw new Error('the requests did not arrive');
  const started = Date.now();
  t.equal(await agent.stop(), false, 'stop resolves false: work was cut short');
  const ms = Date.now() - started;
  t.ok(ms >= 280 && ms < 2000, `after the stop timeout (${ms} ms)`);
  const cut = log.lines().find((l) => /^stop timeout/.test(String(l.msg)));
  t.match(cut, { level: 40, stopTimeoutMs: 300, connections: [{ uid, clientPid: process.pid }] }, 'the log names the connection');
  const [c] = (cut?.connections ?? []) as { requests: number; unreadReplies: number }[];
  t.ok(c?.requests > 0 && c?.unreadReplies > 0, `its requests in flight (${c?.requests}) and replies not read (${c?.unreadReplies})`);
  t.equal(await agent.stop(), true, 'a second stop does nothing');

  const { agent: idle } = await agentIn(t, '');
  const t0 = Date.now();
  t.equal(await idle.stop(), true, 'an idle agent: true');
  t.ok(Date.now() - t0 < 250, 'at once');
});

t.test('the request rate: an ACL `limit … rate N` lowers or raises the default 200 a second (bursts of 2N), refusals name it', async (t) => {
  // N requests over 20 connections, each sending its share one after another.
  const burst = async (dir: string, n: number) => {
    const conns = await Promise.all(Array.from({ length: 20 }, () => AgentClient.connect(path.join(dir, 'a.sock'))));
    t.teardown(() => conns.forEach((c) => c.close()));
    const out: (Error & { code?: string; field?: string; rule?: string; value?: unknown })[] = [];
    await Promise.all(
      conns.map(async (c) => {
        for (let k = 0; k < n / conns.length; k++) await c.request('hello').catch((e: Error) => out.push(e));
      }),
    );
    return out;
  };
  // 5 a second, bursts of 10: of 60 requests sent as fast as they go, all but the burst and what refills meanwhile are refused.
  const slow = await agentIn(t, `allow user ${uid} ethernet\nlimit user ${uid} rate 5\nlimit user ${uid} requests 2000\n`);
  const t0 = Date.now();
  const refused = await burst(slow.dir, 60);
  const allowed = 10 + Math.ceil(((Date.now() - t0) / 1000) * 5);
  t.ok(refused.length >= 60 - allowed && refused.every((e) => e.code === 'RATE_LIMITED'), `${refused.length} of 60 refused (at most ${allowed} could pass in ${Date.now() - t0} ms)`);
  t.match(refused[0], {
    code: 'RATE_LIMITED',
    field: 'rate',
    value: 5,
    rule: new RegExp(`^limit user ${uid} rate 5 \\(.*acl\\.conf:2\\)$`),
    message: /more than 5 requests a second from uid \d+ \(limit user/,
  });
  const raised = await agentIn(t, `allow user ${uid} ethernet\nlimit user ${uid} requests 2000\nlimit user ${uid} rate 5000\n`);
  t.same(await burst(raised.dir, 600), [], 'a user allowed 5000 a second (bursts of 10000) gets 600 at once');
  const none = await agentIn(t, `allow user ${uid} ethernet\nlimit user ${uid} rate 0\n`);
  const zero = await burst(none.dir, 20);
  t.match(zero[0], { code: 'RATE_LIMITED', field: 'rate', value: 0, rule: new RegExp(`^limit user ${uid} rate 0 \\(.*acl\\.conf:2\\)$`) }, 'rate 0: no requests, the rule named');
});
