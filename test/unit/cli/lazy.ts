// The CLI loads only what its verb needs (lib/cli/main.ts): the command
// table names each verb's module, loaded when the verb runs, and the
// Backend's module is loaded when the verb asks for one. Checked in a fresh
// process by what ends up in its module cache, not by timing. The probes run
// the built CLI (dist/, what `netfd` runs; no TypeScript loader in each
// child), each module named by its source (dist/X.js as lib/X.ts), and
// refuse a dist/ older than its source.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';

const root = path.join(__dirname, '..', '..', '..');
const main = path.join(root, 'dist', 'cli', 'main.js');

/** dist/X.js as its source lib/X.ts (refused when the build is older than the source); other files as they are. */
function source(m: string): string {
  const d = /^dist[\\/](.*)\.js$/.exec(m);
  if (!d) return m;
  const src = path.join('lib', `${d[1]}.ts`);
  if (fs.statSync(path.join(root, src)).mtimeMs > fs.statSync(path.join(root, m)).mtimeMs) throw new Error(`${m} is older than ${src}: npm run build`);
  return src;
}

/** Runs main(argv) of the built CLI in a fresh process; its exit status and the files in its module cache (relative to the repository, sources for dist/). */
function loaded(argv: string[]): { code: number; modules: string[] } {
  const probe = `require(${JSON.stringify(main)}).main(${JSON.stringify(argv)}, { out: () => undefined, err: () => undefined }).then((code) => console.log(JSON.stringify({ code, modules: Object.keys(require.cache) })))`;
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', cwd: root, env: { ...process.env, NODE_OPTIONS: '' } });
  if (r.status !== 0) throw new Error(`the probe failed: ${r.stderr}`);
  const { code, modules } = JSON.parse(r.stdout.trim().split('\n').pop() ?? 'null') as { code: number; modules: string[] };
  return {
    code,
    modules: modules
      .map((m) => path.relative(root, m))
      .filter((m) => !m.startsWith('..'))
      .map(source),
  };
}

const verbModules = (modules: string[]) => modules.filter((m) => m.startsWith(path.join('lib', 'cli', 'verbs'))).sort();
const heavy = (modules: string[]) => modules.filter((m) => /node_modules[\\/](pino|@xmldom)[\\/]|^lib[\\/]agent[\\/]|\.node$/.test(m));

t.test('--help and --version load no verb module and no Backend', async (t) => {
  for (const argv of [['--help'], ['--version'], ['list', '--help']]) {
    const r = loaded(argv);
    t.equal(r.code, 0, `${argv.join(' ')} succeeds`);
    t.strictSame(verbModules(r.modules), [], `${argv.join(' ')}: no verb module`);
    t.notOk(
      r.modules.some((m) => m.startsWith(path.join('lib', 'api'))),
      `${argv.join(' ')}: no Backend`,
    );
    t.strictSame(heavy(r.modules), [], `${argv.join(' ')}: neither pino, xmldom, the agent nor the addon`);
  }
});

t.test('list with nothing running loads its own verb module, not the agent, pino, xmldom or the addon', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-lazy-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = loaded(['list', '--state-dir', dir]);
  t.equal(r.code, 0, 'list succeeds');
  t.strictSame(verbModules(r.modules), [path.join('lib', 'cli', 'verbs', 'domains.ts')], 'only the verb module of list');
  t.ok(r.modules.includes(path.join('lib', 'api', 'local.ts')), "this host's Backend");
  t.notOk(r.modules.includes(path.join('lib', 'api', 'remote.ts')), "not the agent's Backend");
  t.strictSame(heavy(r.modules), [], 'neither pino, xmldom, the agent nor the addon');
  t.strictSame(
    r.modules.filter((m) => /^lib[\\/](qemu|host|netdev|network|xml)[\\/]/.test(m)),
    [],
    'no layer that only other verbs (or a listed domain) need',
  );
});

t.test('list with a domain loads what reading it needs', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-lazy-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'g.xml'), "<domain type='kvm'><name>g</name><memory>1024</memory><devices><interface type='ethernet'><target dev='vnet3'/></interface></devices></domain>");
  const r = loaded(['list', '--state-dir', dir]);
  t.equal(r.code, 0, 'list succeeds');
  t.ok(r.modules.includes(path.join('lib', 'xml', 'domain.ts')), 'the domain XML layer');
  t.ok(
    r.modules.some((m) => /node_modules[\\/]@xmldom[\\/]/.test(m)),
    'xmldom, to read its live XML',
  );
  t.strictSame(verbModules(r.modules), [path.join('lib', 'cli', 'verbs', 'domains.ts')], 'only the verb module of list');
});

t.test('with --connect the Backend is the remote one, loaded instead of the local one', async (t) => {
  const r = loaded(['list', '--connect', path.join(os.tmpdir(), 'netfd-lazy-nonexistent.sock')]);
  t.equal(r.code, 1, 'no agent there');
  t.ok(r.modules.includes(path.join('lib', 'api', 'remote.ts')), "the agent's Backend");
  t.notOk(r.modules.includes(path.join('lib', 'api', 'local.ts')), "not this host's Backend");
  t.notOk(
    r.modules.some((m) => /node_modules[\\/]pino[\\/]|^lib[\\/]agent[\\/]server/.test(m)),
    'neither pino nor the agent server',
  );
});

t.test('the agent verb loads pino and the agent server; a Xen conversion loads xmldom', async (t) => {
  const agent = loaded(['agent', '--log-level', 'bogus']);
  t.equal(agent.code, 1, 'a bad log level is refused before the agent starts');
  t.ok(
    agent.modules.some((m) => /node_modules[\\/]pino[\\/]/.test(m)),
    'pino',
  );
  t.ok(agent.modules.includes(path.join('lib', 'agent', 'server.ts')), 'the agent server');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-lazy-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'g.xml');
  fs.writeFileSync(file, "<domain type='xen'><name>g</name><memory>1024</memory><os><type>hvm</type></os></domain>");
  const xen = loaded(['domxml-to-native', 'xen-xl', file]);
  t.equal(xen.code, 0, 'the domain converts');
  t.strictSame(verbModules(xen.modules), [path.join('lib', 'cli', 'verbs', 'domxml.ts')], 'only the verb module of domxml-to-native');
  t.ok(
    xen.modules.some((m) => /node_modules[\\/]@xmldom[\\/]/.test(m)),
    'xmldom, to parse the XML',
  );
});

t.test("launching loads the networks' store only for a domain that uses a network", async (t) => {
  // What `netfd launch` loads to prepare a domain and run qemu (its static imports), probed alone.
  const probe = `require(${JSON.stringify(path.join(root, 'dist', 'qemu', 'launch.js'))}); console.log(JSON.stringify(Object.keys(require.cache)))`;
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', cwd: root, env: { ...process.env, NODE_OPTIONS: '' } });
  t.equal(r.status, 0, r.stderr);
  const modules = (JSON.parse(r.stdout.trim()) as string[])
    .map((m) => path.relative(root, m))
    .filter((m) => !m.startsWith('..'))
    .map(source);
  t.ok(modules.includes(path.join('lib', 'netdev', 'network.ts')), 'the domain side of networks (allocateFor, releaseFor)');
  t.strictSame(
    modules.filter((m) => /^lib[\\/]network[\\/]|^lib[\\/]netdev[\\/]networks\.ts$/.test(m)),
    [],
    "not the networks' store: networksFor loads it when an interface has type='network'",
  );
});
