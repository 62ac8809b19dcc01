/**
 * netfd: the host side of a qemu guest's network. Tap and macvtap devices,
 * `/dev/vhost-net`, libvirt `<interface>` / `<network>` semantics, and the
 * fds handed to qemu.
 *
 * This is the package's main entry point (`require('netfd')`); the host agent,
 * its client and protocol are the second one, `netfd/agent`. Nothing else of
 * the package is public: the raw addon binding and the internals behind these
 * functions are not reachable.
 *
 * @module netfd
 */

// Errors.
export { NetfdError, NetfdErrorOptions, NETFD_CODES, NetfdCode, ErrnoCode, NetfdErrorCode, isNetfdCode, describeError, suppress, SuppressedError } from './errors';

// fd ownership.
export { FdSet, OwnsFds } from './sys/fds';

// Links (rtnetlink) and the host settings of a device.
export {
  Target,
  TunDetails,
  BridgeDetails,
  LinkInfo,
  LinkChanges,
  getLink,
  listLinks,
  deleteLink,
  deleteLinks,
  deleteGroup,
  setLink,
  linkUp,
  linkDown,
  attachToBridge,
  detachFromBridge,
  LinkTarget,
  DeleteLinksTarget,
} from './sys/link';
export { NetnsHandle } from './sys/netns';
export {
  setBridgePort,
  getBridgePort,
  listBridgePorts,
  addBridgeVlan,
  deleteBridgeVlan,
  listBridgeVlans,
  BridgePortChanges,
  BridgePortInfo,
  BridgePortState,
  BridgeVlan,
  BridgeVlanOptions,
} from './sys/bridge';
export { setRootQdisc, getRootQdisc, ROOT_QDISC_KINDS, RootQdiscKind, QdiscInfo } from './sys/qdisc';
export { setCoalesce, getCoalesce, Coalesce, CoalesceChanges } from './sys/coalesce';
export { addAddress, listAddresses, addRoute, listRoutes, AddressOptions, AddressInfo, RouteOptions, RouteInfo, RouteProtocol } from './sys/addr';

// Devices and their fds.
export { Tap, TapOptions, TapSetup, tunFeatures } from './sys/tap';
export { createMacvtap, Macvtap, MacvtapFds, MacvtapCreateOptions, MacvtapOpenOptions } from './sys/macvtap';
export { VhostFds, vhostDevicePath, vhostUsable, DEFAULT_VHOST_DEVICE } from './sys/vhost';
export { sendFds, recvFds, peerCred, socketPair, closeFd, Received } from './sys/fdpass';

// libvirt XML.
export { DomainXml, DomainDef, DiskDef, DiskCache, DiskErrorPolicy, SerialDef, InterfaceDef, LiveInterface, AddedInterface, ParseOptions, DomainParseOptions } from './xml/domain';
export {
  InterfaceType,
  DirectMode,
  DriverDef,
  VlanDef,
  IpDef,
  RouteDef,
  PciAddress,
  ActualDirect,
  HostOffload,
  GuestOffload,
  HOST_OFFLOADS,
  GUEST_OFFLOADS,
  BandwidthDef,
  RateDef,
} from './xml/interface';
export { NetworkXml, NetworkDef, NetworkParseOptions, ForwardMode, PoolDevice, FORWARD_MODES } from './xml/network';

// The driver policy and other pure decisions; input validation.
export * as policy from './policy';
export * as validate from './validate';

// A domain's interfaces as one transaction, and qemu's arguments for them.
export { prepareInterfaces, PreparedHost, PreparedHostClass, InterfaceSetup, PreparedInterface, PreviewHostOptions } from './netdev/domain';
export { teardownFromLive, teardownDomains, TeardownItem, TeardownOutcome } from './netdev/teardown';
export { KnownLive } from './netdev/live';
export { PrepareOptions, DomainHostOptions, Step, STEPS } from './netdev/connect';
export { setInterfaceLinks, followLiveXml, LinkFollowOptions } from './netdev/direct';
export { recordPciAddresses } from './netdev/live';
export { prepareDomain, prepareDomains, previewDomain, PreparedDomain, DomainPreview, PreviewOptions } from './qemu/domain';
export { prepareHosts, teardownHosts, fleetMacs, FleetOptions } from './netdev/fleet';
export { stateDir, DEFAULT_STATE_DIR, liveXmlPath } from './state/dirs';
export { domainArgv, netArgv, driveArg, netdevArg, deviceArg, childFds, formatArgv, formatArgs, NetArgs, ArgvOptions, DEFAULT_EMULATOR } from './qemu/argv';

// qemu: launch, QMP, hotplug.
export { Qmp, QmpStatus } from './qemu/qmp/commands';
export { QmpClient, QmpClientEvents, QmpError, QmpVersion, QmpExecuteOptions } from './qemu/qmp/client';
export { QmpEvent } from './qemu/qmp/events';
export { launchDomain, LaunchedDomain, LaunchOptions, Exit, MONITOR_ID } from './qemu/launch';
export { launchDomains, FleetLaunchOptions } from './qemu/fleet';
export { RunState, RunStateOptions, runningAfter } from './qemu/runstate';
export { pciAddresses, queryPciAddresses, formatPci, parsePci } from './qemu/pci';
export { attachInterface, detachInterface, runningDomain, Attached, Detached, HotplugOptions, RunningDomain } from './qemu/hotplug';

// Networks (device pools) and SR-IOV.
export { Networks } from './netdev/networks';
export { NetworkOptions, NetworkRow, NetworkStatus, Allocation } from './network/store';
export { Connection, ConnectionOwner } from './network/ledger';
export { ConfigScan, configDir, DEFAULT_CONFIG_DIR } from './network/config';
export { expandPf, sysfsRoot, PfExpansion, VirtualFunction, DEFAULT_SYSFS_ROOT } from './network/pool';

// The host probe.
export { probeHost, formatProbe, ProbeOptions, ProbeReport, Check as ProbeCheck, Level as ProbeLevel, CheckId as ProbeCheckId, CHECK_IDS as PROBE_CHECK_IDS } from './host/probe';
export { HostRoots } from './sys/vhost-usable';

// Xen xm / xl / sexpr vif lines.
export * as xen from './xen';
