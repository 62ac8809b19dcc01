// fleetMacs: the MACs of several domains chosen together (pure).
import t from 'tap';
import { fleetMacs } from '../../../lib/netdev/fleet';
import { DomainXml } from '../../../lib/xml/domain';

const def = (name: string, macs: (string | null)[]) =>
  DomainXml.parse(
    `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><devices>${macs
      .map((m) => `<interface type='bridge'>${m ? `<mac address='${m}'/>` : ''}<source bridge='br0'/><model type='virtio'/></interface>`)
      .join('')}</devices></domain>`,
  ).def;

/** A random source that gives `seq` in turn (3 bytes each), then repeats the last. */
const scripted = (seq: number[][]) => {
  let n = 0;
  return () => Uint8Array.from(seq[Math.min(n++, seq.length - 1)]);
};

t.test('generated MACs never repeat across the domains, written ones are kept', async (t) => {
  // The source gives 01 twice: the second domain's draw is taken again.
  const random = scripted([
    [0, 0, 1],
    [0, 0, 1],
    [0, 0, 2],
    [0, 0, 3],
  ]);
  const macs = fleetMacs([def('a', [null, '52:54:00:00:00:03']), def('b', [null])], random);
  t.same(macs, [
    [
      { mac: '52:54:00:00:00:01', generated: true },
      { mac: '52:54:00:00:00:03', generated: false },
    ],
    [{ mac: '52:54:00:00:00:02', generated: true }],
  ]);
});

t.test('a generated MAC never takes one written in a later domain', async (t) => {
  const random = scripted([
    [0, 0, 9],
    [0, 0, 4],
  ]);
  const macs = fleetMacs([def('a', [null]), def('b', ['52:54:00:00:00:09'])], random);
  t.same(macs, [[{ mac: '52:54:00:00:00:04', generated: true }], [{ mac: '52:54:00:00:00:09', generated: false }]]);
});

t.test('a MAC written in two domains is refused, naming the second and its field', async (t) => {
  t.throws(() => fleetMacs([def('a', ['52:54:00:00:00:07']), def('b', [null, '52:54:00:00:00:07'])], scripted([[1, 2, 3]])), {
    code: 'EADDRINUSE',
    field: '/domain/devices/interface[2]/mac/@address',
    value: '52:54:00:00:00:07',
    message: /^domain b: .*domain a's too/,
  });
});

t.test('a random source that keeps repeating itself is an error, not a loop', async (t) => {
  t.throws(() => fleetMacs([def('a', [null]), def('b', [null])], scripted([[0, 0, 1]])), /keeps repeating/);
});
