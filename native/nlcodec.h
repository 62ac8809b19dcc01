// rtnetlink wire format: pure encode/decode over byte buffers, no I/O.
// Every request is documented with the iproute2 command it matches.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace netfd::nl {

using Bytes = std::vector<uint8_t>;

// Builds one netlink message with attributes (4-byte aligned, nested).
class Builder {
 public:
  Builder(uint16_t type, uint16_t flags, uint32_t seq);
  void Put(const void* data, size_t len);  // raw, padded to 4 bytes
  void Attr(uint16_t type, const void* data, size_t len);
  void AttrU8(uint16_t type, uint8_t v) { Attr(type, &v, 1); }
  void AttrU32(uint16_t type, uint32_t v) { Attr(type, &v, 4); }
  void AttrStr(uint16_t type, const std::string& s) { Attr(type, s.c_str(), s.size() + 1); }
  size_t NestStart(uint16_t type);
  void NestEnd(size_t offset);
  Bytes Finish();

 private:
  Bytes buf_;
};

// MAC text "aa:bb:cc:dd:ee:ff" <-> 6 bytes. Parse returns false when malformed.
bool ParseMac(const std::string& text, Bytes* out);
std::string FormatMac(const uint8_t* p, size_t len);

// ip link add link <parent> [name <name>] [address <mac>] type <kind> mode <mode>
struct NewLinkMacvlan {
  std::string kind;  // "macvtap" or "macvlan"
  uint32_t parent = 0;
  uint32_t mode = 0;  // MACVLAN_MODE_*
  std::string name;   // exact name or template with %d; empty: kernel chooses
  Bytes mac;          // empty: kernel chooses
  int64_t group = -1;  // IFLA_GROUP at creation; -1: the default group
  int32_t netnsFd = -1;  // IFLA_NET_NS_FD: made in that namespace, the parent in the socket's; -1: the socket's
};
Bytes EncodeNewLinkMacvlan(const NewLinkMacvlan& req, uint32_t seq);

// ip link show dev <name> / ip link show (dump)
Bytes EncodeGetLink(int32_t index, const std::string& name, uint32_t seq);
Bytes EncodeDumpLinks(uint32_t seq);

// ip link delete dev <name>
Bytes EncodeDelLink(int32_t index, const std::string& name, uint32_t seq);
// ip link delete group <group>
Bytes EncodeDelGroup(uint32_t group, uint32_t seq);

// ip link set dev <name> [up|down] [address <mac>] [master <br>|nomaster] [group <g>] [mtu <n>]
struct SetLink {
  int32_t index = 0;
  std::string name;
  int up = -1;          // -1 unchanged, 0 down, 1 up
  Bytes mac;            // empty: unchanged
  int64_t master = -1;  // -1 unchanged, 0 nomaster, else bridge ifindex
  int64_t group = -1;   // -1 unchanged
  int64_t mtu = -1;     // -1 unchanged (IFLA_MTU)
};
Bytes EncodeSetLink(const SetLink& req, uint32_t seq);

// bridge link set dev <port> isolated on|off
// (RTM_SETLINK, family AF_BRIDGE, IFLA_PROTINFO nested: IFLA_BRPORT_*)
struct SetBridgePort {
  int32_t index = 0;
  int isolated = -1;  // -1 unchanged, 0 off, 1 on
};
Bytes EncodeSetBridgePort(const SetBridgePort& req, uint32_t seq);

// bridge vlan add dev <port> vid <vid> [pvid] [untagged]   (RTM_SETLINK)
// bridge vlan del dev <port> vid <vid>                      (RTM_DELLINK)
// family AF_BRIDGE, IFLA_AF_SPEC: IFLA_BRIDGE_VLAN_INFO {flags, vid}
struct BridgeVlanChange {
  int32_t index = 0;
  uint16_t vid = 0;
  uint16_t flags = 0;  // BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED
};
Bytes EncodeBridgeVlan(bool add, const BridgeVlanChange& req, uint32_t seq);

// bridge -d link show / bridge vlan show: RTM_GETLINK dump, family
// AF_BRIDGE, IFLA_EXT_MASK = RTEXT_FILTER_BRVLAN (one entry per vid).
Bytes EncodeDumpBridgePorts(uint32_t seq);

// tc qdisc replace dev <dev> root <kind>
// (RTM_NEWQDISC, NLM_F_CREATE|NLM_F_REPLACE, parent TC_H_ROOT, handle 0)
Bytes EncodeReplaceRootQdisc(int32_t index, const std::string& kind, uint32_t seq);
// tc qdisc show (RTM_GETQDISC dump)
Bytes EncodeDumpQdiscs(uint32_t seq);

// ip addr add <local>/<prefix> [peer <peer>] [broadcast <brd>] dev <dev>
// (RTM_NEWADDR, NLM_F_CREATE|NLM_F_EXCL). Addresses are 4 or 16 bytes.
struct NewAddr {
  uint8_t family = 0;  // AF_INET or AF_INET6
  int32_t index = 0;
  uint8_t prefix = 0;
  Bytes local;
  Bytes peer;       // empty: IFA_ADDRESS = local
  Bytes broadcast;  // empty: none
};
Bytes EncodeNewAddr(const NewAddr& req, uint32_t seq);
// ip addr show (RTM_GETADDR dump; family 0: all)
Bytes EncodeDumpAddrs(uint8_t family, uint32_t seq);

// ip route add <dst>/<prefix> [via <gateway>] dev <dev> [proto P] [metric M]
// (RTM_NEWROUTE, NLM_F_CREATE|NLM_F_EXCL, table main, type unicast)
struct NewRoute {
  uint8_t family = 0;
  uint8_t prefix = 0;
  Bytes dst;       // omitted when prefix is 0 (default route)
  Bytes gateway;   // empty: a directly connected route
  int32_t oif = 0;
  int64_t metric = -1;  // -1: none (RTA_PRIORITY)
  uint8_t protocol = 0; // RTPROT_*
  uint8_t scope = 0;    // RT_SCOPE_*
};
Bytes EncodeNewRoute(const NewRoute& req, uint32_t seq);
// ip route show table all (RTM_GETROUTE dump; family 0: all)
Bytes EncodeDumpRoutes(uint8_t family, uint32_t seq);

// Address text <-> bytes (inet_pton/inet_ntop). Parse returns the family
// (AF_INET, AF_INET6) or 0 when the text is neither.
int ParseIp(const std::string& text, Bytes* out);
std::string FormatIp(const Bytes& addr);

// A link as the kernel describes it in RTM_NEWLINK.
struct TunInfo {
  int type = -1, pi = -1, vnetHdr = -1, persist = -1, multiQueue = -1;
  int64_t numQueues = -1, numDisabledQueues = -1, owner = -1, group = -1;
};
// A bridge port as RTM_NEWLINK of family AF_BRIDGE describes it:
// IFLA_PROTINFO (IFLA_BRPORT_*) and IFLA_AF_SPEC (IFLA_BRIDGE_VLAN_INFO).
struct BridgeVlan {
  uint16_t vid = 0;
  uint16_t flags = 0;  // BRIDGE_VLAN_INFO_*
};
struct BridgePortInfo {
  int state = -1, learning = -1, unicastFlood = -1, isolated = -1;
  bool hasProtinfo = false;
};
struct Link {
  uint8_t family = 0;  // ifi_family: AF_UNSPEC, or AF_BRIDGE in bridge dumps
  int32_t index = 0;
  uint32_t flags = 0;
  uint16_t type = 0;  // ARPHRD_*
  std::string name;
  uint32_t mtu = 0;
  int64_t parent = -1;  // IFLA_LINK
  int64_t master = -1;  // IFLA_MASTER
  int64_t group = -1;
  int64_t linkNetnsId = -1;
  int operstate = -1;
  int64_t numTxQueues = -1, numRxQueues = -1;
  Bytes mac;
  std::string kind;
  int64_t macvlanMode = -1;
  std::optional<TunInfo> tun;
  int bridgeVlanFiltering = -1;  // kind "bridge": IFLA_BR_VLAN_FILTERING
  std::optional<BridgePortInfo> brport;  // AF_BRIDGE: IFLA_PROTINFO
  std::vector<BridgeVlan> vlans;         // AF_BRIDGE: IFLA_AF_SPEC, ranges expanded
};

// tcmsg + TCA_KIND (RTM_NEWQDISC)
struct Qdisc {
  int32_t index = 0;
  uint32_t handle = 0;
  uint32_t parent = 0;
  std::string kind;
};

// ifaddrmsg + IFA_* (RTM_NEWADDR)
struct Addr {
  uint8_t family = 0;
  uint8_t prefix = 0;
  uint8_t flags = 0;
  uint8_t scope = 0;
  int32_t index = 0;
  Bytes address;    // IFA_ADDRESS (the peer on point-to-point)
  Bytes local;      // IFA_LOCAL
  Bytes broadcast;  // IFA_BROADCAST
  std::string label;
};

// rtmsg + RTA_* (RTM_NEWROUTE)
struct Route {
  uint8_t family = 0;
  uint8_t dstLen = 0;
  uint32_t table = 0;  // RTA_TABLE when present, else rtm_table
  uint8_t protocol = 0;
  uint8_t scope = 0;
  uint8_t type = 0;
  Bytes dst;
  Bytes gateway;
  Bytes prefsrc;
  int64_t oif = -1;
  int64_t metric = -1;  // RTA_PRIORITY
};

// One decoded message.
struct Message {
  uint16_t type = 0;
  uint16_t flags = 0;
  uint32_t seq = 0;
  uint32_t pid = 0;
  bool isError = false;  // NLMSG_ERROR (error == 0 is an ACK)
  bool isDone = false;   // NLMSG_DONE
  int error = 0;         // positive errno, from NLMSG_ERROR or NLMSG_DONE
  std::string extack;
  int64_t extackOffset = -1;
  std::optional<Link> link;  // RTM_NEWLINK / RTM_DELLINK payload
  std::optional<Qdisc> qdisc;  // RTM_NEWQDISC
  std::optional<Addr> addr;    // RTM_NEWADDR
  std::optional<Route> route;  // RTM_NEWROUTE
  Bytes raw;                 // the message's own bytes
};

// Decodes every message in a datagram. Throws SysError(EPROTO) when a length
// field points outside the buffer.
std::vector<Message> Decode(const uint8_t* data, size_t len);

}  // namespace netfd::nl
