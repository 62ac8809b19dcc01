// xend's s-expressions: (vm (name 'guest')(memory 512)...(device (vif ...)))
// as libvirt writes them for xend, and (domain ...) as xend reports them.
// Atoms are bare (up to a blank or a parenthesis) or single-quoted with
// backslash escapes (\' and \\), as libvirt's virBufferEscapeSexpr writes
// them. Pure.
import { checks, invalidAt, unsupportedAt, toMiB, validated, XenDomain } from './model';
import { nicFromPairs, VifPair, vifPairs } from './nic';

export type SNode = { kind: 'atom'; value: string; line: number } | { kind: 'list'; items: SNode[]; line: number };

function syntax(line: number, at: string, why: string) {
  return invalidAt(`line ${line}`, at, why);
}

/** Parses one s-expression; only blanks may follow it. A backslash before a new line is a blank (libvirt's test files wrap lines so). */
export function parseSexpr(text: string): SNode {
  const s = text;
  let pos = 0;
  let line = 1;
  const lineAt = (from: number, to: number) => {
    for (let i = from; i < to; i++) if (s[i] === '\n') line++;
  };
  const snippet = (from: number) => {
    const r = s.slice(from).split(/\r?\n/)[0].trim();
    return r.length > 60 ? `${r.slice(0, 57)}...` : r;
  };
  const match = (re: RegExp): string | null => {
    re.lastIndex = pos;
    const m = re.exec(s);
    return m ? m[0] : null;
  };
  const skip = () => {
    const m = match(/(?:\s|\\\r?\n)+/y);
    if (m === null) return;
    lineAt(pos, pos + m.length);
    pos += m.length;
  };
  const node = (): SNode => {
    skip();
    const start = line;
    if (pos >= s.length) throw syntax(line, '', "expected an s-expression such as (vm (name 'guest') ...)");
    const c = s[pos];
    if (c === '(') {
      const open = pos;
      pos++;
      const items: SNode[] = [];
      for (;;) {
        skip();
        if (pos >= s.length) throw syntax(start, snippet(open), "the '(' opened here is never closed");
        if (s[pos] === ')') {
          pos++;
          return { kind: 'list', items, line: start };
        }
        items.push(node());
      }
    }
    if (c === ')') throw syntax(line, snippet(pos), "unexpected ')': no '(' is open");
    if (c === "'") {
      const open = pos;
      let value = '';
      pos++;
      while (pos < s.length && s[pos] !== "'") {
        if (s[pos] === '\\' && pos + 1 < s.length) pos++;
        if (s[pos] === '\n') line++;
        value += s[pos];
        pos++;
      }
      if (pos >= s.length) throw syntax(start, snippet(open), 'unterminated quoted atom: a quote opened here is never closed');
      pos++;
      return { kind: 'atom', value, line: start };
    }
    const atom = match(/[^\s()]+/y) as string;
    pos += atom.length;
    return { kind: 'atom', value: atom, line: start };
  };
  const root = node();
  skip();
  if (pos < s.length) throw syntax(line, snippet(pos), 'text after the end of the s-expression');
  return root;
}

/** (key value) with one atom value, or undefined when the node is something else. */
function keyOf(n: SNode): string | undefined {
  return n.kind === 'list' && n.items[0]?.kind === 'atom' ? n.items[0].value : undefined;
}

function show(n: SNode): string {
  if (n.kind === 'atom') return n.value;
  return `(${n.items.map(show).join(' ')})`;
}

/** The single atom of (key atom). */
function atomOf(n: SNode & { kind: 'list' }, field: string): string {
  const key = (n.items[0] as { value: string }).value;
  if (n.items.length !== 2 || n.items[1].kind !== 'atom') throw invalidAt(field, show(n), `(${key} ...) takes exactly one value`);
  return n.items[1].value;
}

function positive(n: SNode & { kind: 'list' }, field: string, what: string): number {
  const raw = atomOf(n, field);
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw) * 1024 * 1024)) throw invalidAt(field, raw, `expected a positive integer (${what})`);
  return Number(raw);
}

/**
 * (vcpu_avail MASK): bit i set when vCPU i is online. libvirt counts the
 * bits for <vcpu current>, which says how many are online, not which; a mask
 * other than vCPUs 0 to N-1 (say 5, vCPUs 0 and 2) is refused rather than
 * renumbered, and so are no vCPU and a vCPU beyond (vcpus N), which libvirt
 * reads as all of them.
 */
function onlineVcpus(n: SNode & { kind: 'list' }, max: number): number {
  const field = `line ${n.line}: vcpu_avail`;
  const raw = atomOf(n, field);
  if (!/^\d+$/.test(raw)) throw invalidAt(field, raw, 'expected a bitmask of the vCPUs online, as a decimal integer (3: vCPUs 0 and 1)');
  const mask = BigInt(raw);
  if (mask === 0n) throw invalidAt(field, raw, 'no vCPU would be online');
  const online = mask.toString(2).length;
  if (mask !== (1n << BigInt(online)) - 1n) throw unsupportedAt(field, raw, `vcpu_avail ${raw} puts vCPUs online out of order; <vcpu current> counts vCPUs from 0 (for N online, the mask is 2^N-1)`);
  if (online > max) throw invalidAt(field, raw, `vcpu_avail ${raw} names ${online} vCPUs, more than (vcpus ${max})`);
  return online;
}

/** Reads the domain out of a (vm ...) or (domain ...) s-expression. */
export function domainFromSexpr(text: string): XenDomain {
  const root = parseSexpr(text);
  const head = keyOf(root);
  if (root.kind !== 'list' || (head !== 'vm' && head !== 'domain')) throw invalidAt(`line ${root.line}`, show(root).slice(0, 60), 'expected (vm ...) or (domain ...)');
  const got = new Map<string, SNode & { kind: 'list' }>();
  const devices: (SNode & { kind: 'list' })[] = [];
  for (const item of root.items.slice(1)) {
    const key = keyOf(item);
    if (key === undefined) throw invalidAt(`line ${item.line}`, show(item).slice(0, 60), `expected (key value) items in (${head} ...)`);
    const l = item as SNode & { kind: 'list' };
    if (key === 'device') {
      devices.push(l);
      continue;
    }
    if (!['name', 'uuid', 'memory', 'maxmem', 'vcpus', 'vcpu_avail', 'image'].includes(key)) continue;
    const first = got.get(key);
    if (first) throw invalidAt(`line ${l.line}: ${key}`, show(l).slice(0, 60), `(${key} ...) is given twice (first on line ${first.line}); keep one`);
    got.set(key, l);
  }

  const nameN = got.get('name');
  if (!nameN) throw invalidAt('name', '', `(${head} ...) needs (name 'GUEST')`);
  const d: XenDomain = { name: validated(`line ${nameN.line}: name`, atomOf(nameN, `line ${nameN.line}: name`), checks.name), hvm: false, memoryKiB: 0, currentMemoryKiB: 0, vcpus: 1, interfaces: [] };
  const uuidN = got.get('uuid');
  if (uuidN) d.uuid = validated(`line ${uuidN.line}: uuid`, atomOf(uuidN, `line ${uuidN.line}: uuid`), checks.uuid);
  const memN = got.get('memory');
  const memory = memN ? positive(memN, `line ${memN.line}: memory`, 'MiB') : 128;
  const maxN = got.get('maxmem');
  const maxmem = maxN ? positive(maxN, `line ${maxN.line}: maxmem`, 'MiB') : memory;
  if (memory > maxmem) throw invalidAt(`line ${(memN as SNode).line}: memory`, memory, `memory (${memory} MiB) exceeds maxmem (${maxmem} MiB)`);
  d.memoryKiB = maxmem * 1024;
  d.currentMemoryKiB = memory * 1024;
  const vcpuN = got.get('vcpus');
  if (vcpuN) d.vcpus = positive(vcpuN, `line ${vcpuN.line}: vcpus`, 'vCPUs');
  const availN = got.get('vcpu_avail');
  if (availN) {
    const online = onlineVcpus(availN, d.vcpus);
    if (online < d.vcpus) d.currentVcpus = online;
  }

  const image = got.get('image');
  if (image) {
    const kind = image.items.length === 2 ? keyOf(image.items[1]) : undefined;
    if (kind !== 'hvm' && kind !== 'linux') throw unsupportedAt(`line ${image.line}: image`, show(image).slice(0, 60), 'expected (image (hvm ...)) or (image (linux ...))');
    d.hvm = kind === 'hvm';
  }

  let index = 0;
  for (const dev of devices) {
    const body = dev.items[1];
    if (dev.items.length !== 2 || keyOf(body) === undefined) throw invalidAt(`line ${dev.line}: device`, show(dev).slice(0, 60), 'expected (device (KIND ...))');
    if (keyOf(body) !== 'vif') continue;
    const where = `line ${body.line}: vif[${index++}]`;
    const pairs: VifPair[] = (body as SNode & { kind: 'list' }).items.slice(1).map((p) => {
      const key = keyOf(p);
      if (key === undefined) throw invalidAt(where, show(p), 'expected (key value) items in (vif ...)');
      const field = `line ${p.line}: ${where.replace(/^line \d+: /, '')}.${key}`;
      return { key, value: atomOf(p as SNode & { kind: 'list' }, field), field };
    });
    d.interfaces.push(nicFromPairs(pairs, 'xen-sxpr'));
  }
  return d;
}

/** An atom as libvirt writes it: quoted, with ' and \ escaped. */
const q = (s: string) => `'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`;

/** Writes the domain as the s-expression libvirt sends to xend, on one line. */
export function domainToSexpr(d: XenDomain, xendConfigVersion: number): string {
  let s = `(vm (name ${q(d.name)})(memory ${toMiB(d.currentMemoryKiB)})(maxmem ${toMiB(d.memoryKiB)})(vcpus ${d.vcpus})`;
  // libvirt: the online vCPUs as a bitmask, when fewer than all
  if (d.currentVcpus !== undefined) s += `(vcpu_avail ${((1n << BigInt(d.currentVcpus)) - 1n).toString()})`;
  if (d.uuid) s += `(uuid ${q(d.uuid)})`;
  s += d.hvm ? '(image (hvm))' : '(image (linux))';
  for (const n of d.interfaces) {
    const pairs = vifPairs(n, 'xen-sxpr', d.hvm, xendConfigVersion);
    // (type ioemu) and (type netfront) are bare, as libvirt writes them
    s += `(device (vif ${pairs.map((p) => `(${p.key} ${p.key === 'type' ? p.value : q(p.value)})`).join('')}))`;
  }
  return `${s})\n`;
}
