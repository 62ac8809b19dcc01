// Runs requests against a netfd agent and prints one JSON line per reply:
// {ok, result | error, fds}. Received fds are kept open until the process
// ends (a client that holds its taps, as a VM manager would). Usage:
//   node agent-client.js SOCKET '[{"op":"prepare","args":{...}}, ...]' [--hold]
// With --hold it prints "HOLDING" after the last reply and waits to be killed.
'use strict';
const { AgentClient } = require('../../dist/agent/client');

(async () => {
  const [socket, json, hold] = process.argv.slice(2);
  const c = await AgentClient.connect(socket);
  const kept = [];
  for (const { op, args } of JSON.parse(json)) {
    try {
      const r = await c.request(op, args || {});
      kept.push(...r.fds);
      process.stdout.write(`${JSON.stringify({ ok: true, result: r.result, fds: r.fds.length })}\n`);
    } catch (e) {
      process.stdout.write(`${JSON.stringify({ ok: false, error: { code: e.code, message: e.message, field: e.field, value: e.value, rule: e.rule } })}\n`);
    }
  }
  if (hold === '--hold') {
    process.stdout.write('HOLDING\n');
    setInterval(() => undefined, 1 << 30);
    return;
  }
  c.close();
})().catch((e) => {
  process.stderr.write(`agent-client: ${e.stack || e}\n`);
  process.exit(3);
});
