// attach-interface, detach-interface: a NIC into (out of) a running qemu.
import { checkName, readDomainFile, str, timeoutMs, UsageError } from '../args';
import type { Verb } from '../command';
import { usageOf } from '../help';

export const attachInterface: Verb = {
  async run({ values, positionals, io, backend }) {
    if (positionals.length !== 2) throw new UsageError(usageOf('attach-interface'));
    const name = checkName(positionals[0]);
    const a = await backend.attachInterface(name, readDomainFile(positionals[1]), { timeoutMs: timeoutMs(values, 30) });
    io.out(
      values.json ? `${JSON.stringify(a)}\n` : `${positionals[0]}: attached ${a.alias} mac ${a.mac} on ${a.targetDev}${a.driver ? ` (driver ${a.driver})` : ''}${a.pci ? ` at PCI ${a.pci}` : ''}\n`,
    );
    return 0;
  },
};

export const detachInterface: Verb = {
  async run({ values, positionals, io, backend }) {
    if (positionals.length !== 1) throw new UsageError(usageOf('detach-interface'));
    const mac = str(values, 'mac');
    if (mac === undefined) throw new UsageError('detach-interface needs --mac MAC');
    const d = await backend.detachInterface(checkName(positionals[0]), mac, { timeoutMs: timeoutMs(values, 30) });
    io.out(values.json ? `${JSON.stringify(d)}\n` : `${positionals[0]}: detached ${d.alias} mac ${d.mac}${d.deleted.length ? `; deleted ${d.deleted.join(' ')}` : ''}\n`);
    return 0;
  },
};
