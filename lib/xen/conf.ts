// xm and xl domain config files (/etc/xen/NAME.cfg): the subset of Python
// libvirt's virconf reads, `key = value` with strings ('..', "..", """..""",
// '''..'''), integers and [lists], '#' comments, statements ended by a new
// line or ';'. Parsed into entries with their line numbers, then read for the
// keys the conversion carries; other keys are skipped. Pure.
import { invalidAt, unsupportedAt, checks, toMiB, validated, XenDomain, XenInterface } from './model';
import { cannotHold, nicFromPairs, VifPair, vifPairs } from './nic';

export type ConfValue = { kind: 'string'; value: string; line: number } | { kind: 'number'; value: number; text: string; line: number } | { kind: 'list'; items: ConfValue[]; line: number };

export interface ConfEntry {
  name: string;
  value: ConfValue;
  line: number;
}

/** A syntax error: field "line N", value the text where parsing stopped. */
function syntax(line: number, at: string, why: string) {
  return invalidAt(`line ${line}`, at, why);
}

/** Text to show in an error: at most 60 characters. */
const short = (r: string) => (r.length > 60 ? `${r.slice(0, 57)}...` : r);

const isBlank = (c: string | undefined) => c === ' ' || c === '\t';
const isEol = (c: string | undefined) => c === '\n' || c === '\r';

class Cursor {
  pos = 0;
  line = 1;
  constructor(readonly s: string) {}
  /** The character at the cursor (a method, so that checks on it are not narrowed across advance()). */
  at(): string | undefined {
    return this.s[this.pos];
  }
  get done(): boolean {
    return this.pos >= this.s.length;
  }
  startsWith(x: string): boolean {
    return this.s.startsWith(x, this.pos);
  }
  advance(n = 1): void {
    for (let i = 0; i < n && this.pos < this.s.length; i++) {
      // \r\n counts once, at the \n
      if (this.s[this.pos] === '\n' || (this.s[this.pos] === '\r' && this.s[this.pos + 1] !== '\n')) this.line++;
      this.pos++;
    }
  }
  /** `re` (sticky) matched at the cursor, or null. */
  match(re: RegExp): string | null {
    re.lastIndex = this.pos;
    const m = re.exec(this.s);
    return m ? m[0] : null;
  }
  /** The rest of the current line, trimmed and shortened, to show in an error. */
  rest(): string {
    const end = this.s.slice(this.pos).search(/[\r\n]/);
    return short((end < 0 ? this.s.slice(this.pos) : this.s.slice(this.pos, this.pos + end)).trim());
  }
  skipBlanks(): void {
    while (isBlank(this.at())) this.advance();
  }
  skipComment(): void {
    if (this.at() === '#') while (!this.done && !isEol(this.at())) this.advance();
  }
  /** Blanks, new lines and comments (inside a list, as Python allows). */
  skipSpace(): void {
    for (;;) {
      this.skipBlanks();
      if (this.at() === '#') this.skipComment();
      else if (isEol(this.at())) this.advance();
      else return;
    }
  }
}

function parseString(cur: Cursor, name: string): ConfValue {
  const line = cur.line;
  for (const q of ['"""', "'''"]) {
    if (!cur.startsWith(q)) continue;
    cur.advance(3);
    const start = cur.pos;
    while (!cur.done && !cur.startsWith(q)) cur.advance();
    if (cur.done) throw syntax(line, short(cur.s.slice(start - 3).split(/\r?\n/)[0]), `${name}: unterminated ${q} string`);
    const value = cur.s.slice(start, cur.pos);
    cur.advance(3);
    return { kind: 'string', value, line };
  }
  const q = cur.at() as string;
  cur.advance();
  const start = cur.pos;
  while (!cur.done && cur.at() !== q && !isEol(cur.at())) cur.advance();
  if (cur.at() !== q) throw syntax(line, short(`${q}${cur.s.slice(start, cur.pos)}`), `${name}: unterminated string: a ${q}...${q} string ends on the line it starts`);
  const value = cur.s.slice(start, cur.pos);
  cur.advance();
  return { kind: 'string', value, line };
}

function parseValue(cur: Cursor, name: string): ConfValue {
  const line = cur.line;
  const c = cur.at();
  if (c === '"' || c === "'") return parseString(cur, name);
  if (c === '[') {
    cur.advance();
    const items: ConfValue[] = [];
    for (;;) {
      cur.skipSpace();
      if (cur.done) throw syntax(line, '[', `${name}: the list opened here is not closed with ]`);
      if (cur.at() === ']') break;
      items.push(parseValue(cur, `${name}[${items.length}]`));
      cur.skipSpace();
      if (cur.at() === ',') {
        cur.advance();
        continue;
      }
      if (cur.at() === ']') break;
      if (cur.done) throw syntax(line, '[', `${name}: the list opened here is not closed with ]`);
      throw syntax(cur.line, cur.rest(), `${name}: expected ',' or ']' after a list item`);
    }
    cur.advance();
    return { kind: 'list', items, line };
  }
  const n = cur.match(/[+-]?\d+(?![A-Za-z0-9_.])/y);
  if (n !== null) {
    cur.advance(n.length);
    return { kind: 'number', value: Number(n), text: n, line };
  }
  throw syntax(line, cur.rest(), `${name}: expected a value: a quoted string, an integer or a [list]`);
}

/** Parses a whole config into its assignments, in order. */
export function parseConf(text: string): ConfEntry[] {
  const cur = new Cursor(text.startsWith('\ufeff') ? text.slice(1) : text);
  const entries: ConfEntry[] = [];
  for (;;) {
    cur.skipSpace();
    if (cur.done) return entries;
    const line = cur.line;
    const name = cur.match(/[A-Za-z_][A-Za-z0-9_]*/y);
    if (name === null) throw syntax(line, cur.rest(), 'expected a setting such as name = "guest"');
    cur.advance(name.length);
    cur.skipBlanks();
    if (cur.at() !== '=') throw syntax(line, cur.rest() || name, `expected '=' after ${name}`);
    cur.advance();
    cur.skipBlanks();
    if (cur.done || isEol(cur.at()) || cur.at() === '#') throw syntax(line, name, `${name}: expected a value after '='`);
    const value = parseValue(cur, name);
    entries.push({ name, value, line });
    cur.skipBlanks();
    cur.skipComment();
    if (cur.at() === ';') cur.advance();
    else if (!cur.done && !isEol(cur.at())) throw syntax(cur.line, cur.rest(), `unexpected text after the value of ${name}: one setting per line (or separate them with ';')`);
  }
}

/** Splits one vif string into key=value pairs as xm and xl do: ',' between pairs, the first '=' in each. */
export function vifPairsOf(s: string, where: string): VifPair[] {
  const pairs: VifPair[] = [];
  for (const part of s.split(',')) {
    const p = part.trim();
    if (!p) continue; // "a=1,,b=2" and a trailing comma, as libvirt skips them
    const eq = p.indexOf('=');
    if (eq < 0) throw invalidAt(where, s, `${JSON.stringify(p)} is not key=value: a vif is a list of key=value separated by ','`);
    const key = p.slice(0, eq).trim();
    pairs.push({ key, value: p.slice(eq + 1).trim(), field: `${where}.${key}` });
  }
  return pairs;
}

/** The keys the conversion reads; each may be set once. */
const KNOWN = ['name', 'uuid', 'memory', 'maxmem', 'vcpus', 'maxvcpus', 'vcpu_avail', 'builder', 'vif'];

function describe(v: ConfValue): string {
  return v.kind === 'list' ? 'a list' : v.kind === 'number' ? `the number ${v.text}` : `the string ${JSON.stringify(v.value)}`;
}

function str(e: ConfEntry): string {
  if (e.value.kind !== 'string') throw invalidAt(`line ${e.line}: ${e.name}`, e.value.kind === 'number' ? e.value.value : '[...]', `${e.name} must be a quoted string, not ${describe(e.value)}`);
  return e.value.value;
}

function count(e: ConfEntry, what: string): number {
  const v = e.value;
  const raw = v.kind === 'number' ? v.text : v.kind === 'string' ? v.value : '[...]';
  if (v.kind === 'list' || !/^\+?\d+$/.test(raw.trim()) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw) * 1024 * 1024))
    throw invalidAt(`line ${e.line}: ${e.name}`, raw, `${e.name} must be a positive integer (${what}), not ${describe(v)}`);
  return Number(raw);
}

/** Reads the domain out of a parsed xm (format 'xen-xm') or xl ('xen-xl') config. */
export function domainFromConf(text: string, format: 'xen-xm' | 'xen-xl'): XenDomain {
  const entries = parseConf(text);
  const known = format === 'xen-xl' ? [...KNOWN, 'type'] : KNOWN;
  const got = new Map<string, ConfEntry>();
  for (const e of entries) {
    if (!known.includes(e.name)) continue;
    const first = got.get(e.name);
    if (first)
      throw invalidAt(
        `line ${e.line}: ${e.name}`,
        e.value.kind === 'string' ? e.value.value : e.value.kind === 'number' ? e.value.value : '[...]',
        `${e.name} is set twice (first on line ${first.line}); keep one`,
      );
    got.set(e.name, e);
  }

  const nameE = got.get('name');
  if (!nameE) throw invalidAt('name', '', `a ${format} config needs name = "GUEST"`);
  const name = validated(`line ${nameE.line}: name`, str(nameE), checks.name);
  const d: XenDomain = { name, hvm: false, memoryKiB: 0, currentMemoryKiB: 0, vcpus: 1, interfaces: [] };
  const uuidE = got.get('uuid');
  if (uuidE) d.uuid = validated(`line ${uuidE.line}: uuid`, str(uuidE), checks.uuid);

  // libvirt: memory defaults to 128 MiB (twice MIN_XEN_GUEST_SIZE), maxmem to memory
  const memE = got.get('memory');
  const memory = memE ? count(memE, 'MiB') : 128;
  const maxE = got.get('maxmem');
  const maxmem = maxE ? count(maxE, 'MiB') : memory;
  if (memory > maxmem) throw invalidAt(`line ${(memE as ConfEntry).line}: memory`, memory, `memory (${memory} MiB) exceeds maxmem (${maxmem} MiB)`);
  d.memoryKiB = maxmem * 1024;
  d.currentMemoryKiB = memory * 1024;
  // libvirt: vcpus = N sets the maximum and the number online (default 1);
  // maxvcpus = M, when given, raises the maximum: <vcpu current='N'>M</vcpu>
  const vcpuE = got.get('vcpus');
  if (vcpuE) d.vcpus = count(vcpuE, 'vCPUs');
  const maxvE = got.get('maxvcpus');
  if (maxvE) {
    const max = count(maxvE, 'vCPUs');
    if (d.vcpus > max) throw invalidAt(`line ${(vcpuE as ConfEntry).line}: vcpus`, d.vcpus, `vcpus (${d.vcpus}) exceeds maxvcpus (${max})`);
    if (d.vcpus < max) d.currentVcpus = d.vcpus;
    d.vcpus = max;
  }
  // xm's vcpu_avail bitmask picks which vCPUs are online; libvirt skips it
  const availE = got.get('vcpu_avail');
  if (availE)
    throw unsupportedAt(
      `line ${availE.line}: vcpu_avail`,
      availE.value.kind === 'list' ? '[...]' : availE.value.value,
      'vcpu_avail picks which vCPUs are online; libvirt ignores it and <vcpu> cannot say which: use maxvcpus = M with vcpus = N (online) instead',
    );

  // xl: type = "hvm" | "pv" (| "pvh") wins over the older builder = "hvm"
  const typeE = got.get('type');
  const builderE = got.get('builder');
  if (typeE) {
    const t = str(typeE);
    if (t === 'pvh') throw unsupportedAt(`line ${typeE.line}: type`, t, 'PVH guests are not supported by the conversion (hvm or pv only)');
    if (t !== 'hvm' && t !== 'pv') throw invalidAt(`line ${typeE.line}: type`, t, 'type must be "hvm" or "pv"');
    d.hvm = t === 'hvm';
  } else if (builderE) {
    const b = str(builderE);
    if (b !== 'hvm' && b !== 'linux') throw invalidAt(`line ${builderE.line}: builder`, b, 'builder must be "hvm" or "linux" (PV)');
    d.hvm = b === 'hvm';
  }

  const vifE = got.get('vif');
  if (vifE) {
    if (vifE.value.kind !== 'list')
      throw invalidAt(
        `line ${vifE.line}: vif`,
        vifE.value.kind === 'string' ? vifE.value.value : vifE.value.value,
        `vif must be a list of strings such as [ "mac=00:16:3e:00:00:01,bridge=xenbr0" ], not ${describe(vifE.value)}`,
      );
    d.interfaces = vifE.value.items.map((item, i): XenInterface => {
      const where = `line ${item.line}: vif[${i}]`;
      if (item.kind !== 'string') throw invalidAt(where, item.kind === 'number' ? item.value : '[...]', `each vif is a string of key=value pairs, not ${describe(item)}`);
      return nicFromPairs(vifPairsOf(item.value, where), format);
    });
  }
  return d;
}

/** A string as virconf writes it: "..." unless it holds a '"', then '...'. */
function quote(s: string, at: string): string {
  if (!s.includes('"')) return `"${s}"`;
  if (!s.includes("'")) return `'${s}'`;
  throw unsupportedAt(at, s, `a value with both ' and " cannot be written as an xm/xl string`);
}

/** Writes the domain as an xm or xl config, in libvirt's order of keys. */
export function domainToConf(d: XenDomain, format: 'xen-xm' | 'xen-xl', xendConfigVersion: number): string {
  const lines = [`name = ${quote(d.name, '/domain/name')}`];
  if (d.uuid) lines.push(`uuid = "${d.uuid}"`);
  lines.push(`maxmem = ${toMiB(d.memoryKiB)}`, `memory = ${toMiB(d.currentMemoryKiB)}`);
  // libvirt writes maxvcpus only when fewer vCPUs are online
  if (d.currentVcpus !== undefined) lines.push(`maxvcpus = ${d.vcpus}`, `vcpus = ${d.currentVcpus}`);
  else lines.push(`vcpus = ${d.vcpus}`);
  if (d.hvm) lines.push('builder = "hvm"');
  if (d.interfaces.length) {
    const vifs = d.interfaces.map((n, i) => {
      const pairs = vifPairs(n, format, d.hvm, xendConfigVersion);
      for (const p of pairs)
        if (p.value.includes(','))
          throw cannotHold(p, `/domain/devices/interface[${i + 1}]`, `${p.key} ${JSON.stringify(p.value)} holds a ',', which separates the key=value pairs of a ${format} vif`);
      const s = pairs.map((p) => `${p.key}=${p.value}`).join(',');
      const odd = pairs.find((p) => p.value.includes('"')) ?? pairs[0];
      return quote(s, odd?.at ?? `/domain/devices/interface[${i + 1}]`);
    });
    lines.push(`vif = [ ${vifs.join(', ')} ]`);
  }
  return `${lines.join('\n')}\n`;
}
