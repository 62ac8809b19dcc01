// The netfd command line: the command table (verb → module and options) and
// main(). Every verb takes --netns NAME|PATH; errors print one line and exit
// non-zero (2 for usage errors). With --connect SOCKET the verbs that can are
// done through the agent: the same module, another Backend.
import fs from 'node:fs';
import path from 'node:path';
import type { Backend, BackendOptions } from '../api/backend';
import { LocalBackend } from '../api/local';
import { RemoteBackend } from '../api/remote';
import { describeError, NetfdError } from '../errors';
import { XEN_FORMATS } from '../xen';
import { connectOption, defaultIo, exportGlobals, Io, parse, splitVerb, str, UsageError, warnTo } from './args';
import type { Command } from './command';
import { globalUsage, verbUsage } from './help';
import { daemon } from './verbs/agent';
import { macvtapCreate, tapCreate } from './verbs/devices';
import { destroy, dumpxml, list } from './verbs/domains';
import { qemuArgv, xen } from './verbs/domxml';
import { attachInterface, detachInterface } from './verbs/hotplug';
import { launch } from './verbs/launch';
import { linkDelete, linkSet, linkShow } from './verbs/link';
import { netAutostart, netDefine, netDestroy, netDumpxml, netList, netStart, netUndefine } from './verbs/networks';
import { probe } from './verbs/probe';

/** `netfd --help`, from the one help table (lib/cli/help.ts). */
export const usage = globalUsage();

/** The command table: each verb once. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  'tap create': tapCreate,
  'macvtap create': macvtapCreate,
  'link show': linkShow,
  'link list': linkShow,
  'link set': linkSet,
  'link delete': linkDelete,
  'link del': linkDelete,
  'domxml-to-native qemu-argv': qemuArgv,
  ...Object.fromEntries(
    XEN_FORMATS.flatMap((f) => [
      [`domxml-to-native ${f}`, xen(f, 'to')],
      [`domxml-from-native ${f}`, xen(f, 'from')],
    ]),
  ),
  launch,
  list,
  destroy,
  dumpxml,
  'attach-interface': attachInterface,
  'detach-interface': detachInterface,
  probe,
  'net-list': netList,
  'net-dumpxml': netDumpxml,
  'net-define': netDefine,
  'net-undefine': netUndefine,
  'net-start': netStart,
  'net-destroy': netDestroy,
  'net-autostart': netAutostart,
  agent: daemon,
};

/** The verbs main() runs: each has a row in the help table (test/unit/cli/help.ts checks). */
export const VERB_NAMES: readonly string[] = Object.keys(COMMANDS);

/** The verbs that --connect sends to the agent. */
export const REMOTE_VERBS: readonly string[] = VERB_NAMES.filter((v) => COMMANDS[v].remote);

/** Makes the Backend a verb runs against: the agent's at `connect`, else this host's. */
export type BackendFactory = (connect: string | undefined, o: BackendOptions) => Backend;

export const defaultBackend: BackendFactory = (connect, o) => (connect === undefined ? new LocalBackend(o) : new RemoteBackend(connect, o));

/** This package's version, from its package.json. */
export function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/** Runs the CLI; returns the exit status. Global options may stand anywhere. */
export async function main(argv: string[], io: Io = defaultIo, backendFor: BackendFactory = defaultBackend): Promise<number> {
  const { verb, rest } = splitVerb(argv, (v) => v in COMMANDS);
  const command = COMMANDS[verb] as Command | undefined;
  if (!command) {
    if (!verb && argv.includes('--version')) {
      io.out(`netfd ${version()}\n`);
      return 0;
    }
    if (argv.includes('--help') || argv.includes('-h') || argv.length === 0) {
      io.out(usage);
      return argv.length === 0 ? 2 : 0;
    }
    io.err(`netfd: unknown command '${verb || argv.join(' ')}'\n${usage}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(verbUsage(verb));
    return 0;
  }
  const connect = connectOption(rest);
  try {
    // The globals reach every layer (and child processes) through their env variables.
    exportGlobals(rest);
    if (connect !== undefined && !command.remote) throw new UsageError(`${verb} is not done through the agent; run it without --connect (as root), or use one of: ${REMOTE_VERBS.join(', ')}`);
    const { values, positionals } = parse(rest, { ...command.options, ...(connect === undefined ? command.localOptions : {}) });
    const backend = backendFor(connect, { stateDir: str(values, 'state-dir'), netns: str(values, 'netns'), vhostDevice: str(values, 'vhost-device'), onWarning: warnTo(io) });
    return await command.run({ verb, args: rest, values, positionals, io, backend, connect });
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`netfd ${verb}: ${err.message}\n`);
      return 2;
    }
    const e = err as NetfdError;
    io.err(`netfd ${verb}: ${e.code ? `${e.code}: ` : ''}${describeError(e)}\n`);
    return 1;
  }
}
