// Hostile and busy clients of a netfd agent, for the shutdown tests. Usage:
//   node agent-flood.js noread SOCKET N
//     sends N requests whose error replies are ~100 KB each (an invalid name
//     is echoed back), then 20 small ones, never reads a reply, prints
//     "SENT" and waits to be killed: the agent's socket buffer fills and its
//     replies queue up, requests in flight waiting for a reader.
//   node agent-flood.js busy SOCKET K
//     K connections (AgentClient) sending requests back to back, reconnecting
//     when the agent drops them; prints "BUSY" once each has had a reply, and
//     a line "ERROR <stack>" for anything but a rejected request.
'use strict';
const { native } = require('../../dist/sys/native');
const { AgentClient } = require('../../dist/agent/client');
const { encodeRequest } = require('../../dist/agent/protocol');

const [mode, socket, count] = process.argv.slice(2);
const n = Number(count);
process.on('uncaughtException', (e) => {
  process.stdout.write(`ERROR ${String(e && e.stack).replace(/\n/g, ' | ')}\n`);
  process.exit(9);
});

async function noread() {
  const fd = await native().unixConnect(socket);
  const big = 'x'.repeat(100_000);
  let id = 1;
  const send = async (m) => {
    while (native().sendNow(fd, m) < 0) await new Promise((r) => setTimeout(r, 5)); // the agent reads it soon
  };
  for (let i = 0; i < n; i++) await send(encodeRequest(id++, 'release', { name: big }));
  for (let i = 0; i < 20; i++) await send(encodeRequest(id++, 'hello'));
  process.stdout.write('SENT\n');
  setInterval(() => undefined, 1 << 30); // holds fd, never reads
}

async function busy() {
  const answered = new Set();
  const one = async (k) => {
    let c;
    try {
      c = await AgentClient.connect(socket);
    } catch {
      setTimeout(() => one(k), 20); // not listening (any more)
      return;
    }
    c.onClose = () => setTimeout(() => one(k), 5);
    while (!c.closed) {
      await Promise.all(
        ['hello', 'list', 'net-list', 'hello'].map((op) =>
          c.request(op).then(
            () => {
              if (answered.size < n && !answered.has(k) && answered.add(k).size === n) process.stdout.write('BUSY\n');
            },
            () => undefined,
          ),
        ),
      );
    }
  };
  for (let k = 0; k < n; k++) void one(k);
}

(mode === 'noread' ? noread() : busy()).catch((e) => {
  process.stdout.write(`ERROR ${String(e && e.stack).replace(/\n/g, ' | ')}\n`);
  process.exit(3);
});
