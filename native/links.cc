#include "links.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <random>
#include <set>

#include "common.h"
#include "netns.h"
#include "nlsock.h"

namespace netfd {

namespace {

nl::Bytes MacBytes(const std::string& mac) {
  nl::Bytes out;
  if (!mac.empty() && !nl::ParseMac(mac, &out)) ThrowCode("EINVAL", EINVAL, "rtnetlink", "bad MAC address " + mac);
  return out;
}

}  // namespace

int32_t ResolveLink(nl::Socket& sock, const LinkRef& ref) {
  if (ref.index) return ref.index;
  return sock.GetLink(0, ref.name).index;
}

nl::Link CreateMacvtap(const MacvtapCreate& req) {
  nl::SocketFor sock(req.netns);
  nl::NewLinkMacvlan m;
  m.kind = req.kind;
  m.parent = uint32_t(ResolveLink(*sock, req.parent));
  m.mode = req.mode;
  m.name = req.name;
  m.mac = MacBytes(req.mac);
  m.group = req.group;
  std::string what = "create " + req.kind + (req.name.empty() ? "" : " " + req.name) + " on " + req.parent.Describe();
  if (!req.into.empty()) {
    if (req.name.empty() || req.name.find('%') != std::string::npos) ThrowCode("EINVAL", EINVAL, "rtnetlink", what + ": a link made in another namespace needs an exact name");
    Fd into = OpenNetns(req.into);
    m.netnsFd = into.get();
    what += " in network namespace " + req.into;
    sock->Transact(nl::EncodeNewLinkMacvlan(m, 0), what);
    nl::SocketFor there(req.into);
    return there->GetLink(0, req.name);
  }
  auto msgs = sock->Transact(nl::EncodeNewLinkMacvlan(m, 0), what);
  for (auto& msg : msgs)
    if (msg.link && msg.link->index) return std::move(*msg.link);
  // Kernels before 6.1 do not echo the new link; an exact name finds it.
  if (!req.name.empty() && req.name.find('%') == std::string::npos) return sock->GetLink(0, req.name);
  ThrowCode("ENOTSUP", ENOTSUP, "rtnetlink", what + ": the kernel did not report the new link's name (name templates need Linux 6.1 or newer)");
}

std::string ReadSysfs(const std::string& netns, const std::string& rel) {
  if (rel.empty() || rel[0] == '/' || rel.find("..") != std::string::npos) ThrowCode("EINVAL", EINVAL, "open", "bad sysfs path " + rel);
  std::string out;
  RunOnScratchThread([&] {
    const std::string sysfs = EnterWithPrivateSysfs(netns, "read " + rel);
    Fd fd = OpenCloexec(sysfs + "/" + rel, O_RDONLY);
    char buf[4096];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) ThrowErrno("read", "read /sys/" + rel);
    out.assign(buf, size_t(n));
  });
  return out;
}

bool DeleteGroup(const nl::Netns& netns, uint32_t group) {
  nl::SocketFor sock(netns);
  try {
    sock->Transact(nl::EncodeDelGroup(group, 0), "delete link group " + std::to_string(group));
  } catch (SysError& e) {
    if (e.err == ENODEV) return false;
    throw;
  }
  return true;
}

void DeleteLink(const nl::Netns& netns, const LinkRef& link) {
  nl::SocketFor sock(netns);
  sock->Transact(nl::EncodeDelLink(link.index, link.name, 0), "delete " + link.Describe());
}

namespace {
// Tests only (NETFD_TEST_DELETE_LINKS_PAUSE): while this file exists, a
// regrouped delete waits between the move and the group delete. Read once as
// the addon loads (on the loading thread), never by a worker thread that a
// setenv of the main thread could race.
const std::string kDeletePause = [] {
  const char* p = getenv("NETFD_TEST_DELETE_LINKS_PAUSE");
  return std::string(p ? p : "");
}();
}  // namespace

DeleteManyResult DeleteLinks(const nl::Netns& netns, const std::vector<int32_t>& indexes, uint32_t via) {
  DeleteManyResult result;
  if (indexes.empty()) return result;
  nl::SocketFor sock(netns);
  if (indexes.size() == 1) {
    try {
      sock->Transact(nl::EncodeDelLink(indexes[0], "", 0), "delete link index " + std::to_string(indexes[0]));
    } catch (SysError& e) {
      if (e.err != ENODEV) throw;
    }
    result.deleted = 1;
    return result;
  }

  std::set<int32_t> wanted(indexes.begin(), indexes.end());
  std::set<uint32_t> usedGroups;
  std::map<uint32_t, size_t> groupSize;
  std::vector<std::pair<int32_t, uint32_t>> present;  // index, old group
  for (auto& l : sock->DumpLinks()) {
    usedGroups.insert(uint32_t(l.group));
    groupSize[uint32_t(l.group)]++;
    if (wanted.count(l.index)) present.emplace_back(l.index, uint32_t(l.group));
    // Deleting through `via` deletes every link of it: only wanted ones may be there.
    else if (via && uint32_t(l.group) == via)
      ThrowCode("EBUSY", EBUSY, "rtnetlink",
                "delete links through group " + std::to_string(via) + ": link " + l.name + " (index " + std::to_string(l.index) + ") is in that group and not to be deleted");
  }
  size_t gone = wanted.size() - present.size();

  // Exactly the links of one group already (a domain made in a group of its
  // own): delete that group in one step, never leaving them regrouped.
  if (!present.empty() && present[0].second != 0 && groupSize[present[0].second] == present.size() &&
      std::all_of(present.begin(), present.end(), [&](auto& p) { return p.second == present[0].second; })) {
    try {
      sock->Transact(nl::EncodeDelGroup(present[0].second, 0), "delete link group " + std::to_string(present[0].second));
      result.deleted = wanted.size();
      result.grouped = true;
      return result;
    } catch (SysError& e) {
      if (e.err != ENODEV) throw;
      result.deleted = wanted.size();
      return result;
    }
  }

  // The group they are moved into: `via` (the caller's, which it can find
  // them by if this is cut short), else one no link uses.
  uint32_t group = via;
  if (!group) {
    std::random_device rd;
    std::mt19937 gen(rd());
    do {
      group = gen();
    } while (group == 0 || usedGroups.count(group));
  }

  std::vector<nl::Bytes> moves;
  std::vector<std::pair<int32_t, uint32_t>> moving;
  for (auto& p : present)
    if (p.second != group) moving.push_back(p);
  for (auto& [index, old] : moving) {
    nl::SetLink s;
    s.index = index;
    s.group = group;
    moves.push_back(nl::EncodeSetLink(s, 0));
  }
  auto acks = sock->TransactMany(std::move(moves), 64);
  std::vector<std::pair<int32_t, uint32_t>> moved;
  for (size_t i = 0; i < acks.size(); i++) {
    if (acks[i].error == 0) moved.push_back(moving[i]);
    else if (acks[i].error == ENODEV) gone++;
  }
  const size_t already = present.size() - moving.size();  // in `via` before

  auto restore = [&] {
    std::vector<nl::Bytes> back;
    for (auto& [index, old] : moved) {
      nl::SetLink s;
      s.index = index;
      s.group = old;
      back.push_back(nl::EncodeSetLink(s, 0));
    }
    sock->TransactMany(std::move(back), 64);
  };

  bool failed = already + moved.size() + gone != wanted.size();
  if (!failed && already + moved.size()) {
    // Tests only: a process killed here must leave them findable (in `via`).
    if (!kDeletePause.empty())
      while (access(kDeletePause.c_str(), F_OK) == 0) usleep(20000);
    try {
      sock->Transact(nl::EncodeDelGroup(group, 0), "delete link group " + std::to_string(group));
      result.deleted = wanted.size();
      result.grouped = true;
      return result;
    } catch (SysError&) {
      failed = true;
    }
  }
  if (!failed) {
    result.deleted = wanted.size();
    return result;
  }
  restore();
  // One by one, so the error names the link that refused.
  for (auto& [index, old] : present) {
    try {
      sock->Transact(nl::EncodeDelLink(index, "", 0), "delete link index " + std::to_string(index));
    } catch (SysError& e) {
      if (e.err != ENODEV) throw;
    }
  }
  result.deleted = wanted.size();
  return result;
}

void SetLink(const LinkChanges& req) {
  nl::SocketFor sock(req.netns);
  nl::SetLink s;
  s.index = ResolveLink(*sock, req.link);
  s.up = req.up;
  s.mac = MacBytes(req.mac);
  if (req.setMaster) s.master = (req.master.index || !req.master.name.empty()) ? ResolveLink(*sock, req.master) : 0;
  s.group = req.group;
  s.mtu = req.mtu;
  sock->Transact(nl::EncodeSetLink(s, 0), "change " + req.link.Describe());
}

void SetBridgePort(const BridgePortChanges& req) {
  nl::Socket sock(req.netns);
  nl::SetBridgePort s;
  s.index = ResolveLink(sock, req.link);
  s.isolated = req.isolated;
  sock.Transact(nl::EncodeSetBridgePort(s, 0), "change bridge port " + req.link.Describe());
}

namespace {

void ChangeBridgeVlan(const BridgeVlanOptions& req, bool add) {
  nl::Socket sock(req.netns);
  nl::BridgeVlanChange v;
  v.index = ResolveLink(sock, req.link);
  v.vid = req.vid;
  v.flags = add ? req.flags : 0;
  std::string what = std::string(add ? "add" : "delete") + " vlan " + std::to_string(req.vid) + (add ? " to " : " from ") + "bridge port " + req.link.Describe();
  sock.Transact(nl::EncodeBridgeVlan(add, v, 0), what);
}

}  // namespace

void AddBridgeVlan(const BridgeVlanOptions& req) { ChangeBridgeVlan(req, true); }

void DeleteBridgeVlan(const BridgeVlanOptions& req) { ChangeBridgeVlan(req, false); }

std::vector<nl::Link> ListBridgePorts(const std::string& netns) {
  nl::Socket sock(netns);
  std::vector<nl::Link> out;
  for (auto& m : sock.Transact(nl::EncodeDumpBridgePorts(0), "list bridge ports"))
    if (m.link && m.link->family == AF_BRIDGE) out.push_back(std::move(*m.link));
  return out;
}

nl::Link GetLink(const nl::Netns& netns, const LinkRef& link) {
  nl::SocketFor sock(netns);
  return sock->GetLink(link.index, link.name);
}

std::vector<nl::Link> ListLinks(const nl::Netns& netns) {
  nl::SocketFor sock(netns);
  return sock->DumpLinks();
}

std::vector<uint32_t> LinkGroups(const nl::Netns& netns) {
  std::vector<uint32_t> groups;
  for (const auto& l : ListLinks(netns)) {
    uint32_t g = l.group < 0 ? 0 : uint32_t(l.group);
    if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
  }
  return groups;
}

}  // namespace netfd
