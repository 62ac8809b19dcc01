// The agent's options and what it logs through.
import type { LimitKind } from './acl/syntax';
import type { Accounts } from './acl/accounts';

/** Where the agent reads its ACL unless told otherwise. */
export const DEFAULT_ACL = '/etc/netfd/acl.conf';
/** How long `stop()` (SIGTERM) waits for requests in flight by default. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

/** How an {@link Agent} listens, decides and keeps state; every field has a default. */
export interface AgentOptions {
  /** The socket path to create (default /run/netfd/agent.sock); ignored with `listenFd`. */
  socket?: string | undefined;
  /** An inherited listening socket (systemd socket activation). */
  listenFd?: number | undefined;
  /** Permissions of a created socket (default 0o660). */
  socketMode?: number | undefined;
  /** Group of a created socket (name or gid). */
  socketGroup?: string | number | undefined;
  /** The ACL file (default /etc/netfd/acl.conf); a missing file denies everything. */
  acl?: string | undefined;
  /** Live state directory (default NETFD_STATE_DIR or /run/netfd/qemu). */
  stateDir?: string | undefined;
  configDir?: string | undefined;
  sysfsRoot?: string | undefined;
  netns?: string | undefined;
  vhostDevice?: string | undefined;
  /** How long a departed client's domains wait to be claimed (default 30 s). */
  graceMs?: number | undefined;
  /** Connections at once, all users together (default 1024). */
  maxClients?: number | undefined;
  /** Connections of those kept for root: other users get at most maxClients - this (default 16). */
  reservedForRoot?: number | undefined;
  /**
   * How long SIGTERM waits for requests in flight and their replies (default
   * 10 s); then every connection is closed, whatever it has not read.
   */
  stopTimeoutMs?: number | undefined;
  /** Requests one connection may have in flight (default 8). */
  maxInFlight?: number | undefined;
  /** Requests per second per user, and the burst (default 200 and 400). */
  rate?: { perSecond: number; burst: number } | undefined;
  /** Per-user bounds where the ACL has no `limit` line (default USER_LIMITS). */
  userLimits?: Partial<Record<LimitKind, number | null>> | undefined;
  /** User and group lookups (default: the system's name service switch, nssAccounts). */
  accounts?: Accounts | undefined;
  /** Where the agent logs (default: pino JSON lines on stderr). A pino logger fits. */
  logger?: AgentLogger | undefined;
}

/**
 * What the agent logs through: pino's `Logger` fits, and so does anything
 * with these methods. Typed here, not as pino's, so that a program compiling
 * against `netfd/agent` does not need pino's typings and their compiler options.
 */
export interface AgentLogger {
  /** A logger that adds `bindings` to every line. */
  child(bindings: Record<string, unknown>): AgentLogger;
  /** Failures the agent recovers from. */
  error(obj: object | string, msg?: string): void;
  /** Refusals, and what an operator should look at. */
  warn(obj: object | string, msg?: string): void;
  /** One line per request, and the agent's life cycle. */
  info(obj: object | string, msg?: string): void;
  /** Connections coming and going. */
  debug(obj: object | string, msg?: string): void;
}
