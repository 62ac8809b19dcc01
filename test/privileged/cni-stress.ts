// The CNI plugin under load and under crashes, driven as a runtime drives
// it (the built binary, the CNI_* environment, the configuration on stdin)
// against a real agent in a scratch namespace that plays the host, one
// scratch namespace per container.
//
// Load: 50 ADDs at once then 50 DELs at once; then ADDs and DELs of
// different containers interleaved, the same attachment ADDed twice at once
// (one wins, the other is told 'already has', 130), an ADD racing a DEL of
// the same attachment (the device exists exactly when its record does).
//
// Crashes: the agent is stopped for good right after each step of an ADD,
// and half-way through a DEL (between the device's deletion and the record's),
// by the test hook NETFD_TEST_CNI_HOLD (lib/agent/cni.ts: a file naming the
// step), then SIGKILLed and restarted on the same state directory; then DEL
// with CNI_NETNS, DEL without it, and GC (cni.dev/valid-attachments empty)
// each leave the pod with lo only and no record, and the attachment's name is
// free for a new ADD. test/privileged/cni.ts covers a crash through records
// it writes itself; this file stops the real ADD at each step.
import fs from 'node:fs';
import t, { Test } from 'tap';
import type { CniHoldStep } from '../../lib/agent/cni-device';
import { CniStore } from '../../lib/agent/cni-store';
import { RunningAgent, sleep, startAgent, until } from '../helpers/agent';
import { agentFds, cniHold, noNewAgentFds, config, envOf, noPlugin, noReference, PluginRun, records, REFERENCE, runPlugin, withPods } from '../helpers/cni';
import { ip, ipLink, linkNames, needsRoot, withNetns } from '../helpers/host';

const skip = needsRoot || noPlugin;
const ACL = 'allow user root ethernet';
// Root too has the agent's default limits, 16 requests in flight and 32
// connections (a call over them is told to try again later, 11); the ACL
// gives fifty calls at once room, as a node that starts many pods at once would.
const ROOMY = `${ACL}\nlimit user root requests 128\nlimit user root connections 128`;
const netnsOf = (pod: string): string => `/run/netns/${pod}`;

/** What is in the pods besides lo, as "POD/LINK". */
const leftovers = (pods: string[]): string[] => pods.flatMap((p) => linkNames(p).flatMap((l) => (l === 'lo' ? [] : [`${p}/${l}`])));

/** The runs that did not exit 0, with what they printed. */
const failed = (runs: PluginRun[], ids: string[]): string[] => runs.flatMap((r, i) => (r.code === 0 ? [] : [`${ids[i]}: ${r.code} ${r.stdout}${r.stderr}`]));

/** Waits until the agent's fds are what they were (the addon closes its idle netlink sockets after 1 s), then compares. */
/** The DELs of every pod all succeeded, and left no link and no record. */
function allDeleted(t: Test, a: RunningAgent, pods: string[], dels: PluginRun[], ids: string[]): void {
  t.same(failed(dels, ids), [], `${dels.length} DELs at once all succeed`);
  t.same(leftovers(pods), [], 'every pod has only lo');
  t.same(records(a), [], 'no record left');
}

/**
 * Every pod's attachment net1 of container `ids[i]` is consistent: the tap
 * exists exactly when the record does, and then the record is 'ready' with
 * the tap's ifindex and namespace. Returns which pods have one.
 */
function consistent(t: Test, a: RunningAgent, pods: string[], ids: string[], what: string): boolean[] {
  const store = new CniStore(a.stateDir);
  const bad: string[] = [];
  const have = pods.map((pod, i) => {
    const r = store.get(0, ids[i], 'net1');
    const links = linkNames(pod);
    if (!r) {
      if (links.length !== 1) bad.push(`${ids[i]}: no record, links ${links.join(' ')}`);
      return false;
    }
    const l = links.includes('net1') ? ipLink(pod, 'net1') : null;
    if (!l || r.state !== 'ready' || r.ifindex !== l.ifindex || r.netnsIno !== fs.statSync(netnsOf(pod)).ino || l.linkinfo?.info_kind !== 'tun')
      bad.push(`${ids[i]}: record ${r.state} ifindex ${r.ifindex} vs link ${JSON.stringify(l && { ifindex: l.ifindex, kind: l.linkinfo?.info_kind })}`);
    return true;
  });
  t.same(bad, [], `${what}: each tap exists exactly when its record does, and matches it`);
  return have;
}

/** 50 pods and an agent with room for them (ROOMY) for `body`; then the agent's fds are back. */
async function roomyRound(t: Test, body: (a: RunningAgent, pods: string[]) => Promise<void>): Promise<void> {
  await withNetns(t, async (host) => {
    const a = await startAgent(t, { ns: host, acl: ROOMY });
    const status = await runPlugin(envOf(a, 'STATUS', 'x'), config('1.1.0'));
    t.equal(status.code, 0, `STATUS: ready ${status.stdout}`);
    const fdsBefore = agentFds(a);
    await withPods(t, host, 50, (pods) => body(a, pods));
    await noNewAgentFds(t, a, fdsBefore);
  });
}

t.test('50 parallel ADD/DEL pairs leave 0 links and 0 records', { skip }, async (t) => {
  await roomyRound(t, async (a, pods) => {
    const ids = pods.map((_, i) => `par${i}`);
    const conf = config('1.1.0');
    const adds = await Promise.all(pods.map((p, i) => runPlugin(envOf(a, 'ADD', ids[i], netnsOf(p)), conf)));
    t.same(failed(adds, ids), [], '50 ADDs at once all succeed');
    const wrong = adds.flatMap((r, i) => {
      const l = ipLink(pods[i], 'net1');
      const want = { cniVersion: '1.1.0', interfaces: [{ name: 'net1', mac: l.address, mtu: 1500, sandbox: netnsOf(pods[i]), socketPath: a.socket }], dns: {} };
      return JSON.stringify(r.json) === JSON.stringify(want) && l.linkinfo?.info_kind === 'tun' ? [] : [`${ids[i]}: ${r.stdout} (link ${l.address} ${l.linkinfo?.info_kind})`];
    });
    t.same(wrong, [], "each result names its own pod's tap");
    t.equal(new Set(adds.map((r) => JSON.stringify(r.json?.interfaces))).size, 50, 'fifty distinct interfaces (MACs, sandboxes)');
    t.equal(records(a).length, 50, 'fifty records');
    t.ok(consistent(t, a, pods, ids, 'after the ADDs').every(Boolean), 'every pod has its tap');

    allDeleted(t, a, pods, await Promise.all(pods.map((p, i) => runPlugin(envOf(a, 'DEL', ids[i], netnsOf(p)), conf))), ids);
  });
});

t.test('a mixed round: ADD and DEL of other containers interleaved, the same attachment ADDed twice at once, ADD racing DEL', { skip }, async (t) => {
  await roomyRound(t, async (a, pods) => {
    const ids = pods.map((_, i) => `mix${i}`);
    const conf = config('1.0.0');
    const call = (command: string, i: number) => runPlugin(envOf(a, command, ids[i], netnsOf(pods[i])), conf);
    const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);
    const first = range(0, 20);
    t.same(failed(await Promise.all(first.map((i) => call('ADD', i))), ids), [], 'twenty ADDs at once');

    // At once: DEL of those twenty, ADD of ten others, ten more ADDed
    // twice each, and ten ADDed while their DEL runs.
    const [dels, adds, twice, racing] = await Promise.all([
      Promise.all(first.map((i) => call('DEL', i))),
      Promise.all(range(20, 30).map((i) => call('ADD', i))),
      Promise.all(range(30, 40).map((i) => Promise.all([call('ADD', i), call('ADD', i)]))),
      Promise.all(range(40, 50).map((i) => Promise.all([call('ADD', i), call('DEL', i)]))),
    ]);
    t.same(failed(dels, ids), [], 'the DELs succeed');
    t.same(failed(adds, ids.slice(20)), [], 'the ADDs of other containers succeed');
    const notOne = twice.flatMap(([x, y], k) => {
      const [won, lost] = x.code === 0 ? [x, y] : [y, x];
      const ok = won.code === 0 && lost.code === 1 && lost.json?.code === 130 && /already has net1/.test(String(lost.json?.msg));
      return ok ? [] : [`${ids[30 + k]}: ${x.code} ${x.stdout} / ${y.code} ${y.stdout}`];
    });
    t.same(notOne, [], "the same attachment ADDed twice at once: exactly one succeeds, the other is told 'already has' (130)");
    t.same(
      failed(
        racing.map(([, del]) => del),
        ids.slice(40),
      ),
      [],
      'a DEL racing an ADD succeeds',
    );
    const racingAdds = racing.map(([add]) => add);
    t.same(failed(racingAdds, ids.slice(40)), [], 'and so does the ADD (one runs after the other)');
    t.same(leftovers(pods.slice(0, 20)), [], "the DELs' pods have only lo");
    const have = consistent(t, a, pods, ids, 'after the mixed round');
    t.ok(have.slice(20, 40).every(Boolean), 'the ADDed ones have their tap');
    t.equal(records(a).length, have.filter(Boolean).length, 'no record but those');

    allDeleted(t, a, pods, await Promise.all(pods.map((_, i) => call('DEL', i))), ids);
  });
});

t.test("50 at once within root's default limits: each call succeeds or is told to try again later (11), and retried as a runtime does, all succeed", { skip }, async (t) => {
  await withNetns(t, async (host) => {
    const a = await startAgent(t, { ns: host, acl: ACL });
    await withPods(t, host, 50, async (pods) => {
      const ids = pods.map((_, i) => `dflt${i}`);
      const conf = config('1.0.0');
      const answers = new Set<string>();
      /** The call, again after 11 (kubelet retries a sandbox whose ADD failed), at most 50 times. */
      const retried = async (command: string, i: number): Promise<PluginRun> => {
        for (let n = 1; ; n++) {
          const r = await runPlugin(envOf(a, command, ids[i], netnsOf(pods[i])), conf);
          answers.add(r.code === 0 ? '0' : `${String(r.json?.code)}`);
          if (r.json?.code !== 11 || n === 50) return r;
          await sleep(20 + Math.random() * 80);
        }
      };
      t.same(failed(await Promise.all(pods.map((_, i) => retried('ADD', i))), ids), [], 'every ADD succeeds, some after a retry');
      t.equal(records(a).length, 50, 'fifty records');
      t.ok(consistent(t, a, pods, ids, 'after the ADDs').every(Boolean), 'every pod has its tap');
      t.same(failed(await Promise.all(pods.map((_, i) => retried('DEL', i))), ids), [], 'every DEL succeeds');
      // Fifty at once exceed 16 in flight on any machine so far; the claim is that nothing but 11 is refused.
      t.same(
        [...answers].filter((x) => x !== '0' && x !== '11'),
        [],
        `the answers were success and try again later (11), nothing else: ${[...answers].sort().join(' ')}`,
      );
      t.same(leftovers(pods), [], 'every pod has only lo');
      t.same(records(a), [], 'no record left');
    });
  });
});

/** SIGKILLs the agent and waits until it is gone. */
async function kill(a: RunningAgent): Promise<void> {
  const gone = new Promise((r) => (a.proc.exitCode !== null || a.proc.signalCode !== null ? r(null) : a.proc.once('exit', r)));
  a.proc.kill('SIGKILL');
  await gone;
}

/** The agent's 'CNI test hold' lines (this start's log). */
const holds = (a: RunningAgent): { step: string; containerId: string }[] => a.logLines().filter((l) => l.msg === 'CNI test hold') as unknown as { step: string; containerId: string }[];

type Left = { state: string | undefined; ifindex: string; ipam: boolean; tap: string };
const made = 'tun mtu 1500 down';
const set = 'tun mtu 1400 up';
/** What a crash after each step leaves (with IPAM configured or not): the record's state and ifindex, the tap and its settings. */
const LEFT: Record<CniHoldStep | 'completed', (ipam: boolean) => Left> = {
  recorded: () => ({ state: 'adding', ifindex: 'none', ipam: false, tap: 'none' }),
  // type='network' only (test/privileged/cni-network.ts): not a step of these taps' ADDs.
  allocated: () => ({ state: 'adding', ifindex: 'none', ipam: false, tap: 'none' }),
  'tap-made': () => ({ state: 'adding', ifindex: 'none', ipam: false, tap: made }),
  'ifindex-recorded': () => ({ state: 'adding', ifindex: 'the tap', ipam: false, tap: made }),
  configured: () => ({ state: 'adding', ifindex: 'the tap', ipam: false, tap: set }),
  'ipam-recorded': () => ({ state: 'adding', ifindex: 'the tap', ipam: true, tap: set }),
  'ipam-configured': () => ({ state: 'adding', ifindex: 'the tap', ipam: true, tap: `${set} 10.30.0.5/24` }),
  ready: (ipam) => ({ state: 'ready', ifindex: 'the tap', ipam, tap: ipam ? `${set} 10.30.0.5/24` : set }),
  completed: (ipam) => ({ state: 'ready', ifindex: 'the tap', ipam, tap: ipam ? `${set} 10.30.0.5/24` : set }),
  // The DEL was cut short after the tap's deletion: only the record is left.
  'link-deleted': (ipam) => ({ state: 'ready', ifindex: 'a link gone', ipam, tap: 'none' }),
};

t.test('the agent SIGKILLed after each step, then DEL or GC leaves nothing', { skip }, async (t) => {
  const hold = cniHold(t);
  // With the reference static IPAM plugin the ADD has two steps more: the record says ipam, the addresses are on the tap.
  const ipam = noReference ? undefined : { type: 'static', addresses: [{ address: '10.30.0.5/24' }] };
  // 1.0.0: the newest the reference plugins of Debian 12 speak.
  const conf = config('1.0.0', { mtu: 1400, runtimeConfig: { mac: '52:54:00:00:00:01' }, ...(ipam ? { ipam } : {}) });
  const addSteps: CniHoldStep[] = ['recorded', 'tap-made', 'ifindex-recorded', 'configured', ...(ipam ? (['ipam-recorded', 'ipam-configured'] as const) : []), 'ready'];
  if (!ipam) t.comment(`without the IPAM steps: ${noReference as string}`);
  // Each case's three pods: cleaned by DEL with CNI_NETNS, by DEL without it, by GC.
  const ways = ['DEL', 'DEL without CNI_NETNS', 'GC'] as const;

  await withNetns(t, async (host) => {
    let a = await startAgent(t, { ns: host, acl: ACL });
    const env = (command: string, id: string, pod: string | undefined) => ({ ...envOf(a, command, id, pod && netnsOf(pod)), CNI_PATH: `/opt/cni/bin:${REFERENCE}` });
    for (const step of [...addSteps, 'completed', 'link-deleted'] as const) {
      await withPods(t, host, ways.length, async (pods) => {
        const ids = ways.map((_, i) => `crash-${step}-${i}`);
        hold(step === 'completed' || step === 'link-deleted' ? '' : step);
        const adds = pods.map((pod, i) => runPlugin(env('ADD', ids[i], pod), conf));
        if (step === 'completed' || step === 'link-deleted') {
          t.same(failed(await Promise.all(adds), ids), [], `${step}: the ADDs complete`);
          if (step === 'link-deleted') {
            // The DEL is held after the tap is gone, before the record is.
            hold(step);
            const dels = pods.map((pod, i) => runPlugin(env('DEL', ids[i], pod), conf));
            await until(`${step}: the DELs held`, () => holds(a).length === ways.length);
            await kill(a);
            t.same(
              (await Promise.all(dels)).map((r) => r.json?.code),
              ways.map(() => 11),
              'the DELs cut short: try again later (11)',
            );
            t.same(leftovers(pods), [], 'their taps were gone already');
            t.equal(records(a).length, ways.length, 'their records are not');
          } else await kill(a);
        } else {
          await until(`${step}: the ADDs held`, () => holds(a).length === ways.length);
          t.same(
            holds(a)
              .map((h) => `${h.step} ${h.containerId}`)
              .sort(),
            ids.map((id) => `${step} ${id}`),
            `${step}: each ADD held there`,
          );
          await kill(a);
          const cut = await Promise.all(adds);
          t.same(
            cut.map((r) => r.json?.code),
            ways.map(() => 11),
            `${step}: the ADDs cut short: try again later (11): ${cut[0].json?.msg as string}`,
          );
          t.equal(records(a).length, ways.length, `${step}: each attachment recorded`);
        }
        hold('');
        a = await a.restart();

        // What the crash left, per step: the DEL or GC below has that to remove.
        const store = new CniStore(a.stateDir);
        const left = pods.map((pod, i) => {
          const r = store.get(0, ids[i], 'net1');
          const l = linkNames(pod).includes('net1') ? ipLink(pod, 'net1') : undefined;
          const addrs = l ? ip(['-n', pod, '-4', '-o', 'addr', 'show', 'dev', 'net1']).includes('10.30.0.5/24') : false;
          return {
            state: r?.state,
            ifindex: r?.ifindex === undefined ? 'none' : !l ? 'a link gone' : r.ifindex === l.ifindex ? 'the tap' : 'another link',
            ipam: r?.ipam === true,
            tap: l ? `${l.linkinfo?.info_kind} mtu ${(l as unknown as { mtu: number }).mtu} ${l.flags.includes('UP') ? 'up' : 'down'}${addrs ? ' 10.30.0.5/24' : ''}` : 'none',
          };
        });
        t.same(
          left,
          ways.map(() => LEFT[step](!!ipam)),
          `${step}: the crash left ${JSON.stringify(left[0])}`,
        );

        // DEL with CNI_NETNS, DEL without, then GC of all the network's attachments.
        const del = await runPlugin(env('DEL', ids[0], pods[0]), conf);
        t.equal(del.code, 0, `${step}: DEL ${del.stdout}`);
        t.same(leftovers([pods[0]]), [], `${step}: DEL leaves only lo`);
        t.notOk(
          records(a).some((r) => r.includes(ids[0])),
          `${step}: and no record`,
        );
        const delNoNetns = await runPlugin(env('DEL', ids[1], undefined), conf);
        t.equal(delNoNetns.code, 0, `${step}: DEL without CNI_NETNS ${delNoNetns.stdout}`);
        t.same(leftovers([pods[1]]), [], `${step}: DEL without CNI_NETNS leaves only lo`);
        t.notOk(
          records(a).some((r) => r.includes(ids[1])),
          `${step}: and no record`,
        );
        const gc = await runPlugin(
          { CNI_COMMAND: 'GC', CNI_PATH: `/opt/cni/bin:${REFERENCE}`, NETFD_AGENT_SOCKET: a.socket },
          config('1.1.0', { 'cni.dev/valid-attachments': [], ...(ipam ? { ipam } : {}) }),
        );
        t.equal(gc.code, 0, `${step}: GC ${gc.stdout}`);
        t.same(leftovers(pods), [], `${step}: GC leaves only lo`);
        t.same(records(a), [], `${step}: no record left`);

        // The names are free: the same attachments ADDed again, then DELeted.
        const again = await Promise.all(pods.map((pod, i) => runPlugin(env('ADD', ids[i], pod), conf)));
        t.same(failed(again, ids), [], `${step}: the same (container, ifname) ADDed again`);
        t.same(
          ids.map((id) => store.get(0, id, 'net1')?.state),
          ways.map(() => 'ready'),
          `${step}: ready`,
        );
        t.same(failed(await Promise.all(pods.map((pod, i) => runPlugin(env('DEL', ids[i], pod), conf))), ids), [], `${step}: and DELeted`);
        t.same(leftovers(pods), []);
        t.same(records(a), []);
      });
    }
  });
});
