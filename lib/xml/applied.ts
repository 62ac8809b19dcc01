// The rule that nothing accepted is ignored, for the parts of <domain> read
// attribute by attribute: a value netfd does not run is NOT_SUPPORTED when
// libvirt knows it, INVALID_ARGUMENT otherwise. Pure.
import { NetfdError } from '../errors';
import { attr, bad, children, Element, path } from './dom';

/** NOT_SUPPORTED naming the element or attribute, with a whole sentence of why. */
export function unsupported(el: Element, attribute: string | null, value: unknown, message: string): NetfdError {
  const field = attribute === null ? path(el) : `${path(el)}/@${attribute}`;
  return new NetfdError(`${field}: ${message}`, { code: 'NOT_SUPPORTED', field, value });
}

/**
 * An attribute that must be one of `runs` (else `def`): another value libvirt
 * knows (`libvirt`) is NOT_SUPPORTED, anything else INVALID_ARGUMENT.
 */
export function libvirtValue<T extends string>(el: Element, name: string, runs: readonly T[], libvirt: readonly string[], def: T | undefined, why: string): T | undefined {
  const x = attr(el, name);
  if (x === undefined) return def;
  if ((runs as readonly string[]).includes(x)) return x as T;
  if (libvirt.includes(x)) throw unsupported(el, name, x, `<${el.tagName} ${name}='${x}'> is not supported: ${why}`);
  throw bad(el, name, x, `expected one of ${libvirt.join(', ')}`);
}

/**
 * Refuses (NOT_SUPPORTED, by name) every attribute and child element of `el`
 * that is not in `attrs` / `kids`: what netfd reads it applies, and nothing
 * else passes silently. `why` gives the reason for a name, if it has one.
 */
export function onlyApplied(el: Element, attrs: readonly string[], kids: readonly string[], why: (name: string) => string | undefined = () => undefined): void {
  const generic = 'netfd does not turn it into qemu arguments; remove it';
  for (let i = 0; i < el.attributes.length; i++) {
    const a = el.attributes.item(i);
    if (!a || attrs.includes(a.name) || a.name === 'xmlns' || a.name.startsWith('xmlns:')) continue;
    throw unsupported(el, a.name, a.value, `<${el.tagName} ${a.name}='${a.value}'> is not supported: ${why(`@${a.name}`) ?? generic}`);
  }
  for (const c of children(el)) if (!kids.includes(c.tagName)) throw unsupported(c, null, c.tagName, `<${c.tagName}> in <${el.tagName}> is not supported: ${why(c.tagName) ?? generic}`);
}
