// The QMP commands netfd sends, typed, on top of the client (client.ts):
// getfd / closefd (an fd handed to qemu under a name), netdev_add / _del,
// device_add / _del (and waiting for DEVICE_DELETED), query-status,
// query-pci and quit. Each checks its arguments before anything is sent;
// lib/qemu/pci.ts reads query-pci's reply.
import { NetfdError, invalid } from '../../errors';
import { DEFAULT_TIMEOUT, QmpClient, checkFd, checkName, hasTimeout, isObject } from './client';
import { QmpEvent } from './events';

/** `query-status`: whether the guest runs. */
export interface QmpStatus {
  status: string;
  running: boolean;
  singlestep?: boolean;
}

/**
 * A QMP connection with the commands netfd uses. Emits 'event' (QmpEvent)
 * for every async event and 'close' once when the connection is gone; it
 * never emits 'error': failures reject the promises of the calls they
 * concern.
 */
export class Qmp extends QmpClient {
  /**
   * Connects to qemu's QMP socket (`-qmp unix:PATH,server=on,wait=off`),
   * reads the greeting and negotiates capabilities. `timeoutMs` (default
   * 10000) bounds the whole handshake.
   */
  static connect(path: string, o: { timeoutMs?: number | undefined } = {}): Promise<Qmp> {
    return QmpClient.dial((t) => new Qmp(t), path, o);
  }

  /**
   * A monitor on a connected stream socket this process owns, e.g. its end
   * of a socket pair whose other end qemu got as `-chardev socket,fd=N` with
   * `-mon mode=control`: greeting and capabilities as for `connect`. The
   * connection owns `fd` from here on (also when this rejects: it is closed).
   */
  static open(fd: number, o: { timeoutMs?: number | undefined } = {}): Promise<Qmp> {
    return QmpClient.adopt((t) => new Qmp(t), fd, o);
  }

  /** Hands `fd` to qemu under `name` (for netdev_add fd=NAME and the like). The caller still owns (and closes) its copy. */
  async getfd(name: string, fd: number): Promise<void> {
    await this.execute('getfd', { fdname: checkName('name', name) }, { fds: [checkFd('fd', fd)] });
  }

  /** Closes qemu's copy of an fd given with getfd. */
  async closefd(name: string): Promise<void> {
    await this.execute('closefd', { fdname: checkName('name', name) });
  }

  /** netdev_add, e.g. { type: 'tap', id: 'net0', fd: 'tapfd0', vhost: false }. */
  async netdevAdd(args: { type: string; id: string; [key: string]: unknown }): Promise<void> {
    if (!isObject(args)) throw invalid('netdev', args, 'an object with type and id');
    checkName('netdev.type', args.type);
    checkName('netdev.id', args.id);
    await this.execute('netdev_add', args);
  }

  /** `netdev_del`: qemu closes the netdev's fds. */
  async netdevDel(id: string): Promise<void> {
    await this.execute('netdev_del', { id: checkName('id', id) });
  }

  /** device_add, e.g. { driver: 'virtio-net-pci', id: 'nic0', netdev: 'net0', mac: '52:54:00:12:34:56' }. */
  async deviceAdd(args: { driver: string; id?: string | undefined; [key: string]: unknown }): Promise<void> {
    if (!isObject(args)) throw invalid('device', args, 'an object with driver');
    checkName('device.driver', args.driver);
    await this.execute('device_add', args);
  }

  /**
   * device_del: only asks the guest to release the device; it is gone when
   * DEVICE_DELETED arrives. Use deviceDelAndWait to wait for that.
   */
  async deviceDel(id: string): Promise<void> {
    await this.execute('device_del', { id: checkName('id', id) });
  }

  /**
   * device_del, then waits for its DEVICE_DELETED (data.device === id). The
   * waiter is registered before the command is sent, so an event that
   * arrives before the reply is not missed, and older buffered events (an
   * earlier device with the same id) do not count.
   */
  async deviceDelAndWait(id: string, timeoutMs = DEFAULT_TIMEOUT): Promise<QmpEvent> {
    checkName('id', id);
    const w = this.waitFor('DEVICE_DELETED', (ev) => ev.data.device === id || ev.data.path === id, timeoutMs, this.lastEventSeq);
    try {
      await this.execute('device_del', { id }, { timeoutMs });
    } catch (err) {
      w.cancel();
      throw err;
    }
    return w.promise;
  }

  /** query-status: { status: 'running' | 'paused' | 'prelaunch' | ..., running }. */
  async queryStatus(o: { timeoutMs?: number | undefined } = {}): Promise<QmpStatus> {
    return (await this.execute('query-status', undefined, o)) as QmpStatus;
  }

  /** query-pci: qemu's PCI buses and their devices, as qemu sent them (lib/qemu/pci.ts reads it). */
  async queryPci(o: { timeoutMs?: number | undefined } = {}): Promise<unknown> {
    return this.execute('query-pci', undefined, o);
  }

  /**
   * Asks qemu to exit and waits (up to `timeoutMs`) for it to close the
   * connection; the connection is closed either way afterwards.
   */
  async quit(timeoutMs = 10_000): Promise<void> {
    try {
      await this.execute('quit', undefined, { timeoutMs });
    } catch (err) {
      if (!(err instanceof NetfdError && err.code === 'QMP_CLOSED')) {
        await this.close();
        throw err;
      }
    }
    let timer: NodeJS.Timeout | null = null;
    await Promise.race([this.closed, new Promise<void>((r) => (timer = setTimeout(r, hasTimeout(timeoutMs) ? timeoutMs : DEFAULT_TIMEOUT)))]);
    if (timer) clearTimeout(timer);
    await this.close();
  }
}
