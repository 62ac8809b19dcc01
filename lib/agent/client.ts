// The agent's client: one connection, requests matched to replies by id,
// fds received with the reply that names them (owned by the caller).
import { NetfdError } from '../errors';
import { native, NativeMessage } from '../sys/native';
import { UnixSocket } from '../sys/unixsock';
import { Conn } from './conn';
import { DEFAULT_SOCKET, encodeRequest, MAX_REPLY, Op, parseReply, replyError } from './protocol';

/** A successful reply: its result and the fds that came with it. */
export interface Answer<T = unknown> {
  result: T;
  /** fds that came with the reply, in the order the result describes: the caller owns them. */
  fds: number[];
}

interface Waiting {
  resolve: (a: Answer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One connection to the host agent (`netfd agent`). Requests are matched to replies by id, so several
 * may be in flight; fds that come with a reply are the caller's to close. Made with {@link
 * AgentClient.connect}.
 */
export class AgentClient {
  readonly socket: string;
  readonly #conn: Conn;
  readonly #waiting = new Map<number, Waiting>();
  #nextId = 1;
  /** Why the connection ended: the agent's refusal (EAGAIN…) or ECONNRESET. */
  #ended: NetfdError | undefined;
  /** Called once when the connection ends (the agent stopped or went away). */
  onClose: ((why: string) => void) | undefined;

  private constructor(socket: string, sock: UnixSocket) {
    this.socket = socket;
    this.#conn = new Conn(sock, {
      maxBytes: MAX_REPLY,
      maxFds: 253,
      onMessage: (m) => this.#message(m),
      onClose: (why) => {
        const ended = (this.#ended ??= new NetfdError(`the agent connection closed (${why})`, { code: 'ECONNRESET' }));
        for (const [, w] of this.#waiting) {
          clearTimeout(w.timer);
          w.reject(ended);
        }
        this.#waiting.clear();
        this.onClose?.(why);
      },
    });
  }

  /** Connects to the agent at `socket` (default /run/netfd/agent.sock). */
  static async connect(socket: string = DEFAULT_SOCKET): Promise<AgentClient> {
    let sock: UnixSocket;
    try {
      sock = await UnixSocket.connect(socket, 'seqpacket');
    } catch (err) {
      const e = err as NetfdError;
      const hint = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'is `netfd agent` running?' : e.code === 'EACCES' ? 'the socket is not open to you: ask for its group (--socket-group)' : '';
      throw new NetfdError(`cannot connect to the netfd agent at ${socket}: ${e.message}${hint ? `; ${hint}` : ''}`, { code: e.code ?? 'ECONNREFUSED', field: 'connect', value: socket });
    }
    return new AgentClient(socket, sock);
  }

  /** True once the connection has ended (closed here, or by the agent). */
  get closed(): boolean {
    return this.#conn.closed;
  }

  /** Sends one request; resolves with its result and fds, rejects with the agent's error (code, field, value, rule). */
  request<T = unknown>(op: Op, args: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<Answer<T>> {
    if (this.#conn.closed) return Promise.reject(this.#ended ?? new NetfdError('the agent connection is closed', { code: 'ECONNRESET' }));
    const id = this.#nextId++;
    return new Promise<Answer<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new NetfdError(`the agent did not answer ${op} within ${timeoutMs} ms`, { code: 'ETIMEDOUT' }));
      }, timeoutMs);
      this.#waiting.set(id, { resolve: resolve as (a: Answer) => void, reject, timer });
      this.#conn.send(encodeRequest(id, op, args)).catch((e) => {
        clearTimeout(timer);
        this.#waiting.delete(id);
        reject(e);
      });
    });
  }

  /**
   * Closes the connection; requests still waiting reject with ECONNRESET. The agent releases this
   * connection's domains after its grace period unless another connection claims them.
   */
  close(): void {
    this.#conn.close('closed by the client');
  }

  #message(m: NativeMessage): void {
    const closeAll = () => m.fds.forEach((fd) => native().close(fd));
    let reply;
    try {
      if (m.truncated) throw new NetfdError(`the agent sent a reply of ${m.size} bytes; at most ${MAX_REPLY} are read`, { code: 'PROTOCOL_ERROR' });
      reply = parseReply(m.data);
    } catch (e) {
      closeAll();
      this.#conn.close((e as Error).message);
      return;
    }
    const w = reply.id === null ? undefined : this.#waiting.get(reply.id);
    if (!w) {
      closeAll();
      // An error without an id is about the connection (the agent refused
      // it: too many connections, stopping) and the agent closes it: every
      // request fails with the agent's code and message.
      if (!reply.ok && reply.id === null) {
        const refused = replyError(reply.error);
        this.#ended ??= new NetfdError(`the agent refused the connection: ${refused.message}`, { code: refused.code, field: refused.field, value: refused.value, cause: refused });
        this.#conn.close(this.#ended.message);
      }
      return;
    }
    this.#waiting.delete(reply.id as number);
    clearTimeout(w.timer);
    if (!reply.ok) {
      closeAll();
      w.reject(replyError(reply.error));
      return;
    }
    if (m.ctrunc || m.fds.length !== (reply.fds ?? 0)) {
      closeAll();
      w.reject(new NetfdError(`the agent's reply announced ${reply.fds ?? 0} fds but ${m.fds.length}${m.ctrunc ? '+' : ''} arrived`, { code: 'PROTOCOL_ERROR' }));
      return;
    }
    w.resolve({ result: reply.result, fds: m.fds });
  }
}
