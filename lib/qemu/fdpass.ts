// fds handed to qemu, as libvirt's qemuFDPassDirect (src/qemu/qemu_fd.c):
// one named object for a group of fds (a NIC's tap queues, its vhost-net
// fds, netfd's monitor socket) that goes to qemu either on its command line
// (spawn stdio slots: qemu's arguments name them by number, `fd=3`,
// `fds=3:4`, `vhostfds=5:6`) or over QMP (`getfd` under a name, SCM_RIGHTS:
// qemu's arguments name them by that name), with rollback (`closefd`) of
// what qemu got when a later step fails. The fds stay their owner's: qemu
// gets copies, and the owner closes its own once qemu has them.

/** The part of a QMP connection fds go through. */
export interface FdMonitor {
  /** QMP getfd: qemu keeps a copy of `fd` under `name`. */
  getfd(name: string, fd: number): Promise<void>;
  /** QMP closefd: qemu closes its copy named `name`. */
  closefd(name: string): Promise<void>;
}

/**
 * The fds of one qemu command line, in spawn's stdio slots: what is placed
 * here gets the next numbers from `first` (3: after stdin, stdout, stderr),
 * the numbers qemu sees them at.
 */
export class CommandFds {
  readonly first: number;
  readonly #fds: number[] = [];

  constructor(first = 3) {
    this.first = first;
  }

  /** Places `fds` in the next slots; returns their numbers in the child. */
  place(fds: readonly number[]): number[] {
    const at = this.first + this.#fds.length;
    this.#fds.push(...fds);
    return fds.map((_, k) => at + k);
  }

  /** The fds placed, in slot order: fds[k] is the child's fd first + k. */
  get fds(): readonly number[] {
    return this.#fds;
  }

  /** spawn's `stdio` with these fds in slots 3, 4, …; `first` must be 3. */
  stdio<T>(std: [T, T, T]): (T | number)[] {
    if (this.first !== 3) throw new RangeError(`CommandFds.stdio: the slots start at ${this.first}, not 3`);
    return [...std, ...this.#fds];
  }
}

/** A group of fds under one name, for qemu's command line or its monitor. */
export class FdPass {
  /** The name: over QMP, fd k is `${name}${k}`. */
  readonly name: string;
  readonly #fds: readonly number[];
  #sent = false;
  /** Names qemu holds from `toMonitor` that no command took yet. */
  #given: string[] = [];

  /** `fds` stay the caller's: qemu gets copies. */
  constructor(name: string, fds: readonly number[]) {
    this.name = name;
    this.#fds = [...fds];
  }

  get fds(): readonly number[] {
    return this.#fds;
  }

  /** The names the fds get over QMP. */
  get names(): string[] {
    return this.#fds.map((_, k) => `${this.name}${k}`);
  }

  #once(how: string): void {
    if (this.#sent) throw new Error(`FdPass ${this.name}: already given to qemu (${how} again)`);
    this.#sent = true;
  }

  /** On the command line: the fds take the next slots of `cmd`; returns their numbers for qemu's arguments. */
  toCommand(cmd: CommandFds): number[] {
    this.#once('toCommand');
    return cmd.place(this.#fds);
  }

  /**
   * Over QMP: `getfd` for each fd, in order; returns the names for qemu's
   * arguments. When one fails, the ones qemu got are closed again
   * (`closefd`) and the error is rethrown.
   */
  async toMonitor(mon: FdMonitor): Promise<string[]> {
    this.#once('toMonitor');
    const names = this.names;
    try {
      for (const [k, fd] of this.#fds.entries()) {
        await mon.getfd(names[k], fd);
        this.#given.push(names[k]);
      }
    } catch (err) {
      await this.rollback(mon);
      throw err;
    }
    return names;
  }

  /** A command took the fds (netdev_add consumes named fds): nothing is left to roll back. */
  taken(): void {
    this.#given = [];
  }

  /** Closes qemu's copies given by `toMonitor` and not taken since; failures are ignored (qemu may be gone). */
  async rollback(mon: FdMonitor): Promise<void> {
    for (const name of this.#given.splice(0)) await mon.closefd(name).catch(() => undefined);
  }
}

/** A NIC's fds as qemu gets them, named after its qemu device id: its tap (or macvtap) queues, its vhost-net fds. */
export function nicFds(deviceId: string, tapFds: readonly number[], vhostFds: readonly number[]): { tap: FdPass; vhost: FdPass } {
  return { tap: new FdPass(`${deviceId}-tapfd`, tapFds), vhost: new FdPass(`${deviceId}-vhostfd`, vhostFds) };
}
