import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startTime } from '../../../lib/agent/cni-claim';

t.test('startTime reads field 22 of /proc/PID/stat, whatever the command name holds', async (t) => {
  const proc = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-proc-'));
  t.teardown(() => fs.rmSync(proc, { recursive: true, force: true }));
  fs.mkdirSync(path.join(proc, '42'));
  const after = Array.from({ length: 50 }, (_, i) => String(i + 3));
  fs.writeFileSync(path.join(proc, '42', 'stat'), `42 (a) b (c) d) ${after.join(' ')}\n`);
  t.equal(startTime(42, proc), '22', 'the field after the last )');
  t.equal(startTime(43, proc), null, 'a process that is gone');
  t.match(startTime(process.pid), /^\d+$/, "this process's own");
  t.equal(startTime(process.pid), startTime(process.pid), 'the same twice');
});
