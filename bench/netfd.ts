// The code under test, loaded as `npm run bench` runs it: the built library in
// dist/ (typed from its sources in lib/), the CLI in bin/, and the guest and
// SR-IOV fixture scripts. The bench runs compiled from dist-bench/bench/, the
// type-check sees it in bench/: both load these by path from the checkout's
// root, not by a relative import that would differ between the two.
import fs from 'node:fs';
import path from 'node:path';

/** The checkout: the first directory up from here whose package.json is netfd's. */
function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      if ((JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'netfd') return dir;
    } catch {
      // no package.json here
    }
    if (path.dirname(dir) === dir) throw new Error(`no netfd checkout above ${from}`);
  }
}

export const ROOT = findRoot(__dirname);
/** The CLI, run as `node NETFD_BIN ...`. */
export const NETFD_BIN = path.join(ROOT, 'bin', 'netfd.js');

function load<T>(rel: string): T {
  const file = path.join(ROOT, rel);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a path known only at run time
    return require(file) as T;
  } catch (err) {
    if (rel.startsWith('dist/')) throw new Error(`cannot load ${file} (run \`npx tsc -p .\` and build the addon first): ${(err as Error).message}`, { cause: err });
    throw err;
  }
}

export type Netfd = typeof import('../lib/index');
export type NetfdAgent = typeof import('../lib/agent/index');
export type AgentClient = import('../lib/agent/index').AgentClient;

/** The library's public API (dist/index.js). */
export const netfd = (): Netfd => load<Netfd>('dist/index.js');
/** The agent's public API (dist/agent/index.js). */
export const netfdAgent = (): NetfdAgent => load<NetfdAgent>('dist/agent/index.js');
/** The raw binding and the agent's wire format, for a client that misbehaves on purpose. */
export const nativeBinding = () => load<typeof import('../lib/sys/native')>('dist/sys/native.js').native();
export const agentProtocol = () => load<typeof import('../lib/agent/protocol')>('dist/agent/protocol.js');
/** scripts/guest.js: the test guest's image, namespace, XML and console. */
export const guestScripts = () => load<typeof import('../scripts/guest')>('scripts/guest.js');
/** scripts/sriov-fixture.js: SR-IOV sysfs fixture trees. */
export const sriovFixture = () => load<typeof import('../scripts/sriov-fixture')>('scripts/sriov-fixture.js');
