// A running network's live XML for new counts without re-serializing the
// document: only the connections= values change from one allocation to the
// next, so the text is rendered once with a distinct marker count per device,
// cut at the markers, and filled in after. The cut is checked against a full
// render before it is used; when the markers cannot be found exactly once, the
// full render is used every time. Pure.
import type { PoolDevice } from '../xml/network';

/** The full render (NetworkXml.live). */
export type RenderLive = (pool: readonly PoolDevice[]) => string;

// Marker counts: large and distinct, so a definition's own text never holds them by chance.
const MARK = 7_340_000_000_000;

/**
 * `s` stored one byte per character when it is ASCII: the XML serializer's
 * text comes as two-byte strings, which cost twice the memory to join and a
 * conversion to write out as UTF-8.
 */
function compact(s: string): string {
  // ASCII exactly when its UTF-8 takes one byte per character.
  return Buffer.byteLength(s) === s.length ? Buffer.from(s, 'latin1').toString('latin1') : s;
}

/** The live XML of one definition over one device list, for any counts. */
export class LiveText {
  /** What it was made for: the definition's text and the device list. */
  readonly key: string;
  readonly #render: RenderLive;
  readonly #devs: readonly string[];
  /** Literal chunks around the count slots; null: render in full each time. */
  readonly #chunks: string[] | null;
  /** Per slot: the device's index in the pool, or -1 for the total. */
  readonly #slots: number[];

  constructor(key: string, devices: readonly PoolDevice[], render: RenderLive) {
    this.key = key;
    this.#render = render;
    this.#devs = devices.map((d) => d.dev);
    const cut = LiveText.#cut(devices, render);
    this.#chunks = cut?.chunks.map(compact) ?? null;
    this.#slots = cut?.slots ?? [];
    if (this.#chunks) {
      // Checked against full renders with other counts before it is trusted.
      const probes = [devices.map((d) => ({ ...d, connections: 0 })), devices.map((d, i) => ({ ...d, connections: (i % 3) + (i === 0 ? 10 : 0) }))];
      if (probes.some((p) => this.#fill(p) !== render(p))) this.#chunks = null;
    }
  }

  /** True when counts are filled into a cut text (not rendered in full). */
  get cut(): boolean {
    return this.#chunks !== null;
  }

  /** The key of a definition's text and device list. */
  static keyOf(text: string, devices: readonly PoolDevice[]): string {
    return `${text}\n${devices.map((d) => d.dev).join('\n')}`;
  }

  static #cut(devices: readonly PoolDevice[], render: RenderLive): { chunks: string[]; slots: number[] } | null {
    const marked = devices.map((d, i) => ({ ...d, connections: MARK + i }));
    const total = marked.reduce((n, d) => n + d.connections, 0);
    const text = render(marked);
    const found: { at: number; len: number; slot: number }[] = [];
    const values: [string, number][] = marked.map((d, i) => [`"${d.connections}"`, i]);
    if (devices.length !== 1) values.push([`"${total}"`, -1]);
    for (const [v, slot] of values) {
      const at = text.indexOf(v);
      if (at < 0) return null;
      const again = text.indexOf(v, at + 1);
      // One device: the total is its count, written twice.
      if (devices.length === 1 ? text.indexOf(v, again + 1) >= 0 || again < 0 : again >= 0) return null;
      found.push({ at, len: v.length, slot });
      if (devices.length === 1) found.push({ at: again, len: v.length, slot });
    }
    found.sort((a, b) => a.at - b.at);
    const chunks: string[] = [];
    let from = 0;
    for (const f of found) {
      chunks.push(text.slice(from, f.at + 1));
      from = f.at + f.len - 1;
    }
    chunks.push(text.slice(from));
    return { chunks, slots: found.map((f) => f.slot) };
  }

  #fill(pool: readonly PoolDevice[]): string {
    const chunks = this.#chunks as string[];
    const total = pool.reduce((n, p) => n + p.connections, 0);
    let out = chunks[0];
    for (let i = 0; i < this.#slots.length; i++) {
      const s = this.#slots[i];
      out += String(s < 0 ? total : pool[s].connections) + chunks[i + 1];
    }
    return out;
  }

  /** The live XML for `pool` (the same devices, in the same order, as it was made for). */
  text(pool: readonly PoolDevice[]): string {
    if (!this.#chunks || pool.length !== this.#devs.length || pool.some((p, i) => p.dev !== this.#devs[i])) return this.#render(pool);
    return this.#fill(pool);
  }
}
