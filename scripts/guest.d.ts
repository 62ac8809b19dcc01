// Types for scripts/guest.js (used by the e2e tests).
import type { Readable } from 'node:stream';

export interface GuestNet {
  bridge: string;
  bridgePort: string;
  bridgePeerDev: string;
  bridgePeer: string;
  bridgeSubnet: string;
  macvtapParent: string;
  macvtapPeerDev: string;
  macvtapPeer: string;
  macvtapSubnet: string;
}
export const NET: GuestNet;
export const DEFAULT_CACHE: string;

export interface GuestImage {
  kernel: string;
  initrd: string;
  stamp: Record<string, string>;
}
export function image(o?: { cache?: string; quiet?: boolean }): GuestImage;
export function addPeers(ns: string): GuestNet;
export function scratchNetns(prefix?: string): { ns: string; remove: () => void; net: GuestNet };
/** netfd.* kernel parameters; an array is a comma list (peerN: ping each in turn). */
export type GuestParams = Record<string, string | number | readonly (string | number)[]>;
export function cmdline(params?: GuestParams): string;

export interface Nic {
  type: 'bridge' | 'direct' | 'network' | 'ethernet';
  model?: string;
  mac?: string;
  queues?: number;
  driver?: 'vhost' | 'qemu';
  targetDev?: string;
  /** false: targetDev is an existing tap (<target managed='no'>, type 'ethernet' only). */
  managed?: boolean;
  mode?: string;
  /** The bridge, the macvtap parent, or the network's name (required for 'network'). */
  source?: string;
  alias?: string;
}
export function interfaceXml(nic: Nic): string;
export function domainXml(o: { name: string; image: { kernel: string; initrd: string }; nics?: Nic[]; params?: GuestParams; memoryMiB?: number; vcpus?: number }): string;

export interface ConsoleLine {
  text: string;
  at: number;
}
export class Console {
  constructor(stream: Readable, o?: { echo?: (line: string) => void });
  lines: ConsoleLine[];
  ended: boolean;
  wait(re: RegExp, timeoutMs?: number, from?: number): Promise<ConsoleLine & { match: RegExpExecArray; index: number }>;
  tail(n?: number): string;
}
