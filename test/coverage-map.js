// node-tap coverage map: which lib/ files a test file's coverage counts for.
// A unit test of lib/LAYER/… counts for the whole of lib/LAYER/ (a layer's
// tests together cover it); native, privileged and e2e tests are mapped out
// (they prove behaviour on the host, not lines). scripts/coverage-check.js
// then holds the pure layers to their thresholds.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

module.exports = (testFile) => {
  const m = /^test\/unit\/([^/]+)\//.exec(testFile.split(path.sep).join('/'));
  if (!m) return null;
  const dir = path.join('lib', m[1]);
  return fs.existsSync(dir) ? `${dir}/**` : null;
};
