// A fake qemu QMP monitor on a unix socket in a temp dir, for tests of
// lib/qemu/qmp/ without qemu. It listens, reads and writes with netfd's
// own socket class (lib/sys/unixsock.ts), so fds sent with SCM_RIGHTS really
// arrive. Like qemu, the fds received with a read wait for a command to take
// them (getfd) and are dropped when new fds arrive.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { closeFd } from '../../lib/sys/fdpass';
import { UnixMessage, UnixSocket } from '../../lib/sys/unixsock';
import { Qmp } from '../../lib/qemu/qmp/commands';
import { LineFramer } from '../../lib/qemu/qmp/transport';

export interface FakeCommand {
  execute: string;
  arguments?: Record<string, unknown>;
  id?: unknown;
}

/** What a handler answers: a reply, or `undefined` for the default behaviour, or 'none' to send nothing. */
export type FakeReply = { return: unknown } | { error: { class: string; desc: string } } | 'none' | undefined;

export type FakeHandler = (cmd: FakeCommand, conn: FakeConn) => FakeReply | Promise<FakeReply>;

export const GREETING = {
  QMP: { version: { qemu: { micro: 3, minor: 2, major: 7 }, package: 'fake 7.2.3' }, capabilities: ['oob'] },
};

const line = (o: unknown) => `${JSON.stringify(o)}\r\n`;

export class FakeConn {
  /** Every command in order of arrival, with the fds that came with its read. */
  readonly received: { cmd: FakeCommand; fds: number[] }[] = [];
  /** fds taken by getfd, by name (owned here; closed on closefd and on close). */
  readonly named = new Map<string, number>();
  private pendingFds: number[] = [];
  private fdsOwner: number[] | null = null;
  private stopping = false;
  private readonly loop: Promise<void>;
  /** Wakes a read in wait (with null: stop). */
  private wake: ((m: UnixMessage | null) => void) | undefined;
  closed = false;

  constructor(
    readonly socket: UnixSocket,
    private readonly server: FakeQmp,
  ) {
    this.loop = this.readLoop();
  }

  /** Writes raw text (framing tests); resolves when written (or the peer is gone). */
  sendRaw(s: string | Buffer): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.socket.send(s).then(
      () => undefined,
      () => undefined,
    );
  }

  send(o: unknown): Promise<void> {
    return this.sendRaw(line(o));
  }

  event(name: string, data?: Record<string, unknown>): Promise<void> {
    return this.send({ event: name, ...(data ? { data } : {}), timestamp: { seconds: 1700000000, microseconds: 1 } });
  }

  /** Stops reading, closes the socket and every fd it holds. */
  async close(): Promise<void> {
    this.stopping = true;
    this.wake?.(null);
    await this.loop;
    if (!this.closed) {
      this.closed = true;
      this.socket.close();
    }
    for (const fd of this.pendingFds) closeFd(fd);
    this.pendingFds = [];
    for (const fd of this.named.values()) closeFd(fd);
    this.named.clear();
  }

  /** The next read (one recvmsg: its bytes and fds), or null at the end. */
  private next(): Promise<UnixMessage | null> {
    return new Promise((resolve) => {
      this.wake = (m) => {
        this.wake = undefined;
        if (!this.socket.closed) this.socket.pause();
        resolve(m);
      };
      this.socket.read(
        { maxBytes: 1 << 20, maxFds: 16 },
        (m) => {
          if (this.wake) this.wake(m);
          else m.fds.forEach((fd) => closeFd(fd)); // not asked for: not kept
        },
        () => this.wake?.(null),
      );
    });
  }

  private async readLoop(): Promise<void> {
    const framer = new LineFramer();
    if (this.server.readDelayMs > 0) await new Promise((r) => setTimeout(r, this.server.readDelayMs));
    while (!this.stopping) {
      const got = await this.next();
      if (got === null || got.eof) break; // EOF or stop
      if (got.fds.length > 0) {
        for (const old of this.pendingFds) closeFd(old);
        this.pendingFds = got.fds;
      }
      // The kernel ends a read right after the part that carried fds: they
      // belong to the last message that starts in this read (complete now,
      // or completed by a later read).
      if (got.fds.length > 0) this.fdsOwner = [...got.fds];
      const lines = framer.push(got.data);
      const endsWhole = got.data.length > 0 && got.data[got.data.length - 1] === 0x0a;
      for (let i = 0; i < lines.length; i++) {
        const cmd = JSON.parse(lines[i]) as FakeCommand;
        let fds: number[] = [];
        if (this.fdsOwner && (got.fds.length === 0 ? i === 0 : endsWhole && i === lines.length - 1)) {
          fds = this.fdsOwner;
          this.fdsOwner = null;
        }
        this.received.push({ cmd, fds });
        await this.dispatch(cmd);
      }
    }
    // EOF or stop: the socket is no longer read; close() finishes the job.
    if (!this.stopping) void this.close();
  }

  private async dispatch(cmd: FakeCommand): Promise<void> {
    const custom = this.server.handler ? await this.server.handler(cmd, this) : undefined;
    const reply = custom ?? (await this.builtin(cmd));
    if (reply === 'none') return;
    await this.send({ ...reply, id: cmd.id });
  }

  private async builtin(cmd: FakeCommand): Promise<FakeReply> {
    const a = cmd.arguments ?? {};
    const err = (cls: string, desc: string) => ({ error: { class: cls, desc } });
    switch (cmd.execute) {
      case 'qmp_capabilities':
      case 'netdev_add':
      case 'netdev_del':
        return { return: {} };
      case 'device_add':
        if (typeof a.id === 'string') this.server.devices.push(a.id);
        return { return: {} };
      case 'query-pci':
        // The devices added, on the root bus from slot 2 on, in order.
        return {
          return: [
            { bus: 0, devices: this.server.devices.map((id, n) => ({ bus: 0, slot: 2 + n, function: 0, qdev_id: id, class_info: { class: 512 }, id: { device: 4096, vendor: 6900 }, regions: [] })) },
          ],
        };
      case 'query-status':
        return { return: { status: 'running', singlestep: false, running: true } };
      case 'echo':
        return { return: a };
      case 'getfd': {
        const fd = this.pendingFds.shift();
        if (fd === undefined) return err('GenericError', 'No file descriptor supplied via SCM_RIGHTS');
        for (const rest of this.pendingFds) closeFd(rest);
        this.pendingFds = [];
        const name = String(a.fdname);
        const old = this.named.get(name);
        if (old !== undefined) closeFd(old);
        this.named.set(name, fd);
        return { return: {} };
      }
      case 'closefd': {
        const name = String(a.fdname);
        const fd = this.named.get(name);
        if (fd === undefined) return err('GenericError', `File descriptor named '${name}' not found`);
        closeFd(fd);
        this.named.delete(name);
        return { return: {} };
      }
      case 'fail':
        return err(String(a.class ?? 'GenericError'), String(a.desc ?? 'it failed'));
      case 'slow':
        setTimeout(() => void this.send({ return: { slow: a.ms }, id: cmd.id }), Number(a.ms));
        return 'none';
      case 'hang':
        return 'none';
      case 'drop':
        this.stopping = true;
        setImmediate(() => void this.close());
        return 'none';
      case 'event-then-reply':
        // one write: the event, then the reply
        await this.sendRaw(line({ event: a.event, data: a.data ?? {}, timestamp: { seconds: 1, microseconds: 2 } }) + line({ return: {}, id: cmd.id }));
        return 'none';
      case 'device_del': {
        // qemu 7.2: the child's event (path only), then the device's; here
        // before the reply when `eventFirst`, else after it.
        const id = String(a.id);
        this.server.devices = this.server.devices.filter((d) => d !== id);
        const events = async () => {
          await this.event('DEVICE_DELETED', { path: `/machine/peripheral/${id}/virtio-backend` });
          await this.event('DEVICE_DELETED', { device: id, path: `/machine/peripheral/${id}` });
        };
        if (this.server.deviceDelEventFirst) {
          await events();
          return { return: {} };
        }
        await this.send({ return: {}, id: cmd.id });
        setTimeout(() => void events(), 20);
        return 'none';
      }
      case 'quit':
        await this.send({ return: {}, id: cmd.id });
        await this.event('SHUTDOWN', { guest: false, reason: 'host-qmp-quit' });
        this.stopping = true;
        setImmediate(() => void this.close());
        return 'none';
      default:
        return err('CommandNotFound', `The command ${cmd.execute} has not been found`);
    }
  }
}

export interface FakeOptions {
  /** The greeting line to send (default GREETING); null sends none. */
  greeting?: unknown;
  handler?: FakeHandler;
  /** Wait this long before reading a new connection (to fill its buffer). */
  readDelayMs?: number;
  deviceDelEventFirst?: boolean;
}

export class FakeQmp {
  readonly conns: FakeConn[] = [];
  /** Device ids added with device_add (and not deleted since): query-pci reports them. */
  devices: string[] = [];
  handler?: FakeHandler;
  readDelayMs: number;
  deviceDelEventFirst: boolean;
  private constructor(
    readonly dir: string,
    readonly path: string,
    private readonly server: UnixSocket,
  ) {
    this.readDelayMs = 0;
    this.deviceDelEventFirst = false;
  }

  static async start(o: FakeOptions = {}): Promise<FakeQmp> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-qmp-'));
    const sock = path.join(dir, 'qmp.sock');
    const server = UnixSocket.listen(sock, 'stream');
    const f = new FakeQmp(dir, sock, server);
    f.handler = o.handler;
    f.readDelayMs = o.readDelayMs ?? 0;
    f.deviceDelEventFirst = o.deviceDelEventFirst ?? false;
    const greeting = o.greeting === undefined ? GREETING : o.greeting;
    server.accept((fd) => {
      const c = new FakeConn(UnixSocket.adopt(fd), f);
      f.conns.push(c);
      if (greeting !== null) void c.sendRaw(typeof greeting === 'string' ? greeting : line(greeting));
    });
    return f;
  }

  /** The newest connection. */
  get conn(): FakeConn {
    const c = this.conns[this.conns.length - 1];
    if (!c) throw new Error('fake qmp: no connection yet');
    return c;
  }

  async stop(): Promise<void> {
    await Promise.all(this.conns.map((c) => c.close()));
    this.server.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A FakeQmp and a Qmp connected to it (2 s handshake timeout), both closed when `t` ends. */
export async function connectFake(t: Test, o: FakeOptions = {}): Promise<{ f: FakeQmp; q: Qmp }> {
  const f = await FakeQmp.start(o);
  const q = await Qmp.connect(f.path, { timeoutMs: 2000 });
  t.teardown(async () => {
    await q.close();
    await f.stop();
  });
  return { f, q };
}

/** A regular file of its own (distinct inode) to pass around, opened read-only; closed and removed when `t` ends. */
export function tempFile(t: Test, name: string): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-qmp-file-'));
  const p = path.join(dir, name);
  fs.writeFileSync(p, name);
  const fd = fs.openSync(p, 'r');
  t.teardown(() => {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return fd;
}

/** Whether two fds are the same file (dev and inode). */
export function sameFile(a: number, b: number): boolean {
  const x = fs.fstatSync(a);
  const y = fs.fstatSync(b);
  return x.dev === y.dev && x.ino === y.ino;
}
