// The ADD result in each version's shape, and results read back. Pure.
import t from 'tap';
import { CniResult, readDns, readResult, resultJson } from '../../../lib/cni/result';
import { SUPPORTED_VERSIONS } from '../../../lib/cni/version';
import { CniError } from '../../../lib/cni/errors';
import { golden } from '../../helpers/cni-golden';

const full: CniResult = {
  interfaces: [{ name: 'net1', mac: 'fe:54:00:aa:bb:cc', mtu: 9000, sandbox: '/var/run/netns/pod1', socketPath: '/run/netfd/agent.sock', pciID: '0000:03:00.1' }],
  ips: [
    { address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 0 },
    { address: 'fd00::5/64', interface: 0 },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1', mtu: 1400, advmss: 1360, priority: 10, table: 100, scope: 0 }],
  dns: { nameservers: ['10.1.0.1'], domain: 'cluster.local', search: ['svc.cluster.local'], options: ['ndots:5'] },
};
const bare: CniResult = { interfaces: [{ name: 'net1', mac: 'fe:54:00:aa:bb:cc', sandbox: '/proc/42/ns/net' }], ips: [], routes: [], dns: {} };

t.test('each version has its shape', async (t) => {
  const out: Record<string, unknown> = {};
  for (const v of SUPPORTED_VERSIONS) {
    out[`full-${v}`] = resultJson(full, v);
    out[`bare-${v}`] = resultJson(bare, v);
  }
  golden(t, 'results', out);
});

t.test('a result written is read back the same (1.1.0)', async (t) => {
  t.same(readResult(resultJson(full, '1.1.0'), 'prevResult'), full);
  t.same(readResult(resultJson(bare, '1.1.0'), 'prevResult'), bare);
  const old = readResult(resultJson(full, '0.3.1'), 'prevResult');
  t.same(old.ips, full.ips, "0.3.1's ip version is dropped");
  t.same(old.interfaces, [{ name: 'net1', mac: 'fe:54:00:aa:bb:cc', sandbox: '/var/run/netns/pod1' }]);
});

t.test('an IPAM result: its ips point at the interface given', async (t) => {
  const r = readResult({ cniVersion: '1.0.0', ips: [{ address: '10.1.0.5/24', gateway: '10.1.0.1' }], routes: [{ dst: '10.0.0.0/8' }], dns: {} }, 'ipam', 0);
  t.same(r, { interfaces: [], ips: [{ address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 0 }], routes: [{ dst: '10.0.0.0/8' }], dns: {} });
});

t.test('malformed results are 7 naming the key', async (t) => {
  const cases: [unknown, RegExp][] = [
    [null, /prevResult/],
    [{ interfaces: {} }, /prevResult\.interfaces/],
    [{ interfaces: [{}] }, /prevResult\.interfaces\[0\]/],
    [{ interfaces: [{ name: 'x', mac: 1 }] }, /prevResult\.interfaces\[0\]\.mac/],
    [{ interfaces: [{ name: 'x', mtu: -1 }] }, /prevResult\.interfaces\[0\]\.mtu/],
    [{ ips: 'x' }, /prevResult\.ips/],
    [{ ips: [{ address: '10.0.0.1' }] }, /prevResult\.ips\[0\]/],
    [{ ips: [{ address: '10.0.0.1/33' }] }, /prevResult\.ips\[0\]/],
    [{ ips: [{ address: '10.0.0.1/8', gateway: 'x' }] }, /gateway/],
    [{ ips: [{ address: '10.0.0.1/8', interface: -1 }] }, /interface/],
    [{ routes: 'x' }, /prevResult\.routes/],
    [{ routes: [{ dst: 'x' }] }, /prevResult\.routes\[0\]/],
    [{ routes: [{ dst: '::/0', gw: 'y' }] }, /gw/],
    [{ routes: [{ dst: '::/0', table: 'main' }] }, /table/],
    [{ dns: [] }, /prevResult\.dns/],
    [{ dns: { nameservers: 'x' } }, /nameservers/],
    [{ dns: { domain: 1 } }, /domain/],
  ];
  for (const [x, re] of cases) {
    try {
      readResult(x, 'prevResult');
      t.fail(`accepted ${JSON.stringify(x)}`);
    } catch (e) {
      t.equal((e as CniError).cniCode, 7);
      t.match((e as Error).message, re);
    }
  }
  t.same(readDns({ search: ['a'] }, 'dns'), { search: ['a'] });
});
