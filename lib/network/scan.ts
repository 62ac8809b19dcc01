// What a network reads of the host and of the domains, cached between calls:
// the connections each domain's live XML records (re-read when the file
// changes), the stamps of scope directories, and each <pf>'s expansion
// (re-walked only when its sriov_numvfs changes).
import fs from 'node:fs';
import path from 'node:path';
import { domainScopes, liveXmlPath, objectNames } from '../state/dirs';
import { DomainXml } from '../xml/domain';
import { NetworkXml } from '../xml/network';
import { readIfExists } from './config';
import type { DomainRef } from './ledger';
import { expandPf } from './pool';

/** Parsed live XML by file, while its inode, size and mtime stay the same. */
const liveRefs = new Map<string, { stamp: string; refs: DomainRef[] }>();

/**
 * A directory's stamp, or null when it changed too recently to be trusted
 * (a change within the file system's timestamp granularity could leave it
 * as it is, so such a stamp is never compared: its connections are checked
 * again next time).
 */
export function dirStamp(dir: string): string | null {
  const st = fs.statSync(dir, { throwIfNoEntry: false });
  if (!st) return 'none';
  if (Date.now() - Math.max(st.mtimeMs, st.ctimeMs) < RACY_MS) return null;
  return `${st.ino}:${st.mtimeMs}:${st.ctimeMs}:${st.size}:${st.nlink}`;
}
// Longer than a timestamp tick of a local file system (a jiffy, at most 10 ms, where timestamps are coarse).
const RACY_MS = 100;

/** A <pf>'s expansion, by sysfs root and PF, re-walked when its sriov_numvfs is no longer `numVfs`. */
const expansions = new Map<string, { numVfs: number; countFile: string; devices: string[]; warnings: string[] }>();

/**
 * The pool now: the listed devices, or the PF's VFs read from sysfs.
 * `strict` (start, allocate): a PF that cannot be expanded is an error;
 * otherwise (release, destroy, status) a warning, and the pool as the live
 * XML last showed it, so a vanished PF never blocks giving devices back.
 */
export function poolOf(sysfsRoot: string, livePath: string, xml: NetworkXml, warnings: string[], strict: boolean, walk = false): string[] {
  const { pf, devices } = xml.def;
  if (pf === undefined) return devices;
  const key = `${sysfsRoot}\n${pf}`;
  const known = expansions.get(key);
  if (known && !walk && numVfs(known.countFile) === known.numVfs) {
    warnings.push(...known.warnings);
    return known.devices;
  }
  try {
    const e = expandPf(pf, { sysfsRoot: sysfsRoot });
    if (expansions.size >= 256 && !expansions.has(key)) expansions.clear();
    expansions.set(key, { numVfs: e.numVfs, countFile: path.join(sysfsRoot, 'class', 'net', pf, 'device', 'sriov_numvfs'), devices: e.devices, warnings: e.warnings });
    warnings.push(...e.warnings);
    return e.devices;
  } catch (err) {
    expansions.delete(key);
    if (strict) throw err;
    warnings.push(`${(err as Error).message}; using the pool as last seen`);
    const live = readIfExists(livePath);
    return live === null ? [] : NetworkXml.parse(live, { live: true }).def.devices;
  }
}

/** The PF's sriov_numvfs (the file `countFile`) now, or null when it cannot be read as a count (then the PF is walked). */
function numVfs(countFile: string): number | null {
  try {
    const s = fs.readFileSync(countFile, 'utf8').trim();
    return /^\d{1,9}$/.test(s) ? Number(s) : null;
  } catch {
    return null;
  }
}

/** The connections to `name` that every domain in every scope records. */
export function scanRefs(domainDir: string, name: string, warnings: string[]): DomainRef[] {
  const refs: DomainRef[] = [];
  for (const scope of domainScopes(domainDir)) for (const domain of objectNames(scope)) refs.push(...refsOf(name, scope, domain, warnings));
  return refs;
}

/** The connections to network `name` that one domain's live XML records (none when it has no live XML). */
export function refsOf(name: string, scope: string, domain: string, warnings: string[]): DomainRef[] {
  const file = liveXmlPath(scope, domain);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return []; // gone
  }
  const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
  let cached = liveRefs.get(file);
  if (cached?.stamp !== stamp) {
    const text = readIfExists(file);
    if (text === null) return [];
    try {
      const d = DomainXml.parse(text, { live: true }).def;
      const all: DomainRef[] = [];
      for (const i of d.interfaces) if (i.type === 'network' && i.source.network && i.actual && i.mac) all.push({ network: i.source.network, domain: d.name, mac: i.mac, dev: i.actual.dev, scope });
      cached = { stamp, refs: all };
    } catch (e) {
      warnings.push(`domain state ${file} cannot be read (${(e as Error).message}); its connections are not counted`);
      cached = { stamp, refs: [] };
    }
    if (liveRefs.size >= 4096) liveRefs.clear();
    liveRefs.set(file, cached);
  }
  return cached.refs.filter((r) => r.network === name && r.domain === domain);
}
