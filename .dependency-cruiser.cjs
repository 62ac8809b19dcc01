// The layer rule of ARCHITECTURE.md, checked by the test command:
//   cli → api → agent → cni → qemu → host → netdev → network → policy → xen → xml → state → sys
// (each layer imports only the layers after it, and itself); lib/errors.ts
// and lib/validate.ts are the base every layer may use; lib/index.ts is the
// package's door and may export from any layer. No cycles, between files
// either.
const ORDER = ['cli', 'api', 'agent', 'cni', 'qemu', 'host', 'netdev', 'network', 'policy', 'xen', 'xml', 'state', 'sys'];

const forbidden = ORDER.map((layer, i) => ({
  name: `layer-${layer}`,
  comment: `lib/${layer}/ may import only ${ORDER.slice(i + 1).join(', ') || 'the base'} (and itself): data flows down`,
  severity: 'error',
  from: { path: `^lib/${layer}/` },
  to: { path: `^lib/(${[...ORDER.slice(0, i), 'index\\.ts$'].join('|')})` },
}));

forbidden.push(
  {
    name: 'cni-is-pure',
    comment: 'lib/cni/ (the CNI spec: environment, configuration, results, errors) is pure: it reads policy/ and xml/, never the host',
    severity: 'error',
    from: { path: '^lib/cni/' },
    to: { path: '^lib/(qemu|host|netdev|network|state|sys)/' },
  },
  {
    name: 'base-imports-no-layer',
    comment: 'lib/errors.ts and lib/validate.ts are the base: they import no layer',
    severity: 'error',
    from: { path: '^lib/(errors|validate)\\.ts$' },
    to: { path: `^lib/(${ORDER.join('|')})/` },
  },
  {
    name: 'no-circular',
    comment: 'no import cycle, not even inside one layer',
    severity: 'error',
    from: { path: '^lib/' },
    to: { circular: true },
  },
  {
    name: 'binding-only-through-sys',
    comment: 'only lib/sys/ loads the addon',
    severity: 'error',
    from: { path: '^lib/', pathNot: '^lib/sys/' },
    to: { path: '\\.node$' },
  },
);

module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^lib/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
