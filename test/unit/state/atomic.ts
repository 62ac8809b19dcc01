// Atomic writes of state files (lib/state/atomic.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { replaceFileAtomic, writeNewFileAtomic } from '../../../lib/state/atomic';

t.test('live XML is written atomically and only once', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-state-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'sub', 'vm1.xml');
  writeNewFileAtomic(file, '<domain/>\n');
  t.equal(fs.readFileSync(file, 'utf8'), '<domain/>\n', 'written, directory created');
  t.throws(() => writeNewFileAtomic(file, '<other/>\n'), { code: 'EEXIST' }, 'a second writer loses');
  t.equal(fs.readFileSync(file, 'utf8'), '<domain/>\n', 'the first content stays');
  t.same(fs.readdirSync(path.dirname(file)), ['vm1.xml'], 'no temporary file left behind');
});

t.test('replaceFileAtomic replaces; writeNewFileAtomic refuses', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-repl-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'x.xml');
  writeNewFileAtomic(f, 'one');
  t.throws(() => writeNewFileAtomic(f, 'two'), { code: 'EEXIST' });
  replaceFileAtomic(f, 'three');
  t.equal(fs.readFileSync(f, 'utf8'), 'three');
  t.same(fs.readdirSync(dir), ['x.xml'], 'no temporary file left');
});
