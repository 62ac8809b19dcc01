#include "nlcodec.h"

#include <linux/if_link.h>
#include <linux/netlink.h>
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
  }
}

Link DecodeLink(const uint8_t* p, size_t len) {
  if (len < sizeof(ifinfomsg)) Malformed("short ifinfomsg");
  auto ifi = Read<ifinfomsg>(p);
  Link link;
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
    }
  });
  return link;
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
  return b.Finish();
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
    }
    out.push_back(std::move(m));
    off += Align(h.nlmsg_len);
  }
  return out;
}

}  // namespace netfd::nl
