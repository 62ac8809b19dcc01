// netfd's public API.
export { NetfdError } from './errors';
export { FdSet, OwnsFds } from './fds';
export * from './link';
export { Tap, TapOptions, tunFeatures } from './tap';
export { createMacvtap, Macvtap, MacvtapFds, MacvtapCreateOptions, MacvtapOpenOptions } from './macvtap';
export { VhostFds, vhostDevicePath, vhostUsable, DEFAULT_VHOST_DEVICE } from './vhost';
export { sendFds, recvFds, peerCred, socketPair, closeFd, Received } from './fdpass';
export { DomainXml, DomainDef, InterfaceDef, LiveInterface, ParseOptions } from './xml/domain';
export * as policy from './policy';
export { domainArgv, netdevArg, deviceArg, childFds, formatArgv, NetArgs, DEFAULT_EMULATOR } from './qemu/argv';
export { prepareDomain, prepareInterfaces, previewDomain, teardownFromLive, PreparedDomain, InterfaceSetup, PreparedInterface, PrepareOptions, DomainHostOptions, DomainPreview, Step, STEPS } from './netdev/domain';
export { stateDir, DEFAULT_STATE_DIR, liveXmlPath } from './netdev/state';
export * as validate from './validate';
export { native } from './native';
export { Qmp, QmpError } from './qemu/qmp';
export { launchDomain, LaunchedDomain, LaunchOptions } from './qemu/launch';
export { attachInterface, detachInterface, runningDomain, Attached, Detached, HotplugOptions, RunningDomain } from './qemu/hotplug';
export { NetworkXml, NetworkDef, NetworkParseOptions, ForwardMode, PoolDevice, FORWARD_MODES } from './xml/network';
