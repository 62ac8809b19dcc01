// tap create, macvtap create: one device each, left for qemu to open by name.
import { createMacvtap, createPersistentTap } from '../../netdev/links';
import { str, UsageError } from '../args';
import type { Verb } from '../command';

export const tapCreate: Verb = {
  async run({ values, positionals, io }) {
    if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const name = str(values, 'name');
    const template = str(values, 'template');
    // The process exits: the tap must outlive its fds (persistent).
    const tap = await createPersistentTap({
      netns: str(values, 'netns'),
      name,
      template: name === undefined ? (template ?? 'vnet%d') : template,
      queues: values.queues === undefined ? 1 : (str(values, 'queues') as unknown as number),
      vnetHdr: !values['no-vnet-hdr'],
      owner: str(values, 'owner') as unknown as number | undefined,
      group: str(values, 'group') as unknown as number | undefined,
    });
    io.out(values.json ? `${JSON.stringify({ name: tap.name, ifindex: tap.ifindex, queues: tap.queues, persist: true })}\n` : `${tap.name}\n`);
    return 0;
  },
};

export const macvtapCreate: Verb = {
  async run({ values, positionals, io }) {
    if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const link = str(values, 'link');
    const mode = str(values, 'mode');
    if (!link) throw new UsageError('macvtap create needs --link DEV');
    if (!mode) throw new UsageError('macvtap create needs --mode vepa|bridge|private|passthrough');
    const info = await createMacvtap({ netns: str(values, 'netns'), link, mode, name: str(values, 'name'), template: str(values, 'template'), mac: str(values, 'mac') });
    io.out(values.json ? `${JSON.stringify(info)}\n` : `${info.name}\n`);
    return 0;
  },
};
