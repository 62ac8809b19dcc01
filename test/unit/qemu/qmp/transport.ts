// lib/qemu/qmp/transport.ts: the line framer; the transport alone against a
// fake monitor (test/helpers/fake-qmp.ts, which reads with the addon's
// fdRecv, so fds really arrive); and through the client: the server's
// framing (split, joined, blank lines, junk), fds interleaved with ordinary
// writes, and a message with fds larger than the socket buffer.
import t from 'tap';
import { LineFramer, WriteFailed, connect } from '../../../../lib/qemu/qmp/transport';
import { FakeQmp, connectFake, sameFile, tempFile } from '../../../helpers/fake-qmp';

t.test('line framing', async (t) => {
  const f = new LineFramer();
  t.same(f.push(Buffer.from('{"a":1}\r\n{"b"')), ['{"a":1}']);
  t.same(f.push(Buffer.from(':2}\r\n\r\n\n  \r\n{"c":3}\r\n{"d":')), ['{"b":2}', '{"c":3}'], 'blank lines dropped');
  const euro = Buffer.from('4,"e":"€"}\r\n');
  const cut = euro.indexOf(0xe2) + 1; // inside the 3-byte €
  t.same(f.push(euro.subarray(0, cut)), []);
  t.same(f.push(euro.subarray(cut)), ['{"d":4,"e":"€"}'], 'a character split between chunks');
  const small = new LineFramer(10);
  t.throws(() => small.push('x'.repeat(11)), { code: 'QMP_PROTOCOL' });
});

t.test('the transport alone: lines in, a message with an fd out, close', async (t) => {
  const f = await FakeQmp.start();
  t.teardown(() => f.stop());
  const tr = connect(f.path);
  const lines: string[] = [];
  let arrived: () => void = () => {};
  tr.onLine((l) => {
    lines.push(l);
    arrived();
  });
  const next = () => new Promise<void>((r) => (arrived = r));
  const closes: (Error | null)[] = [];
  tr.onClose((err) => closes.push(err));
  await next();
  t.match(JSON.parse(lines[0]), { QMP: { capabilities: ['oob'] } }, 'the greeting, as one line');
  const a = tempFile(t, 'a');
  let reply = next();
  await tr.send(`${JSON.stringify({ execute: 'getfd', arguments: { fdname: 'x' }, id: 1 })}\r\n`, { fds: [a], what: 'qmp getfd' });
  await reply;
  t.same(JSON.parse(lines[1]), { return: {}, id: 1 });
  t.ok(sameFile(f.conn.named.get('x')!, a), 'the fd arrived with the message');
  reply = next();
  await tr.send('{"execute":"echo","arguments":{"n":2},"id":2}\r\n');
  await reply;
  t.same(JSON.parse(lines[2]), { return: { n: 2 }, id: 2 });
  await tr.close();
  t.same(closes, [null], 'onClose once, without an error');
  await tr.close(); // twice is fine
  await t.rejects(tr.send('{}\r\n'), WriteFailed, 'a write after close fails');
});

t.test('framing from the server: split, joined, blank lines, junk', async (t) => {
  const { f, q } = await connectFake(t, {
    handler: async (cmd, conn) => {
      if (cmd.execute !== 'split') return undefined;
      const reply = Buffer.from(`${JSON.stringify({ return: { text: 'naïve €' }, id: cmd.id })}\r\n`);
      const ev = (n: number) => JSON.stringify({ event: 'TICK', data: { n }, timestamp: { seconds: 1, microseconds: n } });
      await conn.sendRaw(`\r\n${ev(1)}\r\nnot json\r\n[1,2]\r\n${ev(2)}\r\n`);
      for (let i = 0; i < reply.length; i += 3) {
        await conn.sendRaw(reply.subarray(i, i + 3)); // splits the multi-byte characters too
        await new Promise((r) => setImmediate(r));
      }
      await conn.sendRaw(`${ev(3)}\r\n\r\n${JSON.stringify({ return: 'stray', id: 99999 })}\r\n${JSON.stringify({ return: {}, id: 'nope' })}\r\n`);
      return 'none';
    },
  });
  const seen: number[] = [];
  q.on('event', (ev) => seen.push(Number(ev.data.n)));
  t.same(await q.execute('split'), { text: 'naïve €' });
  await q.waitEvent('TICK', (ev) => ev.data.n === 3, 1000);
  t.same(seen, [1, 2, 3], 'events in order, junk lines skipped');
  t.same(await q.execute('echo', { ok: true }), { ok: true }, 'stray replies ignored');
  t.equal(f.conns.length, 1);
});

t.test('fd passing interleaved with ordinary commands keeps order and pairing', async (t) => {
  const { f, q } = await connectFake(t);
  const files = Array.from({ length: 12 }, (_, i) => tempFile(t, `f${i}`));
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < files.length; i++) {
    calls.push(q.execute('echo', { i, pad: 'x'.repeat(i * 500) }));
    calls.push(q.getfd(`fd${i}`, files[i]));
    calls.push(q.execute('echo', { after: i }));
  }
  await Promise.all(calls);
  for (let i = 0; i < files.length; i++) t.ok(sameFile(f.conn.named.get(`fd${i}`)!, files[i]), `fd${i} is file ${i}`);
  const ids = f.conn.received.map((r) => Number(r.cmd.id));
  t.same(
    ids,
    [...ids].sort((x, y) => x - y),
    'the stream was not interleaved: commands arrived whole and in order',
  );
  t.equal(f.conn.received.filter((r) => r.fds.length > 0).length, files.length);
  t.ok(
    f.conn.received.every((r) => r.fds.length === 0 || r.cmd.execute === 'getfd'),
    'fds only with getfd',
  );
});

t.test('fd passing with a payload larger than the socket buffer (partial sendmsg)', async (t) => {
  const { f, q } = await connectFake(t);
  const a = tempFile(t, 'big');
  const big = 'y'.repeat(4 << 20);
  const r = (await q.execute('echo', { big }, { fds: [a], timeoutMs: 10_000 })) as { big: string };
  t.equal(r.big.length, big.length, 'the whole message arrived');
  t.equal(f.conn.received.at(-1)?.fds.length, 1, 'the fd came with the first part');
  await q.getfd('after', a);
  t.ok(sameFile(f.conn.named.get('after')!, a));
});
