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
};
Bytes EncodeNewLinkMacvlan(const NewLinkMacvlan& req, uint32_t seq);

// ip link show dev <name> / ip link show (dump)
Bytes EncodeGetLink(int32_t index, const std::string& name, uint32_t seq);
Bytes EncodeDumpLinks(uint32_t seq);

// ip link delete dev <name>
Bytes EncodeDelLink(int32_t index, const std::string& name, uint32_t seq);
// ip link delete group <group>
Bytes EncodeDelGroup(uint32_t group, uint32_t seq);

// ip link set dev <name> [up|down] [address <mac>] [master <br>|nomaster] [group <g>]
struct SetLink {
  int32_t index = 0;
  std::string name;
  int up = -1;          // -1 unchanged, 0 down, 1 up
  Bytes mac;            // empty: unchanged
  int64_t master = -1;  // -1 unchanged, 0 nomaster, else bridge ifindex
  int64_t group = -1;   // -1 unchanged
};
Bytes EncodeSetLink(const SetLink& req, uint32_t seq);

// A link as the kernel describes it in RTM_NEWLINK.
struct TunInfo {
  int type = -1, pi = -1, vnetHdr = -1, persist = -1, multiQueue = -1;
  int64_t numQueues = -1, numDisabledQueues = -1, owner = -1, group = -1;
};
struct Link {
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
  Bytes raw;                 // the message's own bytes
};

// Decodes every message in a datagram. Throws SysError(EPROTO) when a length
// field points outside the buffer.
std::vector<Message> Decode(const uint8_t* data, size_t len);

}  // namespace netfd::nl
