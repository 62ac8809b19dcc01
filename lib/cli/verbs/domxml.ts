// domxml-to-native qemu-argv (the command line a domain would get here, a
// preview that changes nothing) and the Xen formats both ways (pure).
import { NetfdError } from '../../errors';
import { previewDomain } from '../../qemu/domain';
import { qmpPath } from '../../qemu/launch';
import { formatArgs, formatArgv } from '../../qemu/argv';
import { stateDir } from '../../state/dirs';
import { domainFromNative, domainToNative, XenFormat } from '../../xen';
import { DomainXml } from '../../xml/domain';
import { readDomainFile, str, UsageError, Values, warnTo } from '../args';
import type { Verb } from '../command';
import { usageOf } from '../help';

function describeProbe(p: { usable: boolean; code?: string; message?: string } | undefined): string {
  if (!p) return 'vhost-net not tried';
  return p.usable ? 'vhost-net usable' : `vhost-net not usable (${p.code})`;
}

export const qemuArgv: Verb = {
  async run({ values, positionals, io }) {
    if (positionals.length !== 1) throw new UsageError(usageOf('domxml-to-native qemu-argv'));
    const netOnly = values['net-only'] === true;
    // --net-only: only <name> and the interfaces are read (and fully checked).
    const xml = DomainXml.parse(readDomainFile(positionals[0]), { netOnly });
    const qmp = qmpPath(stateDir(str(values, 'state-dir')), xml.def.name);
    const p = await previewDomain(xml, { vhostDevice: str(values, 'vhost-device'), qmp, onWarning: warnTo(io), netOnly });
    if (values.json) {
      const interfaces = p.plans.map((plan, i) => ({ ...plan, probe: p.probes[i] ?? null, decision: p.decisions[i] }));
      io.out(`${JSON.stringify(netOnly ? { argv: p.argv, interfaces } : { argv: p.argv, interfaces, ignoredDevices: xml.def.ignoredDevices }, null, 2)}\n`);
      return 0;
    }
    const lines = p.plans.map((plan, i) => {
      const d = p.decisions[i];
      const l = plan.link;
      const net = plan.network ? ` (network '${plan.network.name}' would give ${plan.network.dev} now)` : '';
      const host =
        l.kind === 'tap' ? `tap ${l.name}${l.bridge ? ` on bridge ${l.bridge}` : ''}` : l.kind === 'macvtap' ? `macvtap ${l.name} on ${l.parent} mode ${l.mode}${net}` : `existing ${l.name}`;
      const driver = d.record ? `live XML records <driver name='${d.record}'/>` : 'no driver recorded (not virtio)';
      return `# ${plan.path}: ${plan.model} -> ${plan.device}; ${host}; ${plan.queues} queue(s); ${describeProbe(p.probes[i])}, so vhost=${d.vhost ? 'on' : 'off'}; ${driver}; mac ${plan.mac}${plan.macGenerated ? ' (generated)' : ''}`;
    });
    for (const dev of xml.def.ignoredDevices) lines.push(`# <${dev}> is not turned into qemu arguments by netfd`);
    io.out(`${lines.map((l) => `${l}\n`).join('')}${netOnly ? formatArgs(p.argv) : formatArgv(p.argv)}`);
    return 0;
  },
};

function xendVersion(values: Values): number | undefined {
  const x = str(values, 'xend-config-version');
  if (x === undefined) return undefined;
  if (!/^\d{1,3}$/.test(x))
    throw new NetfdError(`invalid xend-config-version ${JSON.stringify(x)}: a small non-negative integer`, { code: 'INVALID_ARGUMENT', field: 'xend-config-version', value: x });
  return Number(x);
}

/** domxml-to-native / domxml-from-native for one Xen format. */
export function xen(format: XenFormat, direction: 'to' | 'from'): Verb {
  return {
    async run({ values, positionals, io }) {
      if (positionals.length !== 1) throw new UsageError(usageOf(`domxml-${direction}-native ${format}`));
      const text = readDomainFile(positionals[0]);
      const o = { xendConfigVersion: xendVersion(values) };
      io.out(direction === 'to' ? domainToNative(text, format, o) : domainFromNative(text, format, o));
      return 0;
    },
  };
}
