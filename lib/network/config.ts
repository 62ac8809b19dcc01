// Network definitions as libvirt keeps them: one NAME.xml each in the config
// directory, autostart/NAME.xml links beside them, and for a running network
// the definition it was started from (STATE/networks/NAME.inactive). This
// file is the definitions' half of the net-* verbs: define, undefine,
// autostart, dumpxml (live or --inactive). Every file is written atomically
// (lib/state/); a file that cannot be read is reported by name and never
// overwritten. The connections are lib/network/store.ts's.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { NetfdError } from '../errors';
import { directoryOption, inactiveXmlPath, liveXmlPath, objectFile, objectNames, stateDir } from '../state/dirs';
import { replaceFileAtomic } from '../state/atomic';
import { withLock } from '../state/lock';
import { isObjectName } from '../xml/dom';
import { NetworkXml } from '../xml/network';

/** Where network definitions are unless `configDir` or NETFD_CONFIG_DIR says otherwise. */
export const DEFAULT_CONFIG_DIR = '/etc/netfd/networks';

/** The config directory: the option, else NETFD_CONFIG_DIR, else /etc/netfd/networks. */
export function configDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return directoryOption('configDir', explicit, 'NETFD_CONFIG_DIR', env, DEFAULT_CONFIG_DIR);
}

/** Where networks' definitions and live state are. */
export interface NetworkConfigOptions {
  /** Definitions (default NETFD_CONFIG_DIR or /etc/netfd/networks). */
  configDir?: string | undefined;
  /** The live state directory of domains (networks live in its networks/). */
  stateDir?: string | undefined;
}

/** What `Networks.scanConfig()` found: the definitions by name, and the files it could not use. */
export interface ConfigScan {
  /** The definitions that parsed, by network name. */
  defs: Map<string, NetworkXml>;
  /** Files that could not be read or parsed, with why. */
  broken: Map<string, string>;
}

const errnoOf = (e: unknown) => (e as NodeJS.ErrnoException).code;

/** The file's text, or null when it does not exist. */
export function readIfExists(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return null;
    throw e;
  }
}

/** `name` when it can name a network (INVALID_ARGUMENT otherwise). */
export function checkName(name: string): string {
  if (typeof name !== 'string' || !isObjectName(name))
    throw new NetfdError(`invalid network name ${JSON.stringify(name)}: 1-200 bytes, no whitespace or /`, { code: 'INVALID_ARGUMENT', field: 'name', value: name });
  return name;
}

/** A definition file's network, which must be named as the file is. */
function parseConfig(text: string, name: string): NetworkXml {
  const xml = NetworkXml.parse(text);
  if (xml.def.name !== name) throw new Error(`it defines network '${xml.def.name}', not '${name}'`);
  return xml;
}

/** A state or config file netfd cannot use and will not overwrite. */
export const corrupt = (file: string, why: string) =>
  new NetfdError(`${file} cannot be used (${why}); netfd will not overwrite it: fix or remove it`, { code: 'CORRUPT_STATE', field: 'file', value: file });

/** The definitions running networks were started from, parsed, by file (used while the file's text is the same). */
const startedFromCache = new Map<string, { xml: NetworkXml }>();

/** Networks' files, and the verbs that only read or write definitions. */
export class NetworkConfig {
  readonly configDir: string;
  /** Domains' live state (the connections' other half). */
  readonly domainDir: string;
  /** Networks' live state. */
  readonly stateDir: string;

  /** Reads nothing yet: every operation reads the files it needs. */
  constructor(o: NetworkConfigOptions = {}) {
    this.configDir = configDir(o.configDir);
    this.domainDir = stateDir(o.stateDir);
    this.stateDir = path.join(this.domainDir, 'networks');
  }

  /** The definition file of network `name`. */
  configPath = (name: string): string => path.join(this.configDir, `${name}.xml`);
  /** The autostart link of network `name`. */
  autostartPath = (name: string): string => path.join(this.configDir, 'autostart', `${name}.xml`);
  /** The live XML of running network `name`. */
  livePath = (name: string): string => liveXmlPath(this.stateDir, name);
  /** The definition running network `name` was started from. */
  inactivePath = (name: string): string => inactiveXmlPath(this.stateDir, name);
  /** The connection ledger of running network `name`. */
  ledgerPath = (name: string): string => objectFile(this.stateDir, name, 'connections');

  /** Runs `body` holding network `name`'s lock ('.config': the definitions'). */
  protected lock<T>(name: string, body: () => Promise<T>): Promise<T> {
    return withLock(this.stateDir, name, body, 30_000, 'network');
  }

  /** Every definition; unreadable files are reported in `broken`, not thrown. */
  scanConfig(): ConfigScan {
    const defs = new Map<string, NetworkXml>();
    const broken = new Map<string, string>();
    let files: string[] = [];
    try {
      files = fs.readdirSync(this.configDir).filter((f) => f.endsWith('.xml') && !f.startsWith('.'));
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') throw e;
    }
    for (const f of files.sort()) {
      const file = path.join(this.configDir, f);
      try {
        const xml = parseConfig(fs.readFileSync(file, 'utf8'), f.slice(0, -4));
        defs.set(xml.def.name, xml);
      } catch (e) {
        broken.set(file, (e as Error).message);
      }
    }
    return { defs, broken };
  }

  /** Names of networks with live state (active), sorted. */
  activeNames(): string[] {
    try {
      return objectNames(this.stateDir).filter(isObjectName);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return [];
      throw e;
    }
  }

  /** True when network `name` is running (has live state). */
  isActive(name: string): boolean {
    return fs.existsSync(this.livePath(checkName(name)));
  }

  /** The definition of `name`; a broken file is an error naming it. */
  protected config(name: string): NetworkXml | null {
    const file = this.configPath(name);
    const text = readIfExists(file);
    if (text === null) return null;
    try {
      return parseConfig(text, name);
    } catch (e) {
      throw corrupt(file, (e as Error).message);
    }
  }

  protected noSuch(name: string): NetfdError {
    return new NetfdError(`no network named '${name}' (no ${this.configPath(name)})`, { code: 'ENOENT', field: 'name', value: name });
  }

  /** The config a live network was started from (NAME.inactive.xml; its text if the caller has just read it). */
  protected startedFrom(name: string, read?: string | null): NetworkXml {
    const file = this.inactivePath(name);
    const text = read === undefined ? readIfExists(file) : read;
    if (text === null) throw corrupt(file, 'missing beside the live state');
    const known = startedFromCache.get(file);
    if (known?.xml.text === text) return known.xml;
    try {
      const xml = NetworkXml.parse(text);
      if (startedFromCache.size >= 256) startedFromCache.clear();
      startedFromCache.set(file, { xml });
      return xml;
    } catch (e) {
      throw corrupt(file, (e as Error).message);
    }
  }

  /** The config an active network was started from; NETWORK_INACTIVE or ENOENT (field 'network') otherwise. */
  protected activeXml(name: string): NetworkXml {
    if (this.isActive(name)) return this.startedFrom(name);
    if (fs.existsSync(this.configPath(name))) throw new NetfdError(`network '${name}' is not active (netfd net-start ${name})`, { code: 'NETWORK_INACTIVE', field: 'network', value: name });
    throw new NetfdError(`no network named '${name}'`, { code: 'ENOENT', field: 'network', value: name });
  }

  /**
   * net-define: stores the definition (atomically). A new network gets a
   * UUID; redefining keeps it. Names and UUIDs are unique across all
   * definitions and running networks.
   */
  async define(text: string): Promise<{ name: string; uuid: string; redefined: boolean }> {
    const xml = NetworkXml.parse(text);
    const { name } = xml.def;
    return this.lock('.config', async () => {
      const { defs, broken } = this.scanConfig();
      const file = this.configPath(name);
      if (broken.has(file)) throw corrupt(file, broken.get(file) as string);
      const old = defs.get(name) ?? (this.isActive(name) ? this.startedFrom(name) : undefined);
      if (old?.def.uuid && xml.def.uuid && old.def.uuid !== xml.def.uuid)
        throw new NetfdError(`network '${name}' already exists with uuid ${old.def.uuid}`, { code: 'EEXIST', field: '/network/uuid', value: xml.def.uuid });
      const uuid = xml.def.uuid ?? old?.def.uuid ?? randomUUID();
      const running = this.activeNames()
        .filter((n) => n !== name && !defs.has(n))
        .flatMap((n) => {
          try {
            return [this.startedFrom(n)];
          } catch {
            return []; // unreadable: reported by net-list and by that network's own commands
          }
        });
      const others = [...defs.values(), ...running];
      const clash = others.find((o) => o.def.name !== name && o.def.uuid === uuid);
      if (clash) throw new NetfdError(`uuid ${uuid} is already used by network '${clash.def.name}'`, { code: 'EEXIST', field: '/network/uuid', value: uuid });
      replaceFileAtomic(file, xml.withUuid(uuid));
      return { name, uuid, redefined: !!defs.get(name) };
    });
  }

  /** net-undefine: removes the definition; a running network goes on, transient, until destroyed. */
  async undefine(name: string): Promise<{ active: boolean }> {
    checkName(name);
    return this.lock('.config', async () => {
      const file = this.configPath(name);
      if (!fs.existsSync(file)) throw this.noSuch(name);
      fs.rmSync(this.autostartPath(name), { force: true });
      fs.rmSync(file);
      return { active: this.isActive(name) };
    });
  }

  /** net-autostart [--disable]: autostart/NAME.xml links to the definition. */
  setAutostart(name: string, on: boolean): void {
    checkName(name);
    if (!fs.existsSync(this.configPath(name))) throw this.noSuch(name);
    const link = this.autostartPath(name);
    fs.rmSync(link, { force: true });
    if (on) {
      fs.mkdirSync(path.dirname(link), { recursive: true, mode: 0o755 });
      fs.symlinkSync(path.join('..', `${name}.xml`), link);
    }
  }

  /** True when network `name` is marked for autostart. */
  autostart(name: string): boolean {
    return fs.existsSync(this.autostartPath(name));
  }

  /**
   * net-dumpxml: the live XML of an active network (the pool with counts and,
   * without a <pf>, <forward dev> naming its first device, as libvirt), else
   * the definition; `inactive`: the definition, exactly as written.
   */
  dumpxml(name: string, o: { inactive?: boolean | undefined } = {}): string {
    checkName(name);
    const active = this.isActive(name);
    if (o.inactive || !active) {
      const config = readIfExists(this.configPath(name));
      if (config !== null) return config;
      if (active) return this.startedFrom(name).text;
      throw this.noSuch(name);
    }
    return fs.readFileSync(this.livePath(name), 'utf8');
  }
}
