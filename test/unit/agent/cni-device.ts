import fs from 'node:fs';
import t from 'tap';
import { deviceOf, guestMacOf, hostTapName, pidNetns } from '../../../lib/agent/cni-device';
import type { CniRecord } from '../../../lib/agent/cni-store';
import type { CniConfig } from '../../../lib/cni/config';
import type { LinkInfo } from '../../../lib/sys/link';

t.test("pidNetns is /proc/PID/ns/net's st_dev and st_ino", async (t) => {
  const st = fs.statSync('/proc/self/ns/net');
  t.strictSame(pidNetns(process.pid), { dev: st.dev, ino: st.ino });
  t.equal(pidNetns(0x7ffffff0), null, 'no such process');
});

t.test("a bridged tap's name: 'nfc' and 12 hex digits of SHA-256 over uid, container id and ifname", async (t) => {
  t.equal(hostTapName(0, 'b1', 'net1'), 'nfcb0eeab5edc75', 'golden');
  const names = [hostTapName(0, 'b1', 'net1'), hostTapName(0, 'b1', 'net2'), hostTapName(1000, 'b1', 'net1'), hostTapName(0, 'b10', 'net1'), hostTapName(0, 'b', '1net1')];
  t.equal(new Set(names).size, names.length, 'another uid, container id or ifname: another name (the fields are separated)');
  for (const n of names) t.match(n, /^nfc[0-9a-f]{12}$/, `${n}: 15 characters, an interface name the kernel takes`);
});

t.test('deviceOf: the pod device, or a bridged tap in the agent namespace', async (t) => {
  const r = { ifname: 'net1', netns: '/run/netns/pod' } as CniRecord;
  t.strictSame(deviceOf(r), { netns: '/run/netns/pod', name: 'net1' });
  t.strictSame(deviceOf({ ...r, hostName: 'nfc0123456789ab' }), { netns: undefined, name: 'nfc0123456789ab' }, "the agent's own namespace");
  t.strictSame(deviceOf({ ...r, hostName: 'nfc0123456789ab', hostNs: '/run/netns/node' }), { netns: '/run/netns/node', name: 'nfc0123456789ab' }, 'the one --netns named at ADD');
});

t.test("guestMacOf: the configuration's MAC, else a generated one no listed link has (as its own or as a tap's host MAC)", async (t) => {
  const links = [{ mac: '52:54:00:00:00:01' }, { mac: 'fe:54:00:00:00:02' }, { mac: null }] as unknown as LinkInfo[];
  const iface = (mac?: string) => ({ iface: { mac } }) as unknown as Pick<CniConfig, 'iface'>;
  const draws = [1, 2, 3];
  const scripted = () => Uint8Array.of(0, 0, draws.shift()!);
  t.equal(guestMacOf(iface(), links, scripted), '52:54:00:00:00:03', "a link's MAC and a MAC whose tap would get a link's host MAC are drawn again");
  t.strictSame(draws, [], 'three draws');
  t.equal(guestMacOf(iface('52:54:00:00:00:01'), links, scripted), '52:54:00:00:00:01', "the configuration's MAC as it is (the kernel or the bridge check judges it)");
  t.match(guestMacOf(iface(), []), /^52:54:00(:[0-9a-f]{2}){3}$/, "crypto's bytes by default");
});
