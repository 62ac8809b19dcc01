// The netfd command line: the command table (verb → options and the module
// that runs it) and main(). Every verb takes --netns NAME|PATH; errors print
// one line and exit non-zero (2 for usage errors). With --connect SOCKET the
// verbs that can are done through the agent: the same module, another
// Backend. A verb's module (and through it the layers it needs), and the
// Backend's, are loaded only when that verb runs: `netfd list` loads neither
// the other verbs, the agent, pino, the qemu layer nor the addon.
import fs from 'node:fs';
import path from 'node:path';
import type { Backend, BackendOptions } from '../api/backend';
import { describeError, NetfdError } from '../errors';
import { XEN_FORMATS } from '../xen/vif';
import { connectOption, defaultIo, exportGlobals, Io, parse, splitVerb, str, UsageError, warnTo } from './args';
import type { Command, Verb } from './command';
import { globalUsage, verbUsage } from './help';

/** `netfd --help`, from the one help table (lib/cli/help.ts). */
export const usage = globalUsage();

/** A row of the table: the verb's options here, its run in its module, loaded (once) when it runs. */
function verb(load: () => Promise<Verb>, row: Omit<Command, 'run'> = {}): Command {
  return { ...row, run: async (c) => (await load()).run(c) };
}

/** The command table: each verb once. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  'tap create': verb(async () => (await import('./verbs/devices')).tapCreate, {
    options: {
      name: { type: 'string' },
      template: { type: 'string' },
      queues: { type: 'string' },
      'no-vnet-hdr': { type: 'boolean' },
      owner: { type: 'string' },
      group: { type: 'string' },
    },
  }),
  'macvtap create': verb(async () => (await import('./verbs/devices')).macvtapCreate, {
    options: {
      link: { type: 'string' },
      mode: { type: 'string' },
      name: { type: 'string' },
      template: { type: 'string' },
      mac: { type: 'string' },
    },
  }),
  'link show': verb(async () => (await import('./verbs/link')).linkShow),
  'link list': verb(async () => (await import('./verbs/link')).linkShow),
  'link set': verb(async () => (await import('./verbs/link')).linkSet, {
    options: {
      up: { type: 'boolean' },
      down: { type: 'boolean' },
      mac: { type: 'string' },
      master: { type: 'string' },
      nomaster: { type: 'boolean' },
    },
  }),
  'link delete': verb(async () => (await import('./verbs/link')).linkDelete),
  'link del': verb(async () => (await import('./verbs/link')).linkDelete),
  'domxml-to-native qemu-argv': verb(async () => (await import('./verbs/domxml')).qemuArgv, { options: { 'net-only': { type: 'boolean' } } }),
  ...Object.fromEntries(
    XEN_FORMATS.flatMap((f) =>
      (['to', 'from'] as const).map((direction) => [
        `domxml-${direction}-native ${f}`,
        verb(async () => (await import('./verbs/domxml')).xen(f, direction), { options: { 'xend-config-version': { type: 'string' } } }),
      ]),
    ),
  ),
  launch: verb(async () => (await import('./verbs/launch')).launch, {
    options: { qemu: { type: 'string' }, accel: { type: 'string' }, detach: { type: 'boolean' }, 'from-live': { type: 'boolean' } },
    localOptions: { supervise: { type: 'boolean' } },
    remote: true,
  }),
  list: verb(async () => (await import('./verbs/domains')).list, { remote: true }),
  destroy: verb(async () => (await import('./verbs/domains')).destroy, { options: { timeout: { type: 'string' } }, remote: true }),
  dumpxml: verb(async () => (await import('./verbs/domains')).dumpxml, { options: { inactive: { type: 'boolean' } }, remote: true }),
  'attach-interface': verb(async () => (await import('./verbs/hotplug')).attachInterface, { options: { timeout: { type: 'string' } }, remote: true }),
  'detach-interface': verb(async () => (await import('./verbs/hotplug')).detachInterface, { options: { mac: { type: 'string' }, timeout: { type: 'string' } }, remote: true }),
  probe: verb(async () => (await import('./verbs/probe')).probe, {
    options: { only: { type: 'string' } },
    // The agent probes with its own qemu and roots.
    localOptions: { qemu: { type: 'string', multiple: true }, 'dev-root': { type: 'string' }, 'proc-root': { type: 'string' }, 'boot-root': { type: 'string' } },
    remote: true,
  }),
  'net-list': verb(async () => (await import('./verbs/networks')).netList, { options: { all: { type: 'boolean' }, inactive: { type: 'boolean' } }, remote: true }),
  'net-dumpxml': verb(async () => (await import('./verbs/networks')).netDumpxml, { options: { inactive: { type: 'boolean' } }, remote: true }),
  'net-define': verb(async () => (await import('./verbs/networks')).netDefine, { remote: true }),
  'net-undefine': verb(async () => (await import('./verbs/networks')).netUndefine, { remote: true }),
  'net-start': verb(async () => (await import('./verbs/networks')).netStart, { remote: true }),
  'net-destroy': verb(async () => (await import('./verbs/networks')).netDestroy, { remote: true }),
  'net-autostart': verb(async () => (await import('./verbs/networks')).netAutostart, { options: { disable: { type: 'boolean' } }, remote: true }),
  'cni-claim': verb(async () => (await import('./verbs/cni')).cniClaim, { options: { socket: { type: 'string' } } }),
  agent: verb(async () => (await import('./verbs/agent')).daemon, {
    options: {
      socket: { type: 'string' },
      'socket-mode': { type: 'string' },
      'socket-group': { type: 'string' },
      acl: { type: 'string' },
      grace: { type: 'string' },
      'stop-timeout': { type: 'string' },
      'max-clients': { type: 'string' },
      'log-level': { type: 'string' },
      'reserved-for-root': { type: 'string' },
    },
  }),
};

/** The verbs main() runs: each has a row in the help table (test/unit/cli/help.ts checks). */
export const VERB_NAMES: readonly string[] = Object.keys(COMMANDS);

/** The verbs that --connect sends to the agent. */
export const REMOTE_VERBS: readonly string[] = VERB_NAMES.filter((v) => COMMANDS[v].remote);

/** Makes the Backend a verb runs against: the agent's at `connect`, else this host's. */
export type BackendFactory = (connect: string | undefined, o: BackendOptions) => Backend | Promise<Backend>;

/** The agent's Backend at `connect`, else this host's; each module loaded only when chosen. */
export const defaultBackend: BackendFactory = async (connect, o) =>
  connect === undefined ? new (await import('../api/local')).LocalBackend(o) : new (await import('../api/remote')).RemoteBackend(connect, o);

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
    const backend = await backendFor(connect, { stateDir: str(values, 'state-dir'), netns: str(values, 'netns'), vhostDevice: str(values, 'vhost-device'), onWarning: warnTo(io) });
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
