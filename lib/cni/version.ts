// The CNI spec versions netfd speaks, the VERSION answer, and which version
// a configuration asks for. Pure.
import { CNI_CODES, CniError, invalidConfig } from './errors';

/** The newest spec version netfd implements. */
export const CNI_VERSION = '1.1.0';
/** Every version netfd answers in (VERSION's supportedVersions). */
export const SUPPORTED_VERSIONS = ['0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
/** A version netfd answers in. */
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

/** The answer to VERSION, in the version the caller's stdin asked for (the newest when none or unknown). */
export function versionResult(requested?: unknown): { cniVersion: string; supportedVersions: string[] } {
  const v = typeof requested === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(requested) ? requested : CNI_VERSION;
  return { cniVersion: v, supportedVersions: [...SUPPORTED_VERSIONS] };
}

/**
 * The configuration's `cniVersion`, checked: a semantic version (7 otherwise)
 * that netfd supports (1, incompatible, otherwise).
 */
export function selectVersion(cniVersion: unknown): CniVersion {
  if (cniVersion === undefined) throw invalidConfig('cniVersion', cniVersion, `the configuration needs a cniVersion (one of ${SUPPORTED_VERSIONS.join(', ')})`);
  if (typeof cniVersion !== 'string' || !SEMVER.test(cniVersion)) throw invalidConfig('cniVersion', cniVersion, 'a semantic version such as 1.0.0');
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(cniVersion))
    throw new CniError(CNI_CODES.INCOMPATIBLE_VERSION, `incompatible CNI version ${cniVersion}: netfd supports ${SUPPORTED_VERSIONS.join(', ')}`);
  return cniVersion as CniVersion;
}

/** Compares two semantic versions (negative, 0, positive). */
export function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}
