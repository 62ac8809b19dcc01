// netfd's public API.
export { NetfdError } from './errors';
export { FdSet, OwnsFds } from './fds';
export * from './link';
export { Tap, TapOptions, tunFeatures } from './tap';
export { createMacvtap, Macvtap, MacvtapFds, MacvtapCreateOptions, MacvtapOpenOptions } from './macvtap';
export { VhostFds, vhostDevicePath, vhostUsable, DEFAULT_VHOST_DEVICE } from './vhost';
export { sendFds, recvFds, peerCred, socketPair, closeFd, Received } from './fdpass';
export * as validate from './validate';
export { native } from './native';
