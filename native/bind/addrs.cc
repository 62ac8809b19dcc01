// Bindings of ../addrs.h: `ip addr` and `ip route` over rtnetlink.
#include "../addrs.h"

#include "args.h"
#include "bind.h"
#include "convert.h"
#include "job.h"

namespace netfd::js {

namespace {

Napi::Value AddAddress(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "addAddress");
  AddressOptions req;
  req.netns = a.Str("netns");
  req.link = a.Link("link", true);
  req.address = a.Ip("address", true, 0);
  int family = FamilyOf(req.address);
  req.prefix = a.Prefix(family);
  req.peer = a.Ip("peer", false, family);
  req.broadcast = a.Ip("broadcast", false, family);
  return Job<bool>::Start(info.Env(), [req] { netfd::AddAddress(req); return true; }, Done);
}

Napi::Value ListAddresses(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "listAddresses");
  std::string netns = a.Str("netns");
  uint8_t family = a.Family();
  return Job<std::vector<nl::Addr>>::Start(info.Env(), [netns, family] { return netfd::ListAddresses(netns, family); },
                                           [](Napi::Env env, std::vector<nl::Addr>& v) { return ArrayOf(env, v, AddrToJs); });
}

Napi::Value AddRoute(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "addRoute");
  RouteOptions req;
  req.netns = a.Str("netns");
  req.link = a.Link("link", true);
  req.address = a.Ip("address", true, 0);
  int family = FamilyOf(req.address);
  req.prefix = a.Prefix(family);
  req.gateway = a.Ip("gateway", false, family);
  req.metric = a.Int("metric", 0, UINT32_MAX, -1);
  if (!a.Has("protocol")) a.Bad("protocol", "an RTPROT_* number");
  req.protocol = uint8_t(a.Int("protocol", 0, 255, 0));
  return Job<bool>::Start(info.Env(), [req] { netfd::AddRoute(req); return true; }, Done);
}

Napi::Value ListRoutes(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "listRoutes");
  std::string netns = a.Str("netns");
  uint8_t family = a.Family();
  return Job<std::vector<nl::Route>>::Start(info.Env(), [netns, family] { return netfd::ListRoutes(netns, family); },
                                            [](Napi::Env env, std::vector<nl::Route>& v) { return ArrayOf(env, v, RouteToJs); });
}

}  // namespace

void InitAddrs(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "addAddress", AddAddress);
  Export(env, exports, "listAddresses", ListAddresses);
  Export(env, exports, "addRoute", AddRoute);
  Export(env, exports, "listRoutes", ListRoutes);
}

}  // namespace netfd::js
