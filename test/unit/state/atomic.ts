// Atomic writes of state files (lib/state/atomic.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { replaceFileAtomic, replaceFilesAtomic, writeNewFileAtomic } from '../../../lib/state/atomic';

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

t.test('replaceFilesAtomic: every file replaced, each fsynced, the directory fsynced once, no temporary file left', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-many-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const a = path.join(dir, 'n.connections');
  const b = path.join(dir, 'n.xml');
  replaceFileAtomic(a, 'old a');
  const synced: number[] = [];
  const fsync = fs.fsyncSync;
  fs.fsyncSync = (fd: number) => {
    synced.push(fd);
    fsync(fd);
  };
  try {
    replaceFilesAtomic([
      [a, 'new a'],
      [b, '<network/>'.repeat(1000)],
    ]);
  } finally {
    fs.fsyncSync = fsync;
  }
  t.equal(fs.readFileSync(a, 'utf8'), 'new a');
  t.equal(fs.readFileSync(b, 'utf8'), '<network/>'.repeat(1000), 'a long text written whole');
  t.equal(synced.length, 3, 'two files and their directory fsynced');
  t.same(fs.readdirSync(dir).sort(), ['n.connections', 'n.xml']);
});

t.test('a failed publish leaves the old text and no temporary file', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-fail-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'x.xml');
  replaceFileAtomic(f, 'old');
  const rename = fs.renameSync;
  fs.renameSync = () => {
    throw Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' });
  };
  try {
    t.throws(() => replaceFileAtomic(f, 'new'), { code: 'EIO' }, 'the rename failed');
  } finally {
    fs.renameSync = rename;
  }
  t.equal(fs.readFileSync(f, 'utf8'), 'old', 'the old text stays');
  t.same(fs.readdirSync(dir), ['x.xml'], 'the temporary file is removed');

  // A second file that cannot be written: nothing is renamed, the first keeps its text.
  const blocker = path.join(dir, 'plain');
  fs.writeFileSync(blocker, '');
  t.throws(
    () =>
      replaceFilesAtomic([
        [f, 'new'],
        [path.join(blocker, 'y.xml'), 'y'],
      ]),
    { code: 'ENOTDIR' },
  );
  t.equal(fs.readFileSync(f, 'utf8'), 'old', 'the first file is not replaced either');
  t.same(fs.readdirSync(dir).sort(), ['plain', 'x.xml'], "the first file's temporary file is removed");

  // A target that is a directory: the rename is refused, the temporary file removed.
  const sub = path.join(dir, 'sub');
  fs.mkdirSync(path.join(sub, 'inner'), { recursive: true });
  t.throws(() => replaceFileAtomic(sub, 'text'));
  t.ok(fs.statSync(sub).isDirectory(), 'the directory stays');
  t.same(fs.readdirSync(dir).sort(), ['plain', 'sub', 'x.xml']);

  // writeNewFileAtomic's lost race leaves no temporary name either (the link failed).
  t.throws(() => writeNewFileAtomic(f, 'other'), { code: 'EEXIST' });
  t.equal(fs.readFileSync(f, 'utf8'), 'old');
  t.same(fs.readdirSync(dir).sort(), ['plain', 'sub', 'x.xml']);
});

t.test('a directory removed between writes is made again', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-gone-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'a', 'b', 'x.xml');
  replaceFileAtomic(f, 'one');
  fs.rmSync(path.join(dir, 'a'), { recursive: true });
  replaceFileAtomic(f, 'two');
  t.equal(fs.readFileSync(f, 'utf8'), 'two');
  fs.rmSync(path.join(dir, 'a'), { recursive: true });
  writeNewFileAtomic(f, 'three');
  t.equal(fs.readFileSync(f, 'utf8'), 'three');
  t.same(fs.readdirSync(path.dirname(f)), ['x.xml']);
});
