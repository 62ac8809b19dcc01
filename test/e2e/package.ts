// What a VM-manager author does with netfd: `npm pack`, install the tarball
// into an empty project (the addon is built there by node-gyp, from the npm
// cache: --prefer-offline), compile a strict TypeScript program that imports
// only from 'netfd' (test/fixtures/package/consumer.ts; and one against
// 'netfd/agent'), and run it as root in a scratch network namespace: a tap on
// a bridge and a macvtap on a veth prepared, argv and fds printed, torn
// down; the host probed; a launch with a missing kernel refused with
// QEMU_FAILED. Everything is made in a temporary directory and the
// namespace, and removed at the end, also on failure.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { linkNames } from '../helpers/e2e';
import { ip, needsRoot, withNetns } from '../helpers/host';

const root = path.join(__dirname, '..', '..');
const fixtures = path.join(__dirname, '..', 'fixtures', 'package');
const tsc = require.resolve('typescript/bin/tsc');
const typeRoots = path.join(root, 'node_modules', '@types');

t.setTimeout(300_000);

/** Runs a command to its end (without blocking the event loop); rejects with its output when it fails. */
function sh(cmd: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, timeout: o.timeoutMs ?? 180_000, maxBuffer: 64 << 20, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed (${err.message.split('\n')[0]}):\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** The sources of the package as a checkout holds them: no build output, no node_modules (linked back for tsc). */
function stage(dir: string): string {
  const src = path.join(dir, 'src');
  const skip = new Set(['node_modules', 'build', 'build-cmake', 'dist', '.git', '.cache', '.tap', 'coverage']);
  fs.cpSync(root, src, { recursive: true, filter: (p) => !(path.dirname(p) === root && skip.has(path.basename(p))) && !p.endsWith('.tgz') });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(src, 'node_modules'));
  return src;
}

// Past the suite's 300 s per file: the install alone may take longer on a slow machine.
t.setTimeout(900_000);

t.test('npm pack, install the tarball, compile a strict consumer, run it as root', { skip: needsRoot }, async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-package-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

  // npm pack runs `prepare` (a clean tsc build) in a copy, so the checkout's dist/ is left alone.
  const src = stage(tmp);
  const packed = JSON.parse((await sh('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: src })).stdout.replace(/^[^[]*/, '')) as { filename: string; files: { path: string }[] }[];
  const files = packed[0].files.map((f) => f.path);
  t.ok(files.includes('LICENSE'), 'LICENSE is packed');
  t.ok(files.includes('scripts/netfd-agent.socket') && files.includes('scripts/netfd-agent.service'), 'the systemd units the README tells users to copy are packed');
  t.ok(files.includes('dist/index.d.ts') && files.includes('dist/agent/index.js'), 'both entry points are packed');
  t.strictSame(
    files.filter((f) => f.endsWith('.map') || f.startsWith('lib/') || f.startsWith('test/')),
    [],
    'no source maps, TypeScript sources or tests',
  );

  // An empty project, as `npm init -y` makes one; the addon builds on install.
  const proj = path.join(tmp, 'proj');
  fs.mkdirSync(proj);
  fs.writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  // The install builds the addon with node-gyp: about a minute here, over three on a slow day.
  await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', path.join(tmp, packed[0].filename)], {
    cwd: proj,
    env: { ...process.env, JOBS: 'max' },
    timeoutMs: 480_000,
  });
  const pkg = path.join(proj, 'node_modules', 'netfd');
  t.ok(fs.existsSync(path.join(pkg, 'build', 'Release', 'netfd.node')), 'node-gyp built the addon at install');

  // The exports map: two entry points, nothing else; the main one loads no agent and no pino.
  const probe = `
    const m = require('netfd');
    const loaded = Object.keys(require.cache).filter((k) => /[\\\\/]node_modules[\\\\/](pino|thread-stream)[\\\\/]|[\\\\/]netfd[\\\\/]dist[\\\\/]agent[\\\\/]/.test(k));
    let internal = null;
    try { require('netfd/dist/sys/native'); } catch (e) { internal = e.code; }
    console.log(JSON.stringify({ loaded, internal, native: typeof m.native, hostAttach: typeof m.hostAttach, probeHost: typeof m.probeHost, agent: typeof require('netfd/agent').AgentClient }));`;
  t.strictSame(JSON.parse((await sh(process.execPath, ['-e', probe], { cwd: proj })).stdout), {
    loaded: [],
    internal: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    native: 'undefined',
    hostAttach: 'undefined',
    probeHost: 'function',
    agent: 'function',
  });
  const bin = path.join(proj, 'node_modules', '.bin', 'netfd');
  const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  t.equal((await sh(bin, ['--version'])).stdout, `netfd ${version}\n`, 'the CLI bin works from the installed package');
  t.match((await sh(bin, ['tap', 'create', '--help'])).stdout, /^usage: netfd \[GLOBAL OPTIONS\] tap create /, "and shows a verb's help");

  // The consumer, strict, exact optional properties; node16 (exports map) and node10 (typesVersions).
  for (const f of ['consumer.ts', 'agent-types.ts']) fs.copyFileSync(path.join(fixtures, f), path.join(proj, f));
  const common = ['--strict', '--exactOptionalPropertyTypes', '--target', 'es2022', '--types', 'node', '--typeRoots', typeRoots];
  await sh(process.execPath, [tsc, ...common, '--module', 'node16', '--outDir', 'out', 'consumer.ts', 'agent-types.ts'], { cwd: proj });
  await sh(process.execPath, [tsc, ...common, '--module', 'commonjs', '--moduleResolution', 'node10', '--noEmit', 'consumer.ts', 'agent-types.ts'], { cwd: proj });
  t.pass('the consumer compiles with --strict --exactOptionalPropertyTypes (node16 and node10 resolution)');

  const state = path.join(tmp, 'state');
  fs.mkdirSync(state);
  await withNetns(
    t,
    async (ns) => {
      const before = linkNames(ns);
      const out = (await sh(process.execPath, [path.join(proj, 'out', 'consumer.js'), ns, state], { cwd: proj, timeoutMs: 120_000 })).stdout;
      t.comment(
        out
          .trim()
          .split('\n')
          .map((l) => `consumer: ${l}`)
          .join('\n'),
      );
      const line = (tag: string) =>
        out
          .split('\n')
          .filter((l) => l.startsWith(`${tag} `))
          .map((l) => l.slice(tag.length + 1));
      t.match(line('PREPARED')[0], /^tap:vnet\d+ macvtap:macvtap\d+$/, 'a tap (on br0) and a macvtap (on v0) were prepared');
      const argv = JSON.parse(line('ARGV')[0]) as string[];
      t.ok(argv.includes('tap,id=hostnet0,fd=3,vhost=off') && argv.includes('tap,id=hostnet1,fd=4,vhost=off'), 'the argv numbers the fds 3 and 4');
      t.strictSame(
        JSON.parse(line('NETARGV')[0]),
        argv.filter((a, i) => /^-(netdev|device)$/.test(a) || /^-(netdev|device)$/.test(argv[i - 1] ?? '')),
        "netArgv(netArgs()) is the argv's -netdev/-device part",
      );
      t.equal((JSON.parse(line('FDS')[0]) as number[]).length, 2, 'qemuFds(): one fd per queue');
      const child = line('CHILD-FD');
      t.match(child[0], /^3 \/dev\/net\/tun$/, 'the child has the tap at fd 3');
      t.match(child[1], /^4 .*tap\d+$/, 'and the macvtap at fd 4');
      t.ok(out.includes('\nTORN-DOWN\n'), 'teardown ran');
      t.strictSame(line('PROBE'), ['tun PASS', 'bridge PASS'], 'probeHost({ only }) ran just those checks');
      t.match(line('LAUNCH-ERROR')[0], /^QEMU_FAILED .*nonexistent\/vmlinux/, "a launch with a missing kernel rejects with QEMU_FAILED and qemu's reason");
      t.ok(out.includes('\nDONE\n'), 'the consumer finished');
      t.strictSame(linkNames(ns), before, 'no device left in the namespace');
      t.strictSame(fs.readdirSync(state), [], 'no state left');
      t.notMatch(ip(['netns', 'list']), new RegExp(`^netfd-probe-${line('PID')[0]}\\b`, 'm'), "the probe's scratch namespace is gone");
    },
    { bridge: true },
  );
});
