// probe: what this host (or the agent's) can give guests.
import path from 'node:path';
import { NetfdError } from '../../errors';
import { CHECK_IDS, CheckId, formatProbe } from '../../host/probe';
import { defaultIo, str, UsageError } from '../args';
import type { Verb } from '../command';

const ROOTS = ['dev-root', 'proc-root', 'boot-root'] as const;

export const probe: Verb = {
  async run({ values, positionals, io, backend }) {
    if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const only = str(values, 'only')?.split(',');
    for (const id of only ?? [])
      if (!(CHECK_IDS as readonly string[]).includes(id))
        throw new NetfdError(`invalid only ${JSON.stringify(id)}: one of ${CHECK_IDS.join(', ')}`, { code: 'INVALID_ARGUMENT', field: 'only', value: id });
    const roots: Record<string, string | undefined> = {};
    for (const k of ROOTS) {
      const dir = str(values, k);
      if (dir !== undefined && !path.isAbsolute(dir)) throw new NetfdError(`invalid ${k} ${JSON.stringify(dir)}: an absolute directory path`, { code: 'INVALID_ARGUMENT', field: k, value: dir });
      roots[k] = dir;
    }
    const r = await backend.probe({
      only: only as CheckId[] | undefined,
      qemu: (values.qemu as unknown as string[] | undefined) ?? undefined,
      devRoot: roots['dev-root'],
      procRoot: roots['proc-root'],
      bootRoot: roots['boot-root'],
    });
    io.out(values.json ? `${JSON.stringify(r, null, 2)}\n` : formatProbe(r, io === defaultIo && process.stdout.isTTY === true));
    return r.ok ? 0 : 1;
  },
};
