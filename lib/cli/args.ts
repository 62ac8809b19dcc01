// The command line's words: global options, the verb, each verb's options,
// and the small value checks the verbs share.
import fs from 'node:fs';
import { parseArgs, ParseArgsConfig } from 'node:util';
import { ErrnoCode, NetfdError } from '../errors';

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

/** A usage error: exit 2, the message after `netfd VERB: `. */
export class UsageError extends Error {}

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const defaultIo: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/** Options every verb takes. */
export const GLOBAL_OPTIONS: Options = {
  netns: { type: 'string' },
  'vhost-device': { type: 'string' },
  'state-dir': { type: 'string' },
  'config-dir': { type: 'string' },
  'sysfs-root': { type: 'string' },
  connect: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
};

/** Global options that reach every layer (and child processes) through their env variables. */
export const GLOBAL_ENV: Record<string, string> = {
  '--vhost-device': 'NETFD_VHOST_DEVICE',
  '--state-dir': 'NETFD_STATE_DIR',
  '--config-dir': 'NETFD_CONFIG_DIR',
  '--sysfs-root': 'NETFD_SYSFS_ROOT',
};

/** Global options followed by a value. */
export const VALUED_GLOBALS = ['--netns', '--connect', ...Object.keys(GLOBAL_ENV)];

/** A verb's arguments, parsed with the global options and `extra`. */
export function parse(args: string[], extra: Options): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args, options: { ...GLOBAL_OPTIONS, ...extra }, allowPositionals: true, strict: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function str(values: Values, key: string): string | undefined {
  const x = values[key];
  return typeof x === 'string' ? x : undefined;
}

/**
 * The verb (the first one or two words that are not options or option values, as `isVerb` knows
 * them) and the rest of the arguments.
 */
export function splitVerb(argv: string[], isVerb: (verb: string) => boolean): { verb: string; rest: string[] } {
  const words: number[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    if (argv[i] === '--') break;
    const a = argv[i];
    if (VALUED_GLOBALS.includes(a)) i++;
    else if (!a.startsWith('-')) words.push(i);
  }
  // One-word verbs (launch, list, dumpxml) take positionals after them.
  if (words.length === 2 && !isVerb(words.map((i) => argv[i]).join(' ')) && isVerb(argv[words[0]])) words.pop();
  return { verb: words.map((i) => argv[i]).join(' '), rest: argv.filter((_, i) => !words.includes(i)) };
}

/** --connect SOCKET (or --connect=SOCKET), the last one given. */
export function connectOption(args: string[]): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    if (args[i] === '--connect') value = args[++i];
    else if (args[i].startsWith('--connect=')) value = args[i].slice('--connect='.length);
  }
  return value;
}

/** Sets the env variable of each global option given (the last one wins, as in parseArgs). */
export function exportGlobals(args: string[], env: NodeJS.ProcessEnv = process.env): void {
  for (const [option, name] of Object.entries(GLOBAL_ENV))
    args.forEach((a, i) => {
      const value = a === option ? args[i + 1] : a.startsWith(`${option}=`) ? a.slice(option.length + 1) : undefined;
      if (value) env[name] = value;
    });
}

/** A file the user named (a domain, interface or network XML): ENOENT etc. name the file. */
export function readDomainFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new NetfdError(`cannot read ${file}: ${e.message}`, { code: (e.code ?? 'EIO') as ErrnoCode, errno: e.errno, syscall: e.syscall });
  }
}

/** A domain name: not empty, no '/', not '.' or '..'. */
export function checkName(name: string): string {
  if (!name || name.includes('/') || name === '.' || name === '..') throw new NetfdError(`invalid name ${JSON.stringify(name)}`, { code: 'INVALID_ARGUMENT', field: 'name', value: name });
  return name;
}

/** --timeout SECS in milliseconds (default `fallbackSecs`). */
export function timeoutMs(values: Values, fallbackSecs: number): number {
  const t = str(values, 'timeout');
  if (t === undefined) return fallbackSecs * 1000;
  if (!/^\d+(\.\d+)?$/.test(t) || Number(t) <= 0) throw new NetfdError(`invalid timeout ${JSON.stringify(t)}: a positive number of seconds`, { code: 'INVALID_ARGUMENT', field: 'timeout', value: t });
  return Number(t) * 1000;
}

/** Library warnings, printed on stderr. */
export const warnTo = (io: Io) => (message: string) => io.err(`netfd: warning: ${message}\n`);
