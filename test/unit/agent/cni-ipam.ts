import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { Test } from 'tap';
import { execIpam, findPlugin, mayDelegate } from '../../../lib/agent/cni-ipam';
import { parseConfig } from '../../../lib/cni/config';
import { CniError } from '../../../lib/cni/errors';

const scratch = (t: Test): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-ipam-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
};

const script = (file: string, body: string, mode = 0o755): void => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode });
};

t.test('findPlugin: the first directory of CNI_PATH with it executable, as libcni', async (t) => {
  const d = scratch(t);
  script(path.join(d, 'a', 'static'), 'exit 0', 0o644);
  script(path.join(d, 'b', 'static'), 'exit 0');
  script(path.join(d, 'c', 'static'), 'exit 0');
  fs.mkdirSync(path.join(d, 'dir', 'static'), { recursive: true });
  t.equal(findPlugin('static', [path.join(d, 'dir'), path.join(d, 'a'), path.join(d, 'b'), path.join(d, 'c')]), path.join(d, 'b', 'static'), 'not a directory, not a file without x');
  t.throws(() => findPlugin('dhcp', [path.join(d, 'a'), '/nonexistent']), { code: 'ENOENT', message: `failed to find plugin "dhcp" in path [${path.join(d, 'a')} /nonexistent]` });
  t.throws(() => findPlugin('static', []), { code: 'ENOENT' }, 'no CNI_PATH');
});

t.test("mayDelegate: IPAM only for root's calls", async (t) => {
  const withIpam = parseConfig(JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'netfd', ipam: { type: 'static' } }), 'ADD');
  const without = parseConfig(JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'netfd' }), 'ADD');
  t.doesNotThrow(() => mayDelegate(0, withIpam), 'root');
  t.throws(() => mayDelegate(1000, withIpam), { code: 'ACCESS_DENIED', field: 'ipam', value: 'static', message: /root's calls only/ }, 'another user');
  t.doesNotThrow(() => mayDelegate(1000, without), 'without ipam, anyone');
});

t.test('execIpam: the CNI_* environment and the configuration on stdin; the error object passed on', async (t) => {
  const d = scratch(t);
  const text = JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'netfd', ipam: { type: 'fake' } });
  const c = parseConfig(text, 'ADD');
  const raw = { CNI_CONTAINERID: 'ctr', CNI_NETNS: '/run/netns/p', CNI_IFNAME: 'net1', CNI_ARGS: 'IgnoreUnknown=1', CNI_PATH: d };
  script(path.join(d, 'fake'), `printf '{"env":"%s %s %s %s %s %s","stdin":' "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_NETNS" "$CNI_IFNAME" "$CNI_ARGS" "$CNI_PATH"; cat; printf '}'`);
  const out = JSON.parse(await execIpam('ADD', raw, c, text)) as { env: string; stdin: unknown };
  t.equal(out.env, `ADD ctr /run/netns/p net1 IgnoreUnknown=1 ${d}`, 'the same variables, CNI_COMMAND its own');
  t.strictSame(out.stdin, JSON.parse(text), 'the configuration as the runtime gave it');
  script(path.join(d, 'fake'), `echo '{"cniVersion":"1.0.0","code":11,"msg":"no free address","details":"pool x"}'; exit 1`);
  await t.rejects(execIpam('ADD', raw, c, text), new CniError(11, 'IPAM plugin fake: no free address', 'pool x'), "the plugin's error object");
  const e = await execIpam('DEL', raw, c, text).catch((x: unknown) => x as CniError);
  t.match(e, { cniCode: 11, details: 'pool x' });
  script(path.join(d, 'fake'), `echo oops >&2; exit 3`);
  await t.rejects(execIpam('CHECK', raw, c, text), { cniCode: 5, message: /exited 3 without an error object/, details: 'oops' }, 'a crash without an error object: 5');
});
