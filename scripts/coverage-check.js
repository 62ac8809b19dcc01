#!/usr/bin/env node
// Holds the pure layers to a line and branch coverage threshold, from the
// json-summary report of the unit tests' coverage run (scripts/test.sh):
// node scripts/coverage-check.js .tap/report/coverage-summary.json
'use strict';
const fs = require('node:fs');
const path = require('node:path');

// layer (a lib/ path prefix) -> minimum percent of lines and of branches
const THRESHOLDS = {
  'lib/policy/': { lines: 90, branches: 80 },
  'lib/xml/': { lines: 90, branches: 80 },
  'lib/xen/': { lines: 90, branches: 80 },
  'lib/state/': { lines: 80, branches: 70 },
  'lib/network/ledger.ts': { lines: 90, branches: 80 },
  'lib/cni/': { lines: 90, branches: 80 },
};

const file = process.argv[2] ?? '.tap/report/coverage-summary.json';
const summary = JSON.parse(fs.readFileSync(file, 'utf8'));
const root = process.cwd();
let failed = 0;
for (const [prefix, min] of Object.entries(THRESHOLDS)) {
  const sum = { lines: { total: 0, covered: 0 }, branches: { total: 0, covered: 0 } };
  let files = 0;
  for (const [f, s] of Object.entries(summary)) {
    if (f === 'total') continue;
    const rel = path.relative(root, f).split(path.sep).join('/');
    if (!rel.startsWith(prefix)) continue;
    files++;
    for (const k of ['lines', 'branches']) {
      sum[k].total += s[k].total;
      sum[k].covered += s[k].covered;
    }
  }
  const pct = (k) => (sum[k].total ? (100 * sum[k].covered) / sum[k].total : 100);
  const ok = files > 0 && pct('lines') >= min.lines && pct('branches') >= min.branches;
  if (!ok) failed++;
  console.log(`${ok ? 'ok' : 'FAIL'} ${prefix}: ${files} files, lines ${pct('lines').toFixed(1)}% (min ${min.lines}), branches ${pct('branches').toFixed(1)}% (min ${min.branches})`);
}
process.exit(failed ? 1 : 0);
