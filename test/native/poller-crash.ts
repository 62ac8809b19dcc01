// Callbacks from native code into JS never abort the process: a socket
// event (the addon's UnixSocket, on Node's loop) that throws becomes
// 'uncaughtException' (or Node's usual report of an uncaught error), sockets
// still readable when Node exits are closed without calling into JS, and an
// onClose that throws does not stop Conn.close. Each case runs in a child
// process, where a SIGABRT (std::terminate) would show.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import t, { Test } from 'tap';

const NATIVE = path.join(__dirname, '..', '..', 'dist', 'sys', 'native');
const CONN = path.join(__dirname, '..', '..', 'dist', 'agent', 'conn');

interface Ran {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function child(code: string): Ran {
  const r = spawnSync(process.execPath, ['-e', `const b = require(${JSON.stringify(NATIVE)}).native();\n${code}`], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function noAbort(t: Test, r: Ran, what: string): void {
  t.equal(r.signal, null, `${what}: no signal (not SIGABRT)`);
  t.notMatch(r.stderr, /terminate called|Aborted|FATAL ERROR/, `${what}: no std::terminate, no fatal error`);
}

// A socket whose message event throws `value` on the first message.
const throwing = (value: string) => `
const [x, y] = b.socketPair();
const s = new b.UnixSocket({ message: () => { throw ${value}; } });
s.adopt(x, true);
s.readStart(64, 0);
b.sendNow(y, Buffer.from('wake up'));
setTimeout(() => { process.stdout.write('NOT RAISED\\n'); process.exit(0); }, 3000);
`;

t.test('a socket event that throws: uncaughtException with that very value', async (t) => {
  for (const [value, shown] of [
    ["new Error('boom in the callback')", 'Error: boom in the callback'],
    ['42', 'number 42'],
    ['undefined', 'undefined undefined'],
  ]) {
    const r = child(
      `process.on('uncaughtException', (e) => { process.stdout.write('CAUGHT ' + (e instanceof Error ? String(e) : typeof e + ' ' + String(e)) + '\\n'); process.exit(7); });\n${throwing(value)}`,
    );
    noAbort(t, r, `throw ${value}`);
    t.equal(r.status, 7, `throw ${value}: the uncaughtException handler ran`);
    t.equal(r.stdout, `CAUGHT ${shown}\n`, `throw ${value}: it got the thrown value`);
  }
  const r = child(throwing("new Error('nobody listens')"));
  noAbort(t, r, 'no handler');
  t.equal(r.status, 1, 'without a handler: exit 1, as for any uncaught error');
  t.match(r.stderr, /Error: nobody listens/, 'the error is printed');
  t.notMatch(r.stdout, /NOT RAISED/, 'not swallowed');
});

t.test('sockets still readable when Node exits are closed, nothing delivered into a stopping Node', async (t) => {
  // Readable sockets, unref'd: the script ends with data waiting on each.
  for (let i = 0; i < 10; i++) {
    const r = child(`
for (let i = 0; i < 50; i++) {
  const [x, y] = b.socketPair();
  const s = new b.UnixSocket({ message: () => undefined, writable: () => undefined });
  s.adopt(x, true);
  s.readStart(16, 4);
  s.waitWritable();
  s.unref();
  b.sendNow(y, Buffer.from('x'), [y]);
}
`);
    noAbort(t, r, `run ${i + 1}`);
    t.equal(r.status, 0, `run ${i + 1}: exit 0`);
  }
});

t.test('an onClose that throws: Conn.close still closes, the error is raised on its own', async (t) => {
  const r = child(`
const { Conn } = require(${JSON.stringify(CONN)});
process.on('uncaughtException', (e) => { process.stdout.write('CAUGHT ' + e.message + '\\n'); });
const conns = [];
for (let i = 0; i < 3; i++) {
  const [x, y] = b.socketPair();
  b.close(y);
  conns.push(new Conn(x, { maxBytes: 16, maxFds: 0, onMessage: () => undefined, onClose: () => { throw new Error('onClose ' + i); } }));
}
for (const c of conns) c.close('stopping');
process.stdout.write('CLOSED ' + conns.filter((c) => c.closed).length + '\\n');
setTimeout(() => process.exit(0), 100);
`);
  noAbort(t, r, 'onClose throws');
  t.equal(r.status, 0);
  t.equal(r.stdout, 'CLOSED 3\nCAUGHT onClose 0\nCAUGHT onClose 1\nCAUGHT onClose 2\n', 'every connection closed first, then each error surfaced');
});
