// The undo log (lib/netdev/tx.ts): what a step recorded is undone, links
// first (together), then fds, files, and the `after` steps; a failure is
// collected and the rest still runs; a second undo does nothing. Links on
// real devices are undone in test/privileged/domain.ts (a failure injected
// after every step); here a namespace that does not exist makes the link
// deletion fail without touching any host link.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { Test } from 'tap';
import { FdSet } from '../../../lib/sys/fds';
import { Tx } from '../../../lib/netdev/tx';

function tmpDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-tx-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const isOpen = (fd: number) => fs.existsSync(`/proc/self/fd/${fd}`);

t.test('undo reverses everything recorded, in order, once', async (t) => {
  const dir = tmpDir(t);
  const tx = new Tx(undefined);
  t.ok(tx.empty, 'a new log is empty');
  t.same(await tx.undo(), [], 'undoing nothing is no error');

  const files = ['a.xml', 'b.inactive'].map((n) => path.join(dir, n));
  for (const f of files) fs.writeFileSync(f, 'x');
  const fds = [fs.openSync(files[0], 'r'), fs.openSync(files[1], 'r')];
  const set = new FdSet(fds);
  const released = new FdSet([fs.openSync(files[0], 'r')]);
  const handedOver = released.release(); // e.g. to qemu: the log must not close them
  t.teardown(() => handedOver.forEach((fd) => fs.closeSync(fd)));

  const order: string[] = [];
  tx.fds(set, released);
  for (const f of files) tx.file(f);
  tx.after(async () => {
    order.push(`after: fds ${fds.map(isOpen).join(',')}, files ${files.map((f) => fs.existsSync(f)).join(',')}`);
  });
  tx.after(async () => void order.push('second after'));
  t.notOk(tx.empty);
  t.same(tx.links, [], 'no link recorded');

  t.same(await tx.undo(), []);
  t.same(order, ['after: fds false,false, files false,false', 'second after'], 'after steps run last, in order');
  t.ok(set.closed, 'the fds recorded are closed');
  t.ok(handedOver.every(isOpen), 'fds released before the undo stay open');
  t.ok(tx.empty, 'the log is empty afterwards');
  t.same(await tx.undo(), [], 'a second undo does nothing');
  t.same(order.length, 2, 'nothing ran twice');
});

t.test('a failing step is collected; the rest is still undone', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'vm.xml');
  fs.writeFileSync(file, 'x');
  const tx = new Tx('netfd-no-such-netns-tx');
  t.equal(tx.netns, 'netfd-no-such-netns-tx');
  tx.link(7);
  tx.link(8);
  t.same(tx.links, [7, 8], 'links by ifindex in the namespace');
  const good = fs.openSync(file, 'r');
  // An fd number nothing has open: closing it fails with EBADF.
  tx.fds(new FdSet([1_000_000]), new FdSet([good]));
  tx.file(file);
  const ran: string[] = [];
  tx.after(async () => Promise.reject(new Error('downscript failed')));
  tx.after(async () => void ran.push('still ran'));

  const errors = (await tx.undo()) as NodeJS.ErrnoException[];
  t.equal(errors.length, 3, 'one error per failed step');
  t.match(errors[0], { code: 'ENOENT' }, 'the links: their namespace does not exist');
  t.match(errors[1], { code: 'EBADF' }, 'the fd that was not open');
  t.match(errors[2], { message: 'downscript failed' });
  t.notOk(isOpen(good), 'the other fds are closed all the same');
  t.notOk(fs.existsSync(file), 'the file is removed all the same');
  t.same(ran, ['still ran'], 'the later after step ran');
  t.same(tx.links, [], 'nothing is left to undo');
  t.same(await tx.undo(), []);
});
