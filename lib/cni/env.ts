// The CNI_* environment a runtime runs a plugin with, checked per command as
// the spec says: a missing or malformed variable is error 4 naming every
// variable that is wrong. Pure: the environment comes in as a plain object.
import * as v from '../validate';
import { CNI_CODES, CniError, unsupportedField } from './errors';

/** The commands of spec 1.1.0. */
export const CNI_COMMANDS = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'] as const;
export type CniCommand = (typeof CNI_COMMANDS)[number];

/** The variables a plugin reads. */
export const CNI_VARIABLES = ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH'] as const;
export type CniVariable = (typeof CNI_VARIABLES)[number];

type Need = 'required' | 'optional' | 'unused';
/**
 * Which variables each command needs (CNI_COMMAND always). DEL may come
 * without CNI_NETNS (the namespace is gone); GC and STATUS act on the whole
 * network, VERSION on nothing. A variable a command does not use is not read.
 */
export const NEEDS: Readonly<Record<CniCommand, Readonly<Record<Exclude<CniVariable, 'CNI_COMMAND'>, Need>>>> = {
  ADD: { CNI_CONTAINERID: 'required', CNI_NETNS: 'required', CNI_IFNAME: 'required', CNI_ARGS: 'optional', CNI_PATH: 'required' },
  CHECK: { CNI_CONTAINERID: 'required', CNI_NETNS: 'required', CNI_IFNAME: 'required', CNI_ARGS: 'optional', CNI_PATH: 'required' },
  DEL: { CNI_CONTAINERID: 'required', CNI_NETNS: 'optional', CNI_IFNAME: 'required', CNI_ARGS: 'optional', CNI_PATH: 'required' },
  GC: { CNI_CONTAINERID: 'unused', CNI_NETNS: 'unused', CNI_IFNAME: 'unused', CNI_ARGS: 'optional', CNI_PATH: 'optional' },
  STATUS: { CNI_CONTAINERID: 'unused', CNI_NETNS: 'unused', CNI_IFNAME: 'unused', CNI_ARGS: 'optional', CNI_PATH: 'optional' },
  VERSION: { CNI_CONTAINERID: 'unused', CNI_NETNS: 'unused', CNI_IFNAME: 'unused', CNI_ARGS: 'unused', CNI_PATH: 'unused' },
};

/** The environment of one call, checked. */
export interface CniEnv {
  command: CniCommand;
  containerId?: string;
  /** An absolute path to the container's network namespace (/proc/PID/ns/net, /var/run/netns/NAME). */
  netns?: string;
  ifname?: string;
  /** CNI_ARGS as KEY=VALUE pairs, in order. */
  args: [string, string][];
  /** CNI_PATH split on ':'. */
  path: string[];
}

/** The spec's container id: an alphanumeric first character, then alphanumerics, '_', '.' or '-'. */
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Why a CNI_ARGS value is malformed, or null: KEY=VALUE pairs separated by ';'. */
function parseArgs(s: string): [string, string][] | string {
  if (s === '') return [];
  const out: [string, string][] = [];
  for (const pair of s.split(';')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return `${JSON.stringify(pair)} is not KEY=VALUE (pairs are separated by ';')`;
    out.push([pair.slice(0, eq), pair.slice(eq + 1)]);
  }
  return out;
}

/**
 * Reads and checks the environment of one call. Throws CniError 4 naming
 * every variable that is missing or malformed, and why.
 */
export function parseEnv(env: Readonly<Record<string, string | undefined>>): CniEnv {
  const cmd = env.CNI_COMMAND;
  if (cmd === undefined || cmd === '') throw new CniError(CNI_CODES.INVALID_ENVIRONMENT, `CNI_COMMAND is not set (one of ${CNI_COMMANDS.join(', ')})`);
  if (!(CNI_COMMANDS as readonly string[]).includes(cmd))
    throw new CniError(CNI_CODES.INVALID_ENVIRONMENT, `CNI_COMMAND ${JSON.stringify(cmd)} is not a CNI command (one of ${CNI_COMMANDS.join(', ')})`);
  const command = cmd as CniCommand;
  const needs = NEEDS[command];
  const problems: string[] = [];
  const out: CniEnv = { command, args: [], path: [] };
  const read = (name: keyof typeof needs): string | undefined => {
    if (needs[name] === 'unused') return undefined;
    const x = env[name];
    if (x === undefined || x === '') {
      if (needs[name] === 'required') problems.push(`${name} is not set (${command} needs it)`);
      return undefined;
    }
    return x;
  };
  const id = read('CNI_CONTAINERID');
  if (id !== undefined) {
    if (CONTAINER_ID.test(id)) out.containerId = id;
    else problems.push(`CNI_CONTAINERID ${JSON.stringify(id)} is not a container id (an alphanumeric character, then alphanumerics, '_', '.' or '-')`);
  }
  const netns = read('CNI_NETNS');
  if (netns !== undefined) {
    if (netns.startsWith('/') && !netns.includes('\0')) out.netns = netns;
    else problems.push(`CNI_NETNS ${JSON.stringify(netns)} is not an absolute path to a network namespace`);
  }
  const ifname = read('CNI_IFNAME');
  if (ifname !== undefined) {
    try {
      out.ifname = v.ifname(ifname, 'CNI_IFNAME');
    } catch (e) {
      problems.push(`CNI_IFNAME ${JSON.stringify(ifname)} is not an interface name (${(e as Error).message.replace(/^invalid CNI_IFNAME "[^"]*": /, '')})`);
    }
  }
  const args = read('CNI_ARGS');
  if (args !== undefined) {
    const a = parseArgs(args);
    if (typeof a === 'string') problems.push(`CNI_ARGS: ${a}`);
    else out.args = a;
  }
  const p = read('CNI_PATH');
  if (p !== undefined) out.path = p.split(':').filter((x) => x !== '');
  if (problems.length) throw new CniError(CNI_CODES.INVALID_ENVIRONMENT, `invalid environment: ${problems.join('; ')}`);
  return out;
}

/**
 * CNI_ARGS for ADD and CHECK: netfd reads no key of its own, so any key is
 * refused (2, naming it) unless `IgnoreUnknown=1` (or `true`) is among them,
 * as the reference plugins do; runtimes such as Kubernetes set it with
 * their K8S_POD_* keys.
 */
export function checkArgs(args: readonly [string, string][]): void {
  const ignore = args.some(([k, val]) => k === 'IgnoreUnknown' && ['1', 'true', 'True', 'TRUE'].includes(val));
  if (ignore) return;
  const other = args.find(([k]) => k !== 'IgnoreUnknown');
  if (other) throw unsupportedField(`CNI_ARGS ${other[0]}`, other[1], 'netfd reads no CNI_ARGS key; set IgnoreUnknown=1 to pass others');
}
