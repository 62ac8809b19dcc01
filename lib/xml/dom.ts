// A thin layer over @xmldom/xmldom: strict parsing, element paths for error
// messages, and edits that keep the user's layout (unknown elements, comments
// and whitespace survive a round trip).
import { Module } from 'node:module';
import type { Document, Element } from '@xmldom/xmldom';
import { NetfdError } from '../errors';

export type { Document, Element };

type Xmldom = typeof import('@xmldom/xmldom');
let loaded: Xmldom | undefined;
/** @xmldom/xmldom, loaded when XML is first parsed or written (not by every program that imports this layer). */
function xmldom(): Xmldom {
  if (loaded) return loaded;
  lazyEntities();
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use: most CLI calls parse no XML
  return (loaded = require('@xmldom/xmldom') as Xmldom);
}

/** The entities XML predefines (XML 1.0 §4.6): all that xmldom's parser uses for 'text/xml'. */
const XML_ENTITIES = Object.freeze({ amp: '&', apos: "'", gt: '>', lt: '<', quot: '"' });

/**
 * xmldom's lib/entities.js builds HTML's table of 2,100 named entities as it
 * loads: about 11 ms, most of loading the parser, on every CLI call that
 * reads XML. Its parser reads that table only for HTML documents (netfd
 * parses 'text/xml' alone, which uses XML_ENTITIES). So before xmldom loads,
 * its entities module is put in the require cache with XML's five entities,
 * and the HTML table read from the real file should anything ask for it.
 * @internal (exported for the test that compares it with the real module)
 */
export function lazyEntities(): void {
  const file = require.resolve('@xmldom/xmldom/lib/entities');
  if (require.cache[file]) return;
  let real: { HTML_ENTITIES: unknown; entityMap: unknown } | undefined;
  const load = () => {
    if (!real) {
      delete require.cache[file];
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the real table, only when asked for
      real = require(file) as typeof real & object;
    }
    return real;
  };
  const stub = new Module(file, module);
  stub.filename = file;
  stub.loaded = true;
  stub.exports = Object.defineProperties(
    { XML_ENTITIES },
    {
      HTML_ENTITIES: { enumerable: true, get: () => load().HTML_ENTITIES },
      entityMap: { enumerable: true, get: () => load().entityMap },
    },
  );
  require.cache[file] = stub;
}

/** ELEMENT_NODE and TEXT_NODE (DOM constants, without loading the parser). */
const ELEMENT_NODE = 1;
const TEXT_NODE = 3;

/** Parses XML strictly: any warning or error of the parser is fatal. */
export function parseXml(text: string, what: string): Document {
  if (typeof text !== 'string') throw new NetfdError(`${what}: XML must be a string`, { code: 'INVALID_XML', field: what, value: text });
  let problem: string | undefined;
  const parser = new (xmldom().DOMParser)({
    onError: (level, message) => {
      problem ??= `${level}: ${message}`;
      throw new Error(message);
    },
  });
  let doc: Document;
  try {
    doc = parser.parseFromString(text, 'text/xml');
  } catch (err) {
    const detail = (problem ?? (err as Error).message)
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .join(' ');
    throw new NetfdError(`${what} is not well-formed XML: ${detail}`, { code: 'INVALID_XML', field: what, value: text.slice(0, 80) });
  }
  if (!doc.documentElement) throw new NetfdError(`${what} has no root element`, { code: 'INVALID_XML', field: what, value: text.slice(0, 80) });
  return doc;
}

export function serializeXml(doc: Document): string {
  const s = new (xmldom().XMLSerializer)().serializeToString(doc);
  return s.endsWith('\n') ? s : `${s}\n`;
}

/** The element children of `el`, optionally only those named `name`. */
export function children(el: Element, name?: string): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === ELEMENT_NODE && (name === undefined || (n as Element).tagName === name)) out.push(n as Element);
  }
  return out;
}

/** The one child named `name`, or null; two of them is an error. */
export function child(el: Element, name: string): Element | null {
  const list = children(el, name);
  if (list.length > 1) throw new NetfdError(`${path(list[1])}: <${name}> may appear only once in <${el.tagName}>`, { code: 'INVALID_ARGUMENT', field: path(list[1]), value: name });
  return list[0] ?? null;
}

/** An XPath-like location such as /domain/devices/interface[2]/mac. */
export function path(el: Element): string {
  const parts: string[] = [];
  for (let e: Element | null = el; e; e = e.parentNode && e.parentNode.nodeType === ELEMENT_NODE ? (e.parentNode as Element) : null) {
    const parent = e.parentNode && e.parentNode.nodeType === ELEMENT_NODE ? (e.parentNode as Element) : null;
    const same = parent ? children(parent, e.tagName) : [e];
    parts.unshift(same.length > 1 ? `${e.tagName}[${same.indexOf(e) + 1}]` : e.tagName);
  }
  return `/${parts.join('/')}`;
}

export function attr(el: Element, name: string): string | undefined {
  return el.hasAttribute(name) ? (el.getAttribute(name) ?? undefined) : undefined;
}

export function text(el: Element): string {
  return (el.textContent ?? '').trim();
}

/**
 * Valid libvirt that netfd does not apply: NOT_SUPPORTED naming the element
 * (attribute null) or the attribute, never silently dropped.
 */
export function notSupported(el: Element, attribute: string | null, value: unknown, why: string): NetfdError {
  const field = attribute === null ? path(el) : `${path(el)}/@${attribute}`;
  const shown = attribute === null ? `<${el.tagName}>` : `<${el.tagName} ${attribute}='${String(value)}'>`;
  return new NetfdError(`${field}: ${shown} is not supported: ${why}`, { code: 'NOT_SUPPORTED', field, value });
}

/** An on/off attribute. */
export function onOff(el: Element, name: string): boolean | undefined {
  const x = oneOf(el, name, ['on', 'off']);
  return x === undefined ? undefined : x === 'on';
}

/** A yes/no attribute, `def` when absent. */
export function yesNo(el: Element, name: string, def: boolean): boolean {
  const x = oneOf(el, name, ['yes', 'no']);
  return x === undefined ? def : x === 'yes';
}

/** A decimal integer attribute that `check` accepts (null) or explains. */
export function intAttr(el: Element, name: string, check: (n: number) => string | null): number | undefined {
  const x = attr(el, name);
  if (x === undefined) return undefined;
  const n = /^\d+$/.test(x) ? Number(x) : NaN;
  const problem = Number.isSafeInteger(n) ? check(n) : 'expected a decimal integer';
  if (problem) throw bad(el, name, x, problem);
  return n;
}

/** An absolute path attribute. */
export function absPath(el: Element, name: string): string | undefined {
  const x = attr(el, name);
  if (x === undefined) return undefined;
  if (!x.startsWith('/') || x.includes('\0')) throw bad(el, name, x, 'expected an absolute path');
  return x;
}

/** An error about an attribute (or, with attribute null, an element's text). */
export function bad(el: Element, attribute: string | null, value: unknown, expected: string): NetfdError {
  const field = attribute === null ? path(el) : `${path(el)}/@${attribute}`;
  const shown = attribute === null ? `<${el.tagName}>${String(value)}</${el.tagName}>` : `<${el.tagName} ${attribute}='${String(value)}'>`;
  return new NetfdError(`${field}: invalid ${shown}: ${expected}`, { code: 'INVALID_ARGUMENT', field, value });
}

/** The whitespace in front of `el` (its indentation), if any. */
function indentOf(el: Element): string | null {
  const prev = el.previousSibling;
  if (prev && prev.nodeType === TEXT_NODE && /^\s+$/.test(prev.nodeValue ?? '')) return prev.nodeValue;
  return null;
}

/**
 * Adds a child before `before` (or at the end), indented like its siblings,
 * and returns it: a new element named `name`, or a copy of an element from
 * another document.
 */
export function addChild(parent: Element, name: string | Element, before: Element | null = null): Element {
  const doc = parent.ownerDocument as Document;
  const el = typeof name === 'string' ? doc.createElement(name) : (doc.importNode(name, true) as Element);
  const siblings = children(parent);
  const like = before ?? siblings[siblings.length - 1] ?? null;
  const indent = like ? indentOf(like) : null;
  if (typeof name !== 'string' && indent !== null) reindent(el, indent.slice(indent.lastIndexOf('\n') + 1));
  if (before) {
    parent.insertBefore(el, before);
    if (indent !== null) parent.insertBefore(doc.createTextNode(indent), before);
  } else if (like && indent !== null) {
    // after the last element child, before the closing whitespace
    const after = like.nextSibling;
    parent.insertBefore(doc.createTextNode(indent), after);
    parent.insertBefore(el, after);
  } else if (!like && indentOf(parent) !== null && onlyWhitespace(parent)) {
    // the first child of an indented element: one level (two spaces) deeper
    const outer = indentOf(parent) as string;
    while (parent.firstChild) parent.removeChild(parent.firstChild);
    parent.appendChild(doc.createTextNode(`${outer}  `));
    parent.appendChild(el);
    parent.appendChild(doc.createTextNode(outer));
  } else {
    parent.appendChild(el);
  }
  return el;
}

function onlyWhitespace(el: Element): boolean {
  for (let n = el.firstChild; n; n = n.nextSibling) if (n.nodeType !== TEXT_NODE || !/^\s*$/.test(n.nodeValue ?? '')) return false;
  return true;
}

/** Indents a copied element's own line breaks by `prefix`, to sit among new siblings. */
function reindent(el: Element, prefix: string): void {
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === TEXT_NODE && /^\s+$/.test(n.nodeValue ?? '')) n.nodeValue = (n.nodeValue ?? '').replace(/\n/g, `\n${prefix}`);
    else if (n.nodeType === ELEMENT_NODE) reindent(n as Element, prefix);
  }
}

/** Removes an element and the indentation in front of it. */
export function removeChild(el: Element): void {
  const parent = el.parentNode;
  if (!parent) return;
  const prev = el.previousSibling;
  if (prev && prev.nodeType === TEXT_NODE && /^\s+$/.test(prev.nodeValue ?? '')) parent.removeChild(prev);
  parent.removeChild(el);
}

/** An attribute that must be one of `allowed` (else `def`). */
export function oneOf<T extends string>(el: Element, name: string, allowed: readonly T[], def?: T): T | undefined {
  const x = attr(el, name);
  if (x === undefined) return def;
  if (!(allowed as readonly string[]).includes(x)) throw bad(el, name, x, `expected one of ${allowed.join(', ')}`);
  return x as T;
}

/** Runs a validator on an attribute's value; its error is reported for that attribute. */
export function checked<T>(el: Element, name: string, value: string, fn: (x: string) => T): T {
  try {
    return fn(value);
  } catch (err) {
    const why = (err as Error).message.replace(/^invalid \S+ "[^"]*": /, '');
    throw bad(el, name, value, why);
  }
}

/** The <name> of a libvirt object (domain, network): 1-200 bytes, no whitespace or /. */
/** A domain or network name: it names files, so 1-200 bytes, no whitespace, no /. */
export const isObjectName = (name: string): boolean => !!name && !name.includes('/') && name !== '.' && name !== '..' && Buffer.byteLength(name) <= 200 && !/[\s\0]/.test(name);

export function nameOf(root: Element): string {
  const nameEl = child(root, 'name');
  const what = root.tagName;
  if (!nameEl) throw new NetfdError(`/${what}/name: a ${what} needs a <name>`, { code: 'INVALID_ARGUMENT', field: `/${what}/name`, value: '' });
  const name = text(nameEl);
  if (!isObjectName(name)) throw bad(nameEl, null, name, `a ${what} name is 1-200 bytes, no whitespace or /`);
  return name;
}

/** The <uuid>, normalised to lower case with dashes, or undefined. */
export function uuidOf(root: Element): string | undefined {
  const uuid = child(root, 'uuid');
  if (!uuid) return undefined;
  const u = text(uuid);
  if (!/^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/.test(u)) throw bad(uuid, null, u, 'expected a UUID');
  const h = u.replace(/-/g, '').toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const UNITS: Record<string, number> = {
  b: 1,
  bytes: 1,
  KB: 1000,
  k: 1024,
  KiB: 1024,
  MB: 1e6,
  M: 1024 ** 2,
  MiB: 1024 ** 2,
  GB: 1e9,
  G: 1024 ** 3,
  GiB: 1024 ** 3,
  TB: 1e12,
  T: 1024 ** 4,
  TiB: 1024 ** 4,
};

/** A libvirt memory amount (<memory unit='MiB'>64</memory>) in KiB, rounded up. */
export function memoryKiB(el: Element): number {
  const unit = attr(el, 'unit') ?? 'KiB';
  const mult = UNITS[unit];
  if (mult === undefined) throw bad(el, 'unit', unit, `expected one of ${Object.keys(UNITS).join(', ')}`);
  const t = text(el);
  if (!/^\d+$/.test(t) || Number(t) === 0) throw bad(el, null, t, 'expected a positive integer amount of memory');
  const kib = Math.ceil((Number(t) * mult) / 1024);
  if (!Number.isSafeInteger(kib * 1024)) throw bad(el, null, t, 'too large');
  return kib;
}
