// The verbs as one interface: both backends have exactly the verbs of
// Backend (checked by the compiler and at run time), and each CLI verb is
// written once: the same module runs with and without --connect, asking the
// Backend the same thing and printing the same output.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Backend, BACKEND_VERBS, BackendVerb, Running } from '../../../lib/api/backend';
import { LocalBackend } from '../../../lib/api/local';
import { RemoteBackend } from '../../../lib/api/remote';
import { COMMANDS, REMOTE_VERBS } from '../../../lib/cli/main';
import { cliWith } from '../../helpers/cli';

// Type level: the list names every verb of Backend and nothing else, and each backend's public
// methods are exactly those verbs (a verb added to one backend only does not compile).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Methods<T> = { [K in keyof T]: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T];
const sameVerbs: Same<keyof Backend, BackendVerb> = true;
const localVerbs: Same<Methods<LocalBackend>, BackendVerb> = true;
const remoteVerbs: Same<Methods<RemoteBackend>, BackendVerb> = true;

const methodsOf = (c: { prototype: object }) =>
  Object.getOwnPropertyNames(c.prototype)
    .filter((n) => n !== 'constructor')
    .sort();

t.test('both backends have the same verbs, those of Backend', async (t) => {
  t.ok(sameVerbs && localVerbs && remoteVerbs, 'checked by the compiler');
  t.strictSame(methodsOf(LocalBackend), [...BACKEND_VERBS].sort(), 'LocalBackend');
  t.strictSame(methodsOf(RemoteBackend), [...BACKEND_VERBS].sort(), 'RemoteBackend');
});

/** A Backend that records what it is asked and answers the same whatever made it. */
function recorder(calls: [BackendVerb, unknown[]][]): Backend {
  const running: Running = {
    name: 'g',
    pid: 42,
    qmp: '/q/g.qmp',
    runState: null,
    live: '/s/g.xml',
    agent: null,
    exited: Promise.resolve({ code: 0, signal: null }),
    stop: async () => undefined,
    close: () => undefined,
  };
  const answers: Record<BackendVerb, unknown> = {
    launch: running,
    launchMany: [running, { ...running, name: 'h', pid: 43 }],
    list: [{ pid: 42, name: 'g', state: 'running', interfaces: [{ dev: 'vnet0', type: 'bridge', source: {} }] }],
    destroy: { tornDown: null },
    dumpxml: '<domain/>\n',
    attachInterface: { alias: 'net1', mac: '52:54:00:00:00:01', targetDev: 'vnet1', driver: 'qemu', pci: '00:04.0' },
    detachInterface: { alias: 'net1', mac: '52:54:00:00:00:01', targetDev: 'vnet1', deleted: ['vnet1'] },
    probe: { version: 1, kernel: '6.1', checks: [], ok: true },
    netDefine: { name: 'n', uuid: '00000000-0000-0000-0000-000000000000', redefined: false },
    netUndefine: { active: false },
    netStart: { pool: [{ dev: 'p0', connections: 1 }], warnings: ['w'] },
    netDestroy: { warnings: [] },
    netList: { rows: [{ name: 'n', uuid: null, active: true, autostart: false, persistent: true, connections: 0 }], warnings: [] },
    netDumpxml: '<network/>\n',
    netAutostart: undefined,
  };
  return Object.fromEntries(
    BACKEND_VERBS.map((verb) => [
      verb,
      async (...args: unknown[]) => {
        calls.push([verb, args.map((a) => (a && typeof a === 'object' && 'def' in a ? `DomainXml ${(a as unknown as { text: string }).text}` : a))]);
        return answers[verb];
      },
    ]),
  ) as unknown as Backend;
}

t.test('each verb is written once: the same module, the same requests, the same output, with and without --connect', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-api-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => (fs.writeFileSync(path.join(dir, name), text), path.join(dir, name));
  const dom = file('g.xml', "<domain type='qemu'><name>g</name><memory>1024</memory></domain>");
  const nic = file('nic.xml', "<interface type='ethernet'/>");
  const net = file('n.xml', '<network><name>n</name></network>');
  const argv: Record<string, string[]> = {
    launch: ['launch', dom],
    list: ['list'],
    destroy: ['destroy', 'g', '--timeout', '3'],
    dumpxml: ['dumpxml', 'g', '--inactive'],
    'attach-interface': ['attach-interface', 'g', nic, '--json'],
    'detach-interface': ['detach-interface', 'g', '--mac', '52:54:00:00:00:01'],
    probe: ['probe', '--json', '--only', 'tun'],
    'net-list': ['net-list', '--all'],
    'net-dumpxml': ['net-dumpxml', 'n'],
    'net-define': ['net-define', net],
    'net-undefine': ['net-undefine', 'n'],
    'net-start': ['net-start', 'n'],
    'net-destroy': ['net-destroy', 'n'],
    'net-autostart': ['net-autostart', 'n', '--disable'],
  };
  t.strictSame([...REMOTE_VERBS].sort(), Object.keys(argv).sort(), 'the verbs done through the agent');
  const used = new Set<BackendVerb>();
  for (const verb of REMOTE_VERBS) {
    const seen: { connect: string | undefined; calls: [BackendVerb, unknown[]][]; r: unknown }[] = [];
    for (const connect of [undefined, '/nonexistent/agent.sock']) {
      const calls: [BackendVerb, unknown[]][] = [];
      const made: (string | undefined)[] = [];
      const r = await cliWith((c) => (made.push(c), recorder(calls)), ...(connect ? ['--connect', connect] : []), ...argv[verb]);
      t.strictSame(made, [connect], `${verb}: one backend, chosen by --connect`);
      seen.push({ connect, calls, r });
    }
    const [local, remote] = seen;
    t.equal((local.r as { code: number }).code, 0, `${verb} runs: ${JSON.stringify(local.r)}`);
    t.ok(local.calls.length > 0, `${verb} asks its backend`);
    t.strictSame(remote.calls, local.calls, `${verb}: the same requests through the agent`);
    t.strictSame(remote.r, local.r, `${verb}: the same output and exit status`);
    for (const [m] of local.calls) used.add(m);
  }
  // launch of several files: the same verb, asking launchMany (refused by the agent's backend itself).
  {
    const dom2 = file('h.xml', "<domain type='qemu'><name>h</name><memory>1024</memory></domain>");
    const seen: { calls: [BackendVerb, unknown[]][]; r: unknown }[] = [];
    for (const connect of [undefined, '/nonexistent/agent.sock']) {
      const calls: [BackendVerb, unknown[]][] = [];
      seen.push({ calls, r: await cliWith(() => recorder(calls), ...(connect ? ['--connect', connect] : []), 'launch', dom, dom2) });
    }
    t.equal((seen[0].r as { code: number }).code, 0, `launch of two runs: ${JSON.stringify(seen[0].r)}`);
    t.strictSame(
      seen[0].calls.map(([m]) => m),
      ['launchMany'],
      'launch of two files asks launchMany once',
    );
    t.strictSame(seen[1], seen[0], 'the same request and output through the agent');
    used.add('launchMany');
  }
  t.strictSame([...used].sort(), [...BACKEND_VERBS].sort(), 'every Backend verb is some CLI verb');
});

t.test('verb modules know no backend: they get the one --connect chose', async (t) => {
  const verbs = path.join(__dirname, '..', '..', '..', 'lib', 'cli', 'verbs');
  for (const f of fs.readdirSync(verbs)) {
    const text = fs.readFileSync(path.join(verbs, f), 'utf8');
    t.notMatch(text, /api\/(local|remote)'|agent\/client'|Remote\b/, `${f} does not pick a backend`);
  }
  t.ok(
    Object.values(COMMANDS).every((c) => typeof c.run === 'function'),
    'one run function per command',
  );
});
