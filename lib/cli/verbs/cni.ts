// cni-claim: a launcher in a pod takes its CNI attachment's fds from the
// agent (op cni-claim, by its network namespace) and runs its command (qemu)
// with them inherited as fds 3, 4, …; without a command it prints what the
// claim gave and closes the fds.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { NetfdError } from '../../errors';
import { closeOnExecFrom } from '../../sys/fds';
import { str, UsageError } from '../args';
import type { Call, Verb } from '../command';
import { usageOf } from '../help';
import type { Claim } from '../../api/cni-claim';

/**
 * The command's argv with the claim's fds as it will inherit them (queues
 * from fd 3, then the vhost fds): `{tapfds}` and `{vhostfds}` become their
 * colon-separated numbers, `{netdev}` the options of qemu's `-netdev tap`
 * (`fd=3,vhost=off`, `fds=3:4,vhostfds=5:6,vhost=on`), `{mac}` the guest's
 * MAC (a macvtap's own; a tap's from the attachment's configuration: the
 * tap's own MAC is the host side's, never the guest's). A placeholder that has nothing to stand for (`{vhostfds}` without
 * vhost fds) is an error naming it, never an empty word qemu would misread.
 */
export function claimArgv(argv: readonly string[], c: Pick<Claim, 'tapFds' | 'vhostFds' | 'guestMac'>): string[] {
  const taps = Array.from({ length: c.tapFds }, (_, i) => 3 + i);
  const vhost = Array.from({ length: c.vhostFds }, (_, i) => 3 + c.tapFds + i);
  const netdev = [
    taps.length === 1 ? `fd=${taps[0]}` : `fds=${taps.join(':')}`,
    ...(vhost.length ? [vhost.length === 1 ? `vhostfd=${vhost[0]}` : `vhostfds=${vhost.join(':')}`, 'vhost=on'] : ['vhost=off']),
  ].join(',');
  const values: Record<string, string | null> = {
    tapfds: taps.join(':'),
    vhostfds: vhost.length ? vhost.join(':') : null,
    netdev,
    mac: c.guestMac ?? null,
  };
  return argv.map((word) =>
    word.replace(/\{(tapfds|vhostfds|netdev|mac)\}/g, (_, key: string) => {
      const v = values[key];
      if (v === null)
        throw new NetfdError(
          `{${key}} in the command has nothing to stand for: the claim gave ${key === 'mac' ? "no guest MAC (the attachment's configuration gave none: give the guest's MAC yourself)" : 'no vhost-net fds'}`,
          {
            code: 'INVALID_ARGUMENT',
            field: 'command',
            value: word,
          },
        );
      return v;
    }),
  );
}

/** The exit status a shell gives a command killed by `signal`. */
const signalStatus = (signal: NodeJS.Signals): number => 128 + os.constants.signals[signal];

export const cniClaim: Verb = {
  async run({ args, values, positionals, io }: Call) {
    // Every positional after -- is the command's.
    const dashes = args.indexOf('--');
    const command = dashes < 0 ? [] : args.slice(dashes + 1);
    const own = dashes < 0 ? positionals : positionals.slice(0, positionals.length - command.length);
    if (own.length !== 2 || (dashes >= 0 && command.length === 0)) throw new UsageError(usageOf('cni-claim'));
    const [containerId, ifname] = own;
    const socket = str(values, 'socket') ?? process.env.NETFD_AGENT_SOCKET;
    // This program's own inherited fds stay out of the command.
    closeOnExecFrom(3);
    const { claimAttachment } = await import('../../api/cni-claim');
    const { claim: c, fds } = await claimAttachment(containerId, ifname, socket);
    try {
      // <driver name='vhost'> asked for vhost-net: no vhost-net fds is a refusal, as at launch.
      if (c.vhostUnavailable !== undefined)
        throw new NetfdError(`${ifname} of container ${containerId} asks for vhost-net (<driver name='vhost'>), which the agent could not open: ${c.vhostUnavailable}`, {
          code: 'NOT_SUPPORTED',
          field: 'driver/@name',
          value: 'vhost',
          hint: 'ask without vhost (<driver name=\'qemu\'/>, or no "vhost") on a node without vhost-net',
        });
      if (!command.length) {
        io.out(
          values.json
            ? `${JSON.stringify(c)}\n`
            : `${c.ifname} of container ${c.containerId}: ${c.kind ?? 'tap'}, ${c.tapFds} queue fd(s), ${c.vhostFds} vhost-net fd(s), guest MAC ${c.guestMac ?? '-'}, MTU ${c.mtu ?? '-'}\n`,
        );
        return 0;
      }
      const argv = claimArgv(command, c);
      const child = spawn(argv[0], argv.slice(1), { stdio: ['inherit', 'inherit', 'inherit', ...fds] });
      const exited = new Promise<number>((resolve, reject) => {
        child.once('error', (e) => reject(new NetfdError(`cannot run ${argv[0]}: ${e.message}`, { code: ((e as NodeJS.ErrnoException).code ?? 'EIO') as 'EIO', field: 'command', value: argv[0] })));
        child.once('exit', (code, signal) => resolve(signal ? signalStatus(signal) : (code ?? 1)));
      });
      // The command holds them now.
      for (const fd of fds.splice(0)) fs.closeSync(fd);
      const forward = (s: NodeJS.Signals) => () => child.kill(s);
      const onInt = forward('SIGINT');
      const onTerm = forward('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
      try {
        return await exited;
      } finally {
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
      }
    } finally {
      for (const fd of fds) fs.closeSync(fd);
    }
  },
};
