// net-define, net-undefine, net-start, net-destroy, net-list, net-dumpxml,
// net-autostart: libvirt-style direct networks, here or the agent's.
import type { NetworkRow } from '../../network/store';
import { readDomainFile, UsageError, Values, warnTo } from '../args';
import type { Call, Verb } from '../command';
import { usageOf } from '../help';

/** The one NAME a verb takes. */
function oneName({ verb, positionals }: Call): string {
  if (positionals.length !== 1) throw new UsageError(usageOf(verb));
  return positionals[0];
}

/** `net-list` as virsh prints it, with each network's connections. */
export function formatNetList(rows: readonly NetworkRow[]): string {
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const lines = [` ${'Name'.padEnd(20)} ${'State'.padEnd(10)} ${'Autostart'.padEnd(11)} ${'Persistent'.padEnd(11)} Connections`, '-'.repeat(68)];
  for (const r of rows) lines.push(` ${r.name.padEnd(20)} ${(r.active ? 'active' : 'inactive').padEnd(10)} ${yes(r.autostart).padEnd(11)} ${yes(r.persistent).padEnd(11)} ${r.connections ?? '-'}`);
  return `${lines.join('\n')}\n`;
}

/** --all: every network; --inactive: those not running; else the running ones. */
const shown = (values: Values) => (r: NetworkRow) => (values.all ? true : values.inactive ? !r.active : r.active);

export const netDefine: Verb = {
  async run(c) {
    const file = oneName(c);
    const r = await c.backend.netDefine(readDomainFile(file));
    c.io.out(`Network ${r.name} ${r.redefined ? 'redefined' : 'defined'} from ${file}${r.uuid ? ` (uuid ${r.uuid})` : ''}\n`);
    return 0;
  },
};

export const netUndefine: Verb = {
  async run(c) {
    const name = oneName(c);
    const r = await c.backend.netUndefine(name);
    c.io.out(`Network ${name} has been undefined${r.active ? ' (it stays active until net-destroy)' : ''}\n`);
    return 0;
  },
};

export const netStart: Verb = {
  async run(c) {
    const name = oneName(c);
    const s = await c.backend.netStart(name);
    s.warnings.forEach(warnTo(c.io));
    const n = s.pool.reduce((k, p) => k + p.connections, 0);
    c.io.out(c.values.json ? `${JSON.stringify({ name, pool: s.pool })}\n` : `Network ${name} started: ${s.pool.length} device(s) in its pool${n ? `, ${n} connection(s) already in use` : ''}\n`);
    return 0;
  },
};

export const netDestroy: Verb = {
  async run(c) {
    const name = oneName(c);
    (await c.backend.netDestroy(name)).warnings.forEach(warnTo(c.io));
    c.io.out(`Network ${name} destroyed\n`);
    return 0;
  },
};

export const netList: Verb = {
  async run({ values, positionals, io, backend }) {
    if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const { rows, warnings } = await backend.netList();
    warnings.forEach(warnTo(io));
    const listed = rows.filter(shown(values));
    io.out(values.json ? `${JSON.stringify(listed)}\n` : formatNetList(listed));
    return 0;
  },
};

export const netDumpxml: Verb = {
  async run(c) {
    c.io.out(await c.backend.netDumpxml(oneName(c), { inactive: c.values.inactive === true }));
    return 0;
  },
};

export const netAutostart: Verb = {
  async run(c) {
    const name = oneName(c);
    await c.backend.netAutostart(name, !c.values.disable);
    c.io.out(`Network ${name} ${c.values.disable ? 'unmarked as autostarted' : 'marked as autostarted'}\n`);
    return 0;
  },
};
