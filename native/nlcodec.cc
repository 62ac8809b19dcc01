#include "nlcodec.h"

// glibc's <netinet/in.h> (through <arpa/inet.h>) before the uapi headers, so
// that <linux/in6.h> (pulled in by <linux/if_bridge.h>) defers to it.
#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common.h"

namespace netfd::nl {

namespace {

constexpr size_t Align(size_t n) { return (n + 3) & ~size_t(3); }

template <typename T>
T Read(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

[[noreturn]] void Malformed(const char* what) {
  ThrowCode("EPROTO", EPROTO, "recvmsg", std::string("malformed netlink message: ") + what);
}

struct AttrView {
  uint16_t type;
  const uint8_t* data;
  size_t len;
};

// Walks the attributes in [p, p+len); stops at a truncated tail.
template <typename F>
void ForEachAttr(const uint8_t* p, size_t len, F&& fn) {
  size_t off = 0;
  while (off + sizeof(nlattr) <= len) {
    auto a = Read<nlattr>(p + off);
    if (a.nla_len < sizeof(nlattr) || off + a.nla_len > len) Malformed("attribute length");
    fn(AttrView{uint16_t(a.nla_type & NLA_TYPE_MASK), p + off + NLA_HDRLEN, size_t(a.nla_len - NLA_HDRLEN)});
    off += Align(a.nla_len);
  }
}

uint32_t U32(const AttrView& a) {
  if (a.len < 4) Malformed("u32 attribute too short");
  return Read<uint32_t>(a.data);
}
uint8_t U8(const AttrView& a) {
  if (a.len < 1) Malformed("u8 attribute too short");
  return a.data[0];
}
std::string Str(const AttrView& a) { return std::string(reinterpret_cast<const char*>(a.data), strnlen(reinterpret_cast<const char*>(a.data), a.len)); }

void DecodeTun(const AttrView& data, TunInfo* t) {
  ForEachAttr(data.data, data.len, [&](const AttrView& a) {
    switch (a.type) {
      case IFLA_TUN_TYPE: t->type = U8(a); break;
      case IFLA_TUN_PI: t->pi = U8(a); break;
      case IFLA_TUN_VNET_HDR: t->vnetHdr = U8(a); break;
      case IFLA_TUN_PERSIST: t->persist = U8(a); break;
      case IFLA_TUN_MULTI_QUEUE: t->multiQueue = U8(a); break;
      case IFLA_TUN_NUM_QUEUES: t->numQueues = U32(a); break;
      case IFLA_TUN_NUM_DISABLED_QUEUES: t->numDisabledQueues = U32(a); break;
      case IFLA_TUN_OWNER: t->owner = U32(a); break;
      case IFLA_TUN_GROUP: t->group = U32(a); break;
    }
  });
}

Bytes Raw(const AttrView& a) { return Bytes(a.data, a.data + a.len); }

void DecodeBridgeData(const AttrView& data, Link* link) {
  ForEachAttr(data.data, data.len, [&](const AttrView& a) {
    if (a.type == IFLA_BR_VLAN_FILTERING) link->bridgeVlanFiltering = U8(a);
  });
}

// IFLA_PROTINFO of an AF_BRIDGE message: nested IFLA_BRPORT_* attributes
// (NLA_F_NESTED set), or, from old kernels, a bare u8 STP state.
void DecodeProtinfo(const AttrView& p, Link* link) {
  BridgePortInfo info;
  info.hasProtinfo = true;
  if (p.len == 1) {
    info.state = p.data[0];
  } else {
    ForEachAttr(p.data, p.len, [&](const AttrView& a) {
      switch (a.type) {
        case IFLA_BRPORT_STATE: info.state = U8(a); break;
        case IFLA_BRPORT_LEARNING: info.learning = U8(a); break;
        case IFLA_BRPORT_UNICAST_FLOOD: info.unicastFlood = U8(a); break;
        case IFLA_BRPORT_ISOLATED: info.isolated = U8(a); break;
      }
    });
  }
  link->brport = info;
}

// IFLA_AF_SPEC of an AF_BRIDGE message: IFLA_BRIDGE_VLAN_INFO entries, one
// per vid, or RANGE_BEGIN/RANGE_END pairs (expanded here).
void DecodeBridgeAfSpec(const AttrView& spec, Link* link) {
  int64_t rangeStart = -1;
  ForEachAttr(spec.data, spec.len, [&](const AttrView& a) {
    if (a.type != IFLA_BRIDGE_VLAN_INFO) return;
    if (a.len < sizeof(bridge_vlan_info)) Malformed("short bridge_vlan_info");
    auto v = Read<bridge_vlan_info>(a.data);
    uint16_t flags = v.flags & ~(BRIDGE_VLAN_INFO_RANGE_BEGIN | BRIDGE_VLAN_INFO_RANGE_END);
    if (v.flags & BRIDGE_VLAN_INFO_RANGE_BEGIN) {
      rangeStart = v.vid;
      return;
    }
    if ((v.flags & BRIDGE_VLAN_INFO_RANGE_END) && rangeStart >= 0 && rangeStart <= v.vid) {
      for (int64_t vid = rangeStart; vid <= v.vid; vid++) link->vlans.push_back(BridgeVlan{uint16_t(vid), flags});
      rangeStart = -1;
      return;
    }
    rangeStart = -1;
    link->vlans.push_back(BridgeVlan{v.vid, flags});
  });
}

void DecodeLinkInfo(const AttrView& info, Link* link) {
  const AttrView* data = nullptr;
  AttrView dataCopy{};
  ForEachAttr(info.data, info.len, [&](const AttrView& a) {
    if (a.type == IFLA_INFO_KIND) link->kind = Str(a);
    if (a.type == IFLA_INFO_DATA) {
      dataCopy = a;
      data = &dataCopy;
    }
  });
  if (!data) return;
  if (link->kind == "macvlan" || link->kind == "macvtap") {
    ForEachAttr(data->data, data->len, [&](const AttrView& a) {
      if (a.type == IFLA_MACVLAN_MODE) link->macvlanMode = U32(a);
    });
  } else if (link->kind == "tun") {
    link->tun.emplace();
    DecodeTun(*data, &*link->tun);
  } else if (link->kind == "bridge") {
    DecodeBridgeData(*data, link);
  }
}

Link DecodeLink(const uint8_t* p, size_t len) {
  if (len < sizeof(ifinfomsg)) Malformed("short ifinfomsg");
  auto ifi = Read<ifinfomsg>(p);
  Link link;
  link.family = ifi.ifi_family;
  link.index = ifi.ifi_index;
  link.flags = ifi.ifi_flags;
  link.type = ifi.ifi_type;
  size_t hdr = Align(sizeof(ifinfomsg));
  if (len < hdr) return link;
  ForEachAttr(p + hdr, len - hdr, [&](const AttrView& a) {
    switch (a.type) {
      case IFLA_IFNAME: link.name = Str(a); break;
      case IFLA_MTU: link.mtu = U32(a); break;
      case IFLA_LINK: link.parent = U32(a); break;
      case IFLA_MASTER: link.master = U32(a); break;
      case IFLA_GROUP: link.group = U32(a); break;
      case IFLA_LINK_NETNSID: link.linkNetnsId = int32_t(U32(a)); break;
      case IFLA_OPERSTATE: link.operstate = U8(a); break;
      case IFLA_NUM_TX_QUEUES: link.numTxQueues = U32(a); break;
      case IFLA_NUM_RX_QUEUES: link.numRxQueues = U32(a); break;
      case IFLA_ADDRESS: link.mac.assign(a.data, a.data + a.len); break;
      case IFLA_LINKINFO: DecodeLinkInfo(a, &link); break;
      case IFLA_PROTINFO:
        if (ifi.ifi_family == AF_BRIDGE) DecodeProtinfo(a, &link);
        break;
      case IFLA_AF_SPEC:
        if (ifi.ifi_family == AF_BRIDGE) DecodeBridgeAfSpec(a, &link);
        break;
    }
  });
  return link;
}

Qdisc DecodeQdisc(const uint8_t* p, size_t len) {
  if (len < sizeof(tcmsg)) Malformed("short tcmsg");
  auto t = Read<tcmsg>(p);
  Qdisc q;
  q.index = t.tcm_ifindex;
  q.handle = t.tcm_handle;
  q.parent = t.tcm_parent;
  size_t hdr = Align(sizeof(tcmsg));
  if (len > hdr)
    ForEachAttr(p + hdr, len - hdr, [&](const AttrView& a) {
      if (a.type == TCA_KIND) q.kind = Str(a);
    });
  return q;
}

Addr DecodeAddr(const uint8_t* p, size_t len) {
  if (len < sizeof(ifaddrmsg)) Malformed("short ifaddrmsg");
  auto m = Read<ifaddrmsg>(p);
  Addr out;
  out.family = m.ifa_family;
  out.prefix = m.ifa_prefixlen;
  out.flags = m.ifa_flags;
  out.scope = m.ifa_scope;
  out.index = int32_t(m.ifa_index);
  size_t hdr = Align(sizeof(ifaddrmsg));
  if (len > hdr)
    ForEachAttr(p + hdr, len - hdr, [&](const AttrView& a) {
      switch (a.type) {
        case IFA_ADDRESS: out.address = Raw(a); break;
        case IFA_LOCAL: out.local = Raw(a); break;
        case IFA_BROADCAST: out.broadcast = Raw(a); break;
        case IFA_LABEL: out.label = Str(a); break;
      }
    });
  return out;
}

Route DecodeRoute(const uint8_t* p, size_t len) {
  if (len < sizeof(rtmsg)) Malformed("short rtmsg");
  auto m = Read<rtmsg>(p);
  Route r;
  r.family = m.rtm_family;
  r.dstLen = m.rtm_dst_len;
  r.table = m.rtm_table;
  r.protocol = m.rtm_protocol;
  r.scope = m.rtm_scope;
  r.type = m.rtm_type;
  size_t hdr = Align(sizeof(rtmsg));
  if (len > hdr)
    ForEachAttr(p + hdr, len - hdr, [&](const AttrView& a) {
      switch (a.type) {
        case RTA_DST: r.dst = Raw(a); break;
        case RTA_GATEWAY: r.gateway = Raw(a); break;
        case RTA_PREFSRC: r.prefsrc = Raw(a); break;
        case RTA_OIF: r.oif = U32(a); break;
        case RTA_PRIORITY: r.metric = U32(a); break;
        case RTA_TABLE: r.table = U32(a); break;
      }
    });
  return r;
}

Bytes LinkRequest(uint16_t type, uint16_t flags, int32_t index, const std::string& name, uint32_t seq) {
  Builder b(type, flags, seq);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  b.Put(&ifi, sizeof ifi);
  if (index == 0 && !name.empty()) b.AttrStr(IFLA_IFNAME, name);
  return b.Finish();
}

}  // namespace

Builder::Builder(uint16_t type, uint16_t flags, uint32_t seq) {
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = flags;
  h.nlmsg_seq = seq;
  Put(&h, sizeof h);
}

void Builder::Put(const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  buf_.insert(buf_.end(), p, p + len);
  buf_.resize(Align(buf_.size()), 0);
}

void Builder::Attr(uint16_t type, const void* data, size_t len) {
  nlattr a{};
  a.nla_len = uint16_t(NLA_HDRLEN + len);
  a.nla_type = type;
  const auto* p = reinterpret_cast<const uint8_t*>(&a);
  buf_.insert(buf_.end(), p, p + sizeof a);
  Put(data, len);
}

size_t Builder::NestStart(uint16_t type) {
  size_t off = buf_.size();
  Attr(type | NLA_F_NESTED, nullptr, 0);
  return off;
}

void Builder::NestEnd(size_t offset) {
  uint16_t len = uint16_t(buf_.size() - offset);
  std::memcpy(buf_.data() + offset, &len, sizeof len);
}

Bytes Builder::Finish() {
  uint32_t len = uint32_t(buf_.size());
  std::memcpy(buf_.data(), &len, sizeof len);
  return std::move(buf_);
}

bool ParseMac(const std::string& text, Bytes* out) {
  if (text.size() != 17) return false;
  Bytes mac(6);
  for (size_t i = 0; i < 6; i++) {
    unsigned v = 0;
    for (size_t j = 0; j < 2; j++) {
      char c = text[i * 3 + j];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f') v |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= unsigned(c - 'A' + 10);
      else return false;
    }
    if (i < 5 && text[i * 3 + 2] != ':') return false;
    mac[i] = uint8_t(v);
  }
  *out = std::move(mac);
  return true;
}

std::string FormatMac(const uint8_t* p, size_t len) {
  std::string s;
  char part[4];
  for (size_t i = 0; i < len; i++) {
    std::snprintf(part, sizeof part, i ? ":%02x" : "%02x", p[i]);
    s += part;
  }
  return s;
}

Bytes EncodeNewLinkMacvlan(const NewLinkMacvlan& req, uint32_t seq) {
  Builder b(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, seq);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  b.Put(&ifi, sizeof ifi);
  if (!req.name.empty()) b.AttrStr(IFLA_IFNAME, req.name);
  b.AttrU32(IFLA_LINK, req.parent);
  if (!req.mac.empty()) b.Attr(IFLA_ADDRESS, req.mac.data(), req.mac.size());
  if (req.group >= 0) b.AttrU32(IFLA_GROUP, uint32_t(req.group));
  if (req.netnsFd >= 0) b.AttrU32(IFLA_NET_NS_FD, uint32_t(req.netnsFd));
  size_t info = b.NestStart(IFLA_LINKINFO);
  b.AttrStr(IFLA_INFO_KIND, req.kind);
  size_t data = b.NestStart(IFLA_INFO_DATA);
  b.AttrU32(IFLA_MACVLAN_MODE, req.mode);
  b.NestEnd(data);
  b.NestEnd(info);
  return b.Finish();
}

Bytes EncodeGetLink(int32_t index, const std::string& name, uint32_t seq) {
  return LinkRequest(RTM_GETLINK, NLM_F_REQUEST, index, name, seq);
}

Bytes EncodeDumpLinks(uint32_t seq) { return LinkRequest(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 0, "", seq); }

Bytes EncodeDelLink(int32_t index, const std::string& name, uint32_t seq) {
  return LinkRequest(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, index, name, seq);
}

Bytes EncodeDelGroup(uint32_t group, uint32_t seq) {
  Builder b(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, seq);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  b.Put(&ifi, sizeof ifi);
  b.AttrU32(IFLA_GROUP, group);
  return b.Finish();
}

Bytes EncodeSetLink(const SetLink& req, uint32_t seq) {
  Builder b(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = req.index;
  if (req.up >= 0) {
    ifi.ifi_change = IFF_UP;
    ifi.ifi_flags = req.up ? IFF_UP : 0;
  }
  b.Put(&ifi, sizeof ifi);
  if (req.index == 0 && !req.name.empty()) b.AttrStr(IFLA_IFNAME, req.name);
  if (!req.mac.empty()) b.Attr(IFLA_ADDRESS, req.mac.data(), req.mac.size());
  if (req.master >= 0) b.AttrU32(IFLA_MASTER, uint32_t(req.master));
  if (req.group >= 0) b.AttrU32(IFLA_GROUP, uint32_t(req.group));
  if (req.mtu >= 0) b.AttrU32(IFLA_MTU, uint32_t(req.mtu));
  return b.Finish();
}

Bytes EncodeSetBridgePort(const SetBridgePort& req, uint32_t seq) {
  Builder b(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, seq);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_BRIDGE;
  ifi.ifi_index = req.index;
  b.Put(&ifi, sizeof ifi);
  // NLA_F_NESTED matters: without it the bridge reads IFLA_PROTINFO as the
  // old u8 STP state.
  size_t nest = b.NestStart(IFLA_PROTINFO);
  if (req.isolated >= 0) b.AttrU8(IFLA_BRPORT_ISOLATED, uint8_t(req.isolated ? 1 : 0));
  b.NestEnd(nest);
  return b.Finish();
}

Bytes EncodeBridgeVlan(bool add, const BridgeVlanChange& req, uint32_t seq) {
  Builder b(add ? RTM_SETLINK : RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, seq);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_BRIDGE;
  ifi.ifi_index = req.index;
  b.Put(&ifi, sizeof ifi);
  // No IFLA_BRIDGE_FLAGS: the default, BRIDGE_FLAGS_MASTER, is the port's
  // entry in its bridge (iproute2's default too).
  size_t spec = b.NestStart(IFLA_AF_SPEC);
  bridge_vlan_info v{};
  v.flags = req.flags;
  v.vid = req.vid;
  b.Attr(IFLA_BRIDGE_VLAN_INFO, &v, sizeof v);
  b.NestEnd(spec);
  return b.Finish();
}

Bytes EncodeDumpBridgePorts(uint32_t seq) {
  Builder b(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_BRIDGE;
  b.Put(&ifi, sizeof ifi);
  b.AttrU32(IFLA_EXT_MASK, RTEXT_FILTER_BRVLAN);
  return b.Finish();
}

Bytes EncodeReplaceRootQdisc(int32_t index, const std::string& kind, uint32_t seq) {
  Builder b(RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, seq);
  tcmsg t{};
  t.tcm_family = AF_UNSPEC;
  t.tcm_ifindex = index;
  t.tcm_handle = 0;  // the kernel picks one
  t.tcm_parent = TC_H_ROOT;
  b.Put(&t, sizeof t);
  b.AttrStr(TCA_KIND, kind);
  return b.Finish();
}

Bytes EncodeDumpQdiscs(uint32_t seq) {
  Builder b(RTM_GETQDISC, NLM_F_REQUEST | NLM_F_DUMP, seq);
  tcmsg t{};
  b.Put(&t, sizeof t);
  return b.Finish();
}

Bytes EncodeNewAddr(const NewAddr& req, uint32_t seq) {
  Builder b(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq);
  ifaddrmsg m{};
  m.ifa_family = req.family;
  m.ifa_prefixlen = req.prefix;
  m.ifa_scope = RT_SCOPE_UNIVERSE;
  m.ifa_index = uint32_t(req.index);
  b.Put(&m, sizeof m);
  b.Attr(IFA_LOCAL, req.local.data(), req.local.size());
  const Bytes& address = req.peer.empty() ? req.local : req.peer;
  b.Attr(IFA_ADDRESS, address.data(), address.size());
  if (!req.broadcast.empty()) b.Attr(IFA_BROADCAST, req.broadcast.data(), req.broadcast.size());
  return b.Finish();
}

Bytes EncodeDumpAddrs(uint8_t family, uint32_t seq) {
  Builder b(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq);
  ifaddrmsg m{};
  m.ifa_family = family;
  b.Put(&m, sizeof m);
  return b.Finish();
}

Bytes EncodeNewRoute(const NewRoute& req, uint32_t seq) {
  Builder b(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq);
  rtmsg m{};
  m.rtm_family = req.family;
  m.rtm_dst_len = req.prefix;
  m.rtm_table = RT_TABLE_MAIN;
  m.rtm_protocol = req.protocol;
  m.rtm_scope = req.scope;
  m.rtm_type = RTN_UNICAST;
  b.Put(&m, sizeof m);
  if (req.prefix > 0) b.Attr(RTA_DST, req.dst.data(), req.dst.size());
  if (!req.gateway.empty()) b.Attr(RTA_GATEWAY, req.gateway.data(), req.gateway.size());
  b.AttrU32(RTA_OIF, uint32_t(req.oif));
  if (req.metric >= 0) b.AttrU32(RTA_PRIORITY, uint32_t(req.metric));
  return b.Finish();
}

Bytes EncodeDumpRoutes(uint8_t family, uint32_t seq) {
  Builder b(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq);
  rtmsg m{};
  m.rtm_family = family;
  b.Put(&m, sizeof m);
  return b.Finish();
}

int ParseIp(const std::string& text, Bytes* out) {
  uint8_t buf[16];
  if (::inet_pton(AF_INET, text.c_str(), buf) == 1) {
    out->assign(buf, buf + 4);
    return AF_INET;
  }
  if (::inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    out->assign(buf, buf + 16);
    return AF_INET6;
  }
  return 0;
}

std::string FormatIp(const Bytes& addr) {
  char buf[INET6_ADDRSTRLEN];
  int family = addr.size() == 4 ? AF_INET : addr.size() == 16 ? AF_INET6 : 0;
  if (!family || !::inet_ntop(family, addr.data(), buf, sizeof buf)) return "";
  return buf;
}

std::vector<Message> Decode(const uint8_t* data, size_t len) {
  std::vector<Message> out;
  size_t off = 0;
  while (off + sizeof(nlmsghdr) <= len) {
    auto h = Read<nlmsghdr>(data + off);
    if (h.nlmsg_len < sizeof(nlmsghdr) || off + h.nlmsg_len > len) Malformed("message length");
    const uint8_t* p = data + off + NLMSG_HDRLEN;
    size_t plen = h.nlmsg_len - NLMSG_HDRLEN;
    Message m;
    m.type = h.nlmsg_type;
    m.flags = h.nlmsg_flags;
    m.seq = h.nlmsg_seq;
    m.pid = h.nlmsg_pid;
    m.raw.assign(data + off, data + off + h.nlmsg_len);
    if (h.nlmsg_type == NLMSG_ERROR) {
      if (plen < sizeof(nlmsgerr)) Malformed("short nlmsgerr");
      auto e = Read<nlmsgerr>(p);
      m.isError = true;
      m.error = -e.error;
      if (h.nlmsg_flags & NLM_F_ACK_TLVS) {
        // TLVs follow the echoed request: its header only when capped.
        size_t skip = sizeof(nlmsgerr);
        if (!(h.nlmsg_flags & NLM_F_CAPPED)) skip = Align(sizeof(int) + e.msg.nlmsg_len);
        if (skip < plen) {
          ForEachAttr(p + skip, plen - skip, [&](const AttrView& a) {
            if (a.type == NLMSGERR_ATTR_MSG) m.extack = Str(a);
            if (a.type == NLMSGERR_ATTR_OFFS) m.extackOffset = U32(a);
          });
        }
      }
    } else if (h.nlmsg_type == NLMSG_DONE) {
      m.isDone = true;
      if (plen >= sizeof(int)) m.error = -Read<int>(p);
    } else if (h.nlmsg_type == RTM_NEWLINK || h.nlmsg_type == RTM_DELLINK) {
      m.link = DecodeLink(p, plen);
    } else if (h.nlmsg_type == RTM_NEWQDISC) {
      m.qdisc = DecodeQdisc(p, plen);
    } else if (h.nlmsg_type == RTM_NEWADDR) {
      m.addr = DecodeAddr(p, plen);
    } else if (h.nlmsg_type == RTM_NEWROUTE) {
      m.route = DecodeRoute(p, plen);
    }
    out.push_back(std::move(m));
    off += Align(h.nlmsg_len);
  }
  return out;
}

}  // namespace netfd::nl
