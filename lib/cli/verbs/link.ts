// link show / set / delete, in the style of `ip -d link`.
import { deleteLink, getLink, LinkInfo, listLinks, setLink } from '../../netdev/links';
import { str, UsageError } from '../args';
import type { Verb } from '../command';

function flagsText(l: LinkInfo): string {
  const f: string[] = [];
  if (l.flags & 0x2) f.push('BROADCAST');
  if (l.flags & 0x8) f.push('LOOPBACK');
  if (l.flags & 0x1000) f.push('MULTICAST');
  if (l.up) f.push('UP');
  if (l.lowerUp) f.push('LOWER_UP');
  return `<${f.join(',')}>`;
}

/** One link in the style of `ip -d link show`. */
export function formatLink(l: LinkInfo, names: Map<number, string>): string {
  const parent = l.parent !== null && l.parent !== l.index ? `@${names.get(l.parent) ?? `if${l.parent}`}` : '';
  const parts = [`${l.index}: ${l.name}${parent}: ${flagsText(l)} mtu ${l.mtu}`];
  if (l.master !== null) parts.push(`master ${names.get(l.master) ?? `if${l.master}`}`);
  parts.push(`state ${l.up ? 'UP' : 'DOWN'}`);
  let line = parts.join(' ');
  if (l.mac) line += `\n    link/ether ${l.mac}`;
  if (l.kind) {
    line += `\n    ${l.kind}`;
    if (l.mode) line += ` mode ${l.mode}`;
    if (l.tun) {
      line += ` type ${l.tun.type ?? '?'} pi ${l.tun.pi ? 'on' : 'off'} vnet_hdr ${l.tun.vnetHdr ? 'on' : 'off'}`;
      if (l.tun.multiQueue) line += ` multi_queue numqueues ${l.tun.numQueues ?? '?'}`;
      if (l.tun.persist) line += ' persist on';
    }
  }
  return line;
}

export const linkShow: Verb = {
  async run({ values, positionals, io }) {
    if (positionals.length > 1) throw new UsageError(`unexpected argument ${positionals[1]}`);
    const netns = str(values, 'netns');
    const all = await listLinks({ netns });
    const links = positionals.length ? [await getLink(positionals[0], { netns })] : all;
    if (values.json) {
      io.out(`${JSON.stringify(positionals.length ? links[0] : links, null, 2)}\n`);
    } else {
      const names = new Map(all.map((l) => [l.index, l.name]));
      io.out(links.map((l) => formatLink(l, names)).join('\n') + '\n');
    }
    return 0;
  },
};

export const linkSet: Verb = {
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new UsageError('link set needs exactly one link NAME');
    if (values.up && values.down) throw new UsageError('give --up or --down, not both');
    if (values.master !== undefined && values.nomaster) throw new UsageError('give --master or --nomaster, not both');
    await setLink(positionals[0], {
      netns: str(values, 'netns'),
      up: values.up ? true : values.down ? false : undefined,
      mac: str(values, 'mac'),
      master: values.nomaster ? null : str(values, 'master'),
    });
    return 0;
  },
};

export const linkDelete: Verb = {
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new UsageError('link delete needs exactly one link NAME');
    await deleteLink(positionals[0], { netns: str(values, 'netns') });
    return 0;
  },
};
