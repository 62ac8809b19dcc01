// VERSION and version selection. Pure.
import t from 'tap';
import { compareVersions, CNI_VERSION, selectVersion, SUPPORTED_VERSIONS, versionResult } from '../../../lib/cni/version';
import { CniError } from '../../../lib/cni/errors';
import { golden } from '../../helpers/cni-golden';

const code = (fn: () => unknown): number | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as CniError).cniCode;
  }
  return undefined;
};

t.test('VERSION answers in the version asked for, the newest otherwise', async (t) => {
  golden(t, 'version', {
    none: versionResult(),
    v031: versionResult('0.3.1'),
    v100: versionResult('1.0.0'),
    unknown: versionResult('0.2.0'),
    notString: versionResult(7),
  });
  t.equal(CNI_VERSION, '1.1.0');
  t.same(SUPPORTED_VERSIONS, ['0.3.1', '0.4.0', '1.0.0', '1.1.0']);
});

t.test('selectVersion', async (t) => {
  for (const v of SUPPORTED_VERSIONS) t.equal(selectVersion(v), v);
  t.equal(
    code(() => selectVersion('0.2.0')),
    1,
    'an older version is incompatible (1)',
  );
  t.equal(
    code(() => selectVersion('2.0.0')),
    1,
    'a newer one too',
  );
  t.equal(
    code(() => selectVersion('1.0')),
    7,
    'not a semantic version (7)',
  );
  t.equal(
    code(() => selectVersion(1)),
    7,
  );
  t.equal(
    code(() => selectVersion(undefined)),
    7,
    'missing (7)',
  );
  t.match(
    (() => {
      try {
        selectVersion('0.2.0');
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })(),
    /0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0/,
  );
});

t.test('compareVersions', async (t) => {
  t.ok(compareVersions('0.4.0', '0.3.1') > 0);
  t.ok(compareVersions('1.0.0', '1.1.0') < 0);
  t.equal(compareVersions('1.1.0', '1.1.0'), 0);
  t.ok(compareVersions('0.10.0', '0.9.0') > 0, 'numeric, not lexical');
});
