// A row of the command table (its options, in lib/cli/main.ts) and what a
// verb module exports: one run function, written once against the Backend
// that --connect chose (lib/api/backend.ts).
import type { Backend } from '../api/backend';
import type { Io, Options, Values } from './args';

/** One invocation of a verb. */
export interface Call {
  /** The verb as the command table spells it ('tap create', 'launch'). */
  verb: string;
  /** The arguments after the verb, global options included. */
  args: string[];
  values: Values;
  positionals: string[];
  io: Io;
  /** This host's verbs, or the agent's with --connect. */
  backend: Backend;
  /** --connect SOCKET, when given. */
  connect: string | undefined;
}

/** What a verb module exports for each of its verbs: how it runs. */
export interface Verb {
  run(c: Call): Promise<number>;
}

/** A row of the command table: the verb's options, and its run (its module loaded when it runs). */
export interface Command extends Verb {
  /** The verb's options, beyond the global ones. */
  options?: Options;
  /** Options only without --connect: with it they are unknown options, a usage error. */
  localOptions?: Options;
  /** Done through the agent too, with --connect; otherwise --connect is a usage error. */
  remote?: boolean;
}
