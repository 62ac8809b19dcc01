// crypto.randomBytes for generated MACs, with node:crypto loaded on the
// first call: a CLI call launching domains whose MACs are written never
// needs it, and loading it is a few milliseconds of that call's start.

/** crypto.randomBytes(n); node:crypto is loaded on the first call. */
export function randomBytes(n: number): Buffer {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use (see above)
  return (require('node:crypto') as typeof import('node:crypto')).randomBytes(n);
}
