// prepareDomains on real devices: several domains prepared as one
// transaction in a private namespace (taps on a bridge, macvtaps, a named
// tap), then torn down; a failure in the middle of the fleet (an injected
// step, a real kernel error, a conflict between two domains) leaves nothing
// of any domain behind. Each test runs in its own namespace.
import fs from 'node:fs';
import t from 'tap';
import { teardownHosts } from '../../lib/netdev/fleet';
import { prepareDomains } from '../../lib/qemu/domain';
import { inactiveXmlPath } from '../../lib/state/dirs';
import { ip, ipLink, ipLinks, linkNames, needsRoot, openFds, scratchDir, withNetns } from '../helpers/host';

const domain = (name: string, ifaces: string) => `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>128</memory>
  <devices>
${ifaces}
  </devices>
</domain>
`;
const bridged = `    <interface type='bridge'><source bridge='br0'/><model type='virtio'/><driver name='qemu'/></interface>\n`;
const direct = `    <interface type='direct'><source dev='v0' mode='bridge'/><model type='virtio'/><driver name='qemu'/></interface>\n`;
const BASE = ['br0', 'lo', 'v0', 'v1'];

t.test('several domains prepared at once: every link made, fds open, live XML written; all gone after teardown', { skip: needsRoot }, async (t) => {
  const stateDir = scratchDir(t, 'netfd-fleet-');
  await withNetns(
    t,
    async (ns) => {
      const fdsBefore = openFds();
      const xmls = [
        domain('a', bridged.repeat(2)),
        domain('b', bridged + direct),
        domain('c', `    <interface type='ethernet'><target dev='named0'/><model type='virtio'/><driver name='qemu'/></interface>\n` + bridged),
      ];
      const ps = await prepareDomains(xmls, { netns: ns, stateDir });
      t.same(
        ps.map((p) => p.name),
        ['a', 'b', 'c'],
        'results in the order given',
      );
      t.same(
        ps.map((p) => p.interfaces.map((i) => i.kind)),
        [
          ['tap', 'tap'],
          ['tap', 'macvtap'],
          ['tap', 'tap'],
        ],
      );
      const links = ipLinks(ns);
      t.equal(links.length, BASE.length + 6, 'six links made');
      for (const p of ps)
        for (const i of p.interfaces) {
          const l = links.find((x) => x.ifindex === i.ifindex);
          t.equal(l?.ifname, i.name, `${p.name}: ${i.name} is the link recorded`);
          t.ok(l?.flags.includes('UP'), `${i.name} up`);
          t.equal(i.fds.fds.length, 1, `${i.name}: its queue fd open`);
          if (i.plan.link.kind === 'tap' && i.plan.link.bridge) t.equal(l?.master, 'br0', `${i.name} on br0`);
        }
      t.equal(ps[2].interfaces[0].name, 'named0', 'an exact target dev is used');
      const macs = ps.flatMap((p) => p.interfaces.map((i) => i.plan.mac));
      t.equal(new Set(macs).size, macs.length, 'no two guests got the same generated MAC');
      for (const p of ps) {
        t.ok(fs.existsSync(p.statePath), `${p.name}: live XML written`);
        t.match(p.liveXml, /<target dev=/, `${p.name}: live XML records the devices`);
        t.equal(fs.readFileSync(inactiveXmlPath(stateDir, p.name), 'utf8'), xmls[ps.indexOf(p)], `${p.name}: inactive XML written as given`);
      }
      t.same(
        fs.readdirSync(stateDir).filter((f) => f.endsWith('.tmp')),
        [],
        'no temporary file left',
      );
      t.ok(openFds().length > fdsBefore.length, 'the fleet holds its fds');

      await teardownHosts(ps);
      t.same(linkNames(ns), BASE, 'every link gone after the batched teardown');
      t.same(fs.readdirSync(stateDir), [], 'state files removed');
      t.same(openFds(), fdsBefore, 'every fd closed');
      await ps[0].teardown();
      await teardownHosts(ps);
      t.pass('a domain torn down in the batch is not torn down again');
    },
    { bridge: true },
  );
});

t.test('a failure in the middle of the fleet undoes every domain', { skip: needsRoot }, async (t) => {
  const stateDir = scratchDir(t, 'netfd-fleet-');
  await withNetns(
    t,
    async (ns) => {
      const fdsBefore = openFds();
      const xmls = ['a', 'b', 'c', 'd'].map((n) => domain(n, bridged.repeat(2)));
      // Domain c fails once its second tap exists; a and b may be done by then.
      let made = 0;
      await t.rejects(
        prepareDomains(xmls, {
          netns: ns,
          stateDir,
          concurrency: 2,
          afterStep: (step, iface, name) => {
            if (step === 'create') made++;
            if (name === 'c' && step === 'configure' && iface === 1) throw new Error('injected');
          },
        }),
        { message: /^domain c: injected$/ },
      );
      t.ok(made >= 4, `links were made before the failure (${made})`);
      t.same(linkNames(ns), BASE, 'no link of any domain left');
      t.same(fs.readdirSync(stateDir), [], 'no state file left');
      t.same(openFds(), fdsBefore, 'no fd left open');

      // A real kernel failure in the last domain, after the others' devices and state: a
      // target dev name taken by a link made meanwhile (by someone else).
      const late = domain('e', `    <interface type='ethernet'><target dev='taken1'/><model type='virtio'/><driver name='qemu'/></interface>\n`);
      await t.rejects(
        prepareDomains([xmls[0], xmls[1], late], {
          netns: ns,
          stateDir,
          afterStep: (step, _iface, name) => {
            if (name === 'e' && step === 'vhost') ip(['-n', ns, 'tuntap', 'add', 'mode', 'tap', 'name', 'taken1']);
          },
        }),
        { code: 'EEXIST', message: /^domain e: / },
      );
      t.same(linkNames(ns), [...BASE, 'taken1'].sort(), 'only the links made by someone else are left');
      t.same(fs.readdirSync(stateDir), [], 'no state file left');
      t.same(openFds(), fdsBefore, 'no fd left open');
    },
    { bridge: true },
  );
});

t.test('conflicts between the domains are refused before anything is made, naming the domain and the field', { skip: needsRoot }, async (t) => {
  const stateDir = scratchDir(t, 'netfd-fleet-');
  await withNetns(
    t,
    async (ns) => {
      const named = (n: string) => domain(n, `    <interface type='ethernet'><target dev='same0'/><model type='virtio'/><driver name='qemu'/></interface>\n`);
      await t.rejects(prepareDomains([named('a'), named('b')], { netns: ns, stateDir }), { code: 'EEXIST', field: '/domain/devices/interface/target/@dev', message: /^domain b: .*domain a/ });
      const mac = (n: string) => domain(n, `    <interface type='bridge'><mac address='52:54:00:aa:00:01'/><source bridge='br0'/><model type='virtio'/></interface>\n`);
      await t.rejects(prepareDomains([mac('a'), mac('b')], { netns: ns, stateDir }), { code: 'EADDRINUSE', field: '/domain/devices/interface/mac/@address', message: /^domain b: / });
      await t.rejects(prepareDomains([mac('a'), mac('a')], { netns: ns, stateDir }), { code: 'EEXIST', field: 'name', value: 'a' });
      const bad = domain('z', `    <interface type='bridge'><source bridge='nobridge'/><model type='virtio'/></interface>\n`);
      await t.rejects(prepareDomains([mac('a'), bad], { netns: ns, stateDir }), { code: 'ENODEV', message: /^domain z: / });
      t.same(linkNames(ns), BASE, 'nothing made');
      t.same(fs.readdirSync(stateDir), [], 'no state file');
      t.same(ipLink(ns, 'br0').master, undefined);
      t.same(await prepareDomains([], { netns: ns, stateDir }), [], 'an empty fleet is nothing to do');
    },
    { bridge: true },
  );
});

t.test('the batched teardown: a domain whose live XML is gone loses the links it made, one torn down already is skipped', { skip: needsRoot }, async (t) => {
  const stateDir = scratchDir(t, 'netfd-fleet-');
  await withNetns(
    t,
    async (ns) => {
      const fdsBefore = openFds();
      const ps = await prepareDomains(
        ['a', 'b', 'c'].map((n) => domain(n, bridged)),
        { netns: ns, stateDir },
      );
      fs.rmSync(ps[1].statePath);
      await ps[2].teardown();
      t.equal(linkNames(ns).length, BASE.length + 2, 'a and b still have their taps');
      await teardownHosts(ps);
      t.same(linkNames(ns), BASE, 'every link gone');
      t.same(fs.readdirSync(stateDir), [], 'state files removed');
      t.same(openFds(), fdsBefore, 'every fd closed');
    },
    { bridge: true },
  );
});
