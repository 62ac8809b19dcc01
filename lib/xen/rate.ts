// A vif's rate= (xm, xl and xend's (rate '...')) and libvirt's
// <bandwidth><outbound average='KIB_PER_SEC'/>, converted as libvirt's
// xen_common.c does (xenParseSxprVifRate, xenFormatNet). Pure.
//
//   rate=10MB/s  <->  average='10240'      written back as rate=10240KB/s
//
// libvirt's grammar is DIGITS [G|M|K] (B|b) "/s", then optionally
// "@INTERVAL". It counts in KiB: G multiplies by 1024*1024, M by 1024, K by
// 1; b (bits) divides the result by 8, rounding down. Where netfd parts from
// libvirt, it refuses instead of guessing:
//   - no prefix (100B/s): libvirt reads it as 100 KiB/s, Xen as 100 bytes/s;
//   - a rate below 1 KiB/s (7Kb/s rounds down to 0): <bandwidth> holds whole
//     KiB/s and 0 means no limit;
//   - @INTERVAL: Xen's credit replenishment interval, which <bandwidth> has no
//     place for (libvirt drops it). Xen's own default, 50ms, is accepted,
//     since leaving it out says the same. The interval grammar is xl's
//     (libxlu_vif.c): DIGITS, then s (or nothing), ms or us.
// Xen itself counts a K as 1000 bytes; libvirt's 1024 is what the XML holds.
import { invalidAt, unsupportedAt } from './model';

/** Xen's default credit replenishment interval, in microseconds (xl: 50ms). */
export const DEFAULT_RATE_INTERVAL_US = 50_000;

const RATE_RE = /^(\d+)([GMK]?)([Bb])\/s$/;
const INTERVAL_RE = /^(\d+)([mu]?)s?$/;
const KIB_PER: Record<string, number> = { G: 1024 * 1024, M: 1024, K: 1 };

/** The interval after '@' in microseconds, as xl reads it. */
function intervalUs(s: string, field: string, whole: string): number {
  const m = INTERVAL_RE.exec(s);
  if (!m || !/[1-9]/.test(m[1])) throw invalidAt(field, whole, `invalid replenishment interval ${JSON.stringify(s)}: expected a positive number and s, ms or us (e.g. 50ms)`);
  return Number(m[1]) * (m[2] === 'm' ? 1000 : m[2] === 'u' ? 1 : 1_000_000);
}

/** A vif rate= value as KiB/s (the XML's <outbound average>); `field` names it in errors. */
export function rateFromVif(value: string, field: string): number {
  const at = value.indexOf('@');
  const rate = at < 0 ? value : value.slice(0, at);
  const m = RATE_RE.exec(rate);
  if (!m) throw invalidAt(field, value, `invalid rate ${JSON.stringify(value)}: expected a number, a unit KB, MB or GB (Kb, Mb, Gb for bits) and /s, e.g. 10MB/s`);
  const [, digits, prefix, unit] = m;
  if (prefix === '')
    throw unsupportedAt(
      field,
      value,
      `rate ${JSON.stringify(value)} has no K, M or G: libvirt reads ${digits}${unit}/s as ${digits} KiB/s, Xen as ${digits} ${unit === 'B' ? 'bytes' : 'bits'}/s; write it in K${unit}/s, M${unit}/s or G${unit}/s`,
    );
  if (!/[1-9]/.test(digits)) throw invalidAt(field, value, `rate ${JSON.stringify(value)} is zero: a rate is at least 1KB/s (leave rate= out for no limit)`);
  const scaled = Number(digits) * KIB_PER[prefix];
  const kib = unit === 'b' ? Math.floor(scaled / 8) : scaled; // libvirt rounds bits down
  if (!Number.isSafeInteger(kib) || !Number.isSafeInteger(Number(digits))) throw invalidAt(field, value, `rate ${JSON.stringify(value)} is too large`);
  if (kib === 0) throw unsupportedAt(field, value, `rate ${JSON.stringify(value)} is below 1 KiB/s: <bandwidth> holds whole KiB/s, and libvirt rounds it down to 0 (no limit)`);
  if (at >= 0) {
    const us = intervalUs(value.slice(at + 1), field, value);
    if (us !== DEFAULT_RATE_INTERVAL_US)
      throw unsupportedAt(field, value, `a replenishment interval other than Xen's default 50ms has no place in <bandwidth> (libvirt drops it); remove @${value.slice(at + 1)} to convert`);
  }
  return kib;
}

/** <outbound average> (KiB/s) as a vif rate=, as libvirt writes it. */
export function rateToVif(kib: number): string {
  return `${kib}KB/s`;
}
