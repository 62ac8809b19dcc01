// Link operations over rtnetlink (each names its iproute2 equivalent). An
// nl::Netns is a namespace path (a socket per call) or an open NetnsHandle.
#pragma once

#include <string>
#include <vector>

#include "nlcodec.h"
#include "nlsock.h"

namespace netfd {

struct LinkRef {
  int32_t index = 0;  // wins when non-zero
  std::string name;
  std::string Describe() const { return index ? "link index " + std::to_string(index) : "link " + name; }
};

// ip link add link PARENT [name NAME] [address MAC] [netns INTO] type macvtap|macvlan mode MODE
// With `into`, the link is made in that namespace (a name under /run/netns
// or a path) while PARENT is looked up in `netns`: one RTM_NEWLINK with
// IFLA_NET_NS_FD, so it never exists in `netns`, its ifindex is allocated in
// `into`, and an exact name is required (the kernel does not echo a link
// made in another namespace to the asking socket).
struct MacvtapCreate {
  nl::Netns netns;
  std::string into;
  std::string kind;
  LinkRef parent;
  uint32_t mode = 0;
  std::string name;
  std::string mac;
  int64_t group = -1;
};
nl::Link CreateMacvtap(const MacvtapCreate& req);

// Reads /sys/REL as seen from namespace `netns` (a private sysfs mount on a
// scratch thread), e.g. class/net/br0/addr_assign_type. REL holds no "..".
std::string ReadSysfs(const std::string& netns, const std::string& rel);

// ip link delete group G (ENODEV when no link has it: 0 deleted)
bool DeleteGroup(const nl::Netns& netns, uint32_t group);

// ip link delete dev NAME
void DeleteLink(const nl::Netns& netns, const LinkRef& link);

// Deletes several links so that the kernel unregisters them together (one
// RCU grace period for all): they are moved into one link group and the
// group is deleted (ip link delete group G). G is `via` when given (nonzero;
// EBUSY when a link not to be deleted is in it): a caller that finds links
// by their group after a crash passes one of theirs, so a process killed
// between the move and the delete leaves them where it looks. Else G is a
// fresh, unused group. Links already gone are counted as deleted. On
// failure the old groups are restored and links are deleted one by one, so
// the error names the link that refused.
struct DeleteManyResult {
  size_t deleted = 0;
  bool grouped = false;
};
DeleteManyResult DeleteLinks(const nl::Netns& netns, const std::vector<int32_t>& indexes, uint32_t via = 0);

// The ifindex of `ref` in the socket's namespace (a name is looked up).
int32_t ResolveLink(nl::Socket& sock, const LinkRef& ref);

// ip link set dev NAME [up|down] [address MAC] [master BR|nomaster] [mtu N]
struct LinkChanges {
  nl::Netns netns;
  LinkRef link;
  int up = -1;
  std::string mac;
  LinkRef master;       // used when setMaster
  bool setMaster = false;  // master.index == 0 && name empty: nomaster
  int64_t group = -1;      // ip link set group G; -1 unchanged
  int64_t mtu = -1;        // ip link set mtu N; -1 unchanged
};
void SetLink(const LinkChanges& req);

// bridge link set dev PORT isolated on|off
struct BridgePortChanges {
  std::string netns;
  LinkRef link;
  int isolated = -1;  // -1 unchanged
};
void SetBridgePort(const BridgePortChanges& req);

// A VLAN of a bridge port.
struct BridgeVlanOptions {
  std::string netns;
  LinkRef link;
  uint16_t vid = 0;
  uint16_t flags = 0;  // BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED (add only)
};
// bridge vlan add dev PORT vid VID [pvid] [untagged]
void AddBridgeVlan(const BridgeVlanOptions& req);
// bridge vlan del dev PORT vid VID
void DeleteBridgeVlan(const BridgeVlanOptions& req);

// bridge -d link show + bridge vlan show: every AF_BRIDGE entry of the
// namespace (ports with IFLA_PROTINFO; VLANs when the kernel filters them).
std::vector<nl::Link> ListBridgePorts(const std::string& netns);

// ip -d link show dev NAME / ip -d link show
nl::Link GetLink(const nl::Netns& netns, const LinkRef& link);
std::vector<nl::Link> ListLinks(const nl::Netns& netns);

// The link group of every link in the namespace, each once (a link dump
// without the rest of each link).
std::vector<uint32_t> LinkGroups(const nl::Netns& netns);

}  // namespace netfd
