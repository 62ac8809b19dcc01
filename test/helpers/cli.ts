// Runs the CLI's main() in this process, capturing what it prints.
import type { BackendFactory } from '../../lib/cli/main';
import { defaultBackend, main } from '../../lib/cli/main';

export async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return cliWith(defaultBackend, ...argv);
}

/** The same, with the Backend `backendFor` makes. */
export async function cliWith(backendFor: BackendFactory, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) }, backendFor);
  return { code, out, err };
}
