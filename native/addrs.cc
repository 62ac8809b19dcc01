#include "addrs.h"

#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "common.h"
#include "nlsock.h"

namespace netfd {

namespace {

int Parse(const std::string& text, const char* what, nl::Bytes* out) {
  int family = nl::ParseIp(text, out);
  if (!family) ThrowCode("EINVAL", EINVAL, "rtnetlink", std::string("bad ") + what + " " + text);
  return family;
}

}  // namespace

void AddAddress(const AddressOptions& req) {
  nl::NewAddr m;
  m.family = uint8_t(Parse(req.address, "address", &m.local));
  m.prefix = req.prefix;
  if (!req.peer.empty() && Parse(req.peer, "peer", &m.peer) != m.family) ThrowCode("EINVAL", EINVAL, "rtnetlink", "peer " + req.peer + " is not of the address's family");
  if (!req.broadcast.empty() && Parse(req.broadcast, "broadcast", &m.broadcast) != m.family) ThrowCode("EINVAL", EINVAL, "rtnetlink", "broadcast " + req.broadcast + " is not of the address's family");
  nl::Socket sock(req.netns);
  m.index = ResolveLink(sock, req.link);
  std::string what = "add address " + req.address + "/" + std::to_string(req.prefix) + (req.peer.empty() ? "" : " peer " + req.peer) + " to " + req.link.Describe();
  sock.Transact(nl::EncodeNewAddr(m, 0), what);
}

std::vector<nl::Addr> ListAddresses(const std::string& netns, uint8_t family) {
  nl::Socket sock(netns);
  std::vector<nl::Addr> out;
  for (auto& m : sock.Transact(nl::EncodeDumpAddrs(family, 0), "list addresses"))
    if (m.addr) out.push_back(std::move(*m.addr));
  return out;
}

void AddRoute(const RouteOptions& req) {
  nl::NewRoute r;
  r.family = uint8_t(Parse(req.address, "route destination", &r.dst));
  r.prefix = req.prefix;
  if (!req.gateway.empty() && Parse(req.gateway, "gateway", &r.gateway) != r.family) ThrowCode("EINVAL", EINVAL, "rtnetlink", "gateway " + req.gateway + " is not of the destination's family");
  // What `ip route add` picks: a route through a gateway reaches beyond the
  // link (universe); one without is on the link.
  r.scope = r.gateway.empty() ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  r.metric = req.metric;
  r.protocol = req.protocol;
  nl::Socket sock(req.netns);
  r.oif = ResolveLink(sock, req.link);
  std::string what = "add route " + req.address + "/" + std::to_string(req.prefix) + (req.gateway.empty() ? "" : " via " + req.gateway) + " dev " + req.link.Describe();
  sock.Transact(nl::EncodeNewRoute(r, 0), what);
}

std::vector<nl::Route> ListRoutes(const std::string& netns, uint8_t family) {
  nl::Socket sock(netns);
  std::vector<nl::Route> out;
  for (auto& m : sock.Transact(nl::EncodeDumpRoutes(family, 0), "list routes"))
    if (m.route) out.push_back(std::move(*m.route));
  return out;
}

}  // namespace netfd
