// A netlink handle per network namespace (vishvananda/netlink's
// NewHandleAt): one NETLINK_ROUTE socket opened inside the namespace once and
// reused by every link operation given it, until `close()`. Without a
// handle each operation opens a socket of its own (entering the namespace).
import { call, fromNative, NetfdError } from '../errors';
import { native, NativeNetnsHandle } from './native';
import * as v from '../validate';

/** An open netlink socket in one network namespace; pass it as `netns` to the link wrappers. */
export class NetnsHandle {
  /** The namespace it was opened in (a name under /run/netns or a path). */
  readonly netns: string;
  #handle: NativeNetnsHandle | null;

  private constructor(netns: string, handle: NativeNetnsHandle) {
    this.netns = netns;
    this.#handle = handle;
  }

  /**
   * Opens the socket inside `netns` (a name under /run/netns or a path such
   * as /proc/PID/ns/net). It stays bound to that namespace, even if the name
   * is later removed or reused.
   */
  static async open(netns: string): Promise<NetnsHandle> {
    const ns = v.netns(netns);
    return new NetnsHandle(ns, await call(native().openNetnsHandle({ netns: ns })));
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#handle === null;
  }

  /**
   * The native handle, for lib/sys wrappers; EBADF once closed.
   * @internal
   */
  get native(): NativeNetnsHandle {
    if (this.#handle === null) throw new NetfdError(`the netlink handle of namespace ${this.netns} is closed`, { code: 'EBADF', errno: -9, syscall: 'rtnetlink' });
    return this.#handle;
  }

  /** Closes the socket (after an operation under way). Safe to call twice. */
  close(): void {
    const h = this.#handle;
    if (h === null) return;
    this.#handle = null;
    try {
      native().closeNetnsHandle(h);
    } catch (err) {
      throw fromNative(err);
    }
  }
}
