// What a handler of the agent's table gets (the agent's parts it may use)
// and answers.
import type { Admission } from './admission';
import type { AgentLogger } from './options';
import type { Client } from './admission';
import type { Held, Records } from './records';
import type { Op } from './protocol';
import type { LinkInfo } from '../sys/link';

/** What a handler answers: the result, the fds sent with it, and what to do once it is sent. */
export type Result = { result: unknown; fds?: number[]; after?: () => void };

/** What handlers use of the agent. */
export interface Context {
  readonly records: Records;
  readonly admission: Admission;
  /** The agent's log (a request's own log is the handler's `log`). */
  readonly log: AgentLogger;
  /** The agent's options that the probe reads. */
  readonly o: { sysfsRoot?: string | undefined; vhostDevice?: string | undefined; netns?: string | undefined };
  /** How long a departed client's domains wait to be claimed. */
  grace(): number;
  /** The domain has no client: released after the grace period unless claimed. */
  orphan(h: Held): void;
  /** The links of the agent's namespace, as listed after this call (one listing shared by the callers of a burst: listing.ts). */
  links(): Promise<LinkInfo[]>;
  /** Bridges the ACL names whose MAC is not fixed (logged). */
  checkBridges(): Promise<string[]>;
}

/** One operation: `a` are the request's arguments, as parseRequest checked them. */
export type Handler = (ctx: Context, client: Client, a: Record<string, unknown>, log: AgentLogger, op: Op) => Promise<Result>;
