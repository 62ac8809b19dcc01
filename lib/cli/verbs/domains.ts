// list, dumpxml, destroy: the domains with live state, here or the agent's.
import type { DomainRow } from '../../api/backend';
import { checkName, timeoutMs, UsageError } from '../args';
import type { Verb } from '../command';
import { usageOf } from '../help';

/** `list` as virsh prints it (Id there, qemu's pid here), with each domain's devices. */
export function formatList(rows: readonly DomainRow[]): string {
  const line = (pid: string, name: string, state: string, devices: string) => ` ${pid.padEnd(8)} ${name.padEnd(20)} ${state.padEnd(16)} ${devices}`.trimEnd();
  const body = rows.map((r) => line(String(r.pid ?? '-'), r.name, r.state, r.interfaces.map((i) => i.dev ?? '-').join(' ')));
  return [line('Pid', 'Name', 'State', 'Devices'), '-'.repeat(64), ...body].join('\n') + '\n';
}

export const list: Verb = {
  async run({ values, positionals, io, backend }) {
    if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const rows = await backend.list();
    io.out(values.json ? `${JSON.stringify(rows)}\n` : formatList(rows));
    return 0;
  },
};

export const dumpxml: Verb = {
  async run({ values, positionals, io, backend }) {
    if (positionals.length !== 1) throw new UsageError(usageOf('dumpxml'));
    io.out(await backend.dumpxml(checkName(positionals[0]), { inactive: values.inactive === true }));
    return 0;
  },
};

export const destroy: Verb = {
  async run({ values, positionals, io, backend }) {
    if (positionals.length !== 1) throw new UsageError(usageOf('destroy'));
    const name = checkName(positionals[0]);
    const { tornDown: r } = await backend.destroy(name, { graceMs: timeoutMs(values, 10) });
    io.out(r ? `${name}: destroyed; deleted ${r.deleted.join(' ') || 'no links'}${r.skipped.length ? `; kept ${r.skipped.join(' ')} (not netfd's as recorded)` : ''}\n` : `${name}: destroyed\n`);
    return 0;
  },
};
