// Kernel objects to JS values.
#include "convert.h"

#include <linux/if_bridge.h>
#include <net/if.h>
#include <sys/socket.h>

namespace netfd::js {

namespace {

// IFF_LOWER_UP lives in <linux/if.h>, which clashes with glibc's <net/if.h>.
constexpr unsigned kIffLowerUp = 1u << 16;

const char* FamilyName(uint8_t family) { return family == AF_INET ? "inet" : family == AF_INET6 ? "inet6" : "other"; }

Napi::Value IpOrNull(Napi::Env env, const nl::Bytes& b) {
  if (b.empty()) return env.Null();
  std::string s = nl::FormatIp(b);
  return s.empty() ? env.Null() : Napi::Value(Napi::String::New(env, s));
}

}  // namespace

Napi::Value Nullable(Napi::Env env, int64_t v) { return v < 0 ? env.Null() : Napi::Number::New(env, double(v)); }

Napi::Array FdArray(Napi::Env env, std::vector<Fd>& fds) {
  Napi::Array a = Napi::Array::New(env, fds.size());
  for (size_t i = 0; i < fds.size(); i++) a.Set(uint32_t(i), Napi::Number::New(env, fds[i].release()));
  return a;
}

Napi::Object LinkToJs(Napi::Env env, const nl::Link& l) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("index", l.index);
  o.Set("name", l.name);
  o.Set("flags", double(l.flags));
  o.Set("up", bool(l.flags & IFF_UP));
  o.Set("lowerUp", bool(l.flags & kIffLowerUp));
  o.Set("type", double(l.type));
  o.Set("mtu", double(l.mtu));
  o.Set("parent", Nullable(env, l.parent));
  o.Set("master", Nullable(env, l.master));
  o.Set("group", Nullable(env, l.group));
  o.Set("linkNetnsId", Nullable(env, l.linkNetnsId));
  o.Set("operstate", Nullable(env, l.operstate));
  o.Set("numTxQueues", Nullable(env, l.numTxQueues));
  o.Set("numRxQueues", Nullable(env, l.numRxQueues));
  o.Set("mac", l.mac.empty() ? env.Null() : Napi::Value(Napi::String::New(env, nl::FormatMac(l.mac.data(), l.mac.size()))));
  o.Set("kind", l.kind.empty() ? env.Null() : Napi::Value(Napi::String::New(env, l.kind)));
  o.Set("macvlanMode", Nullable(env, l.macvlanMode));
  if (l.tun) {
    Napi::Object t = Napi::Object::New(env);
    t.Set("type", Nullable(env, l.tun->type));
    t.Set("pi", Nullable(env, l.tun->pi));
    t.Set("vnetHdr", Nullable(env, l.tun->vnetHdr));
    t.Set("persist", Nullable(env, l.tun->persist));
    t.Set("multiQueue", Nullable(env, l.tun->multiQueue));
    t.Set("numQueues", Nullable(env, l.tun->numQueues));
    t.Set("numDisabledQueues", Nullable(env, l.tun->numDisabledQueues));
    t.Set("owner", Nullable(env, l.tun->owner));
    t.Set("group", Nullable(env, l.tun->group));
    o.Set("tun", t);
  } else {
    o.Set("tun", env.Null());
  }
  o.Set("family", double(l.family));
  o.Set("bridgeVlanFiltering", l.bridgeVlanFiltering < 0 ? env.Null() : Napi::Value(Napi::Boolean::New(env, l.bridgeVlanFiltering != 0)));
  if (l.family == AF_BRIDGE) {
    Napi::Object p = Napi::Object::New(env);
    const nl::BridgePortInfo info = l.brport.value_or(nl::BridgePortInfo{});
    p.Set("protinfo", info.hasProtinfo);
    p.Set("state", Nullable(env, info.state));
    p.Set("learning", Nullable(env, info.learning));
    p.Set("unicastFlood", Nullable(env, info.unicastFlood));
    p.Set("isolated", Nullable(env, info.isolated));
    Napi::Array vlans = Napi::Array::New(env, l.vlans.size());
    for (size_t i = 0; i < l.vlans.size(); i++) {
      Napi::Object v = Napi::Object::New(env);
      v.Set("vid", double(l.vlans[i].vid));
      v.Set("flags", double(l.vlans[i].flags));
      v.Set("pvid", bool(l.vlans[i].flags & BRIDGE_VLAN_INFO_PVID));
      v.Set("untagged", bool(l.vlans[i].flags & BRIDGE_VLAN_INFO_UNTAGGED));
      vlans.Set(uint32_t(i), v);
    }
    p.Set("vlans", vlans);
    o.Set("bridgePort", p);
  } else {
    o.Set("bridgePort", env.Null());
  }
  return o;
}

Napi::Object QdiscToJs(Napi::Env env, const nl::Qdisc& q) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("index", q.index);
  o.Set("handle", double(q.handle));
  o.Set("parent", double(q.parent));
  o.Set("root", q.parent == 0xFFFFFFFFu);
  o.Set("kind", q.kind);
  return o;
}

Napi::Object AddrToJs(Napi::Env env, const nl::Addr& a) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("family", FamilyName(a.family));
  o.Set("index", a.index);
  o.Set("prefix", double(a.prefix));
  o.Set("flags", double(a.flags));
  o.Set("scope", double(a.scope));
  o.Set("address", IpOrNull(env, a.address));
  o.Set("local", IpOrNull(env, a.local));
  o.Set("broadcast", IpOrNull(env, a.broadcast));
  o.Set("label", a.label.empty() ? env.Null() : Napi::Value(Napi::String::New(env, a.label)));
  return o;
}

Napi::Object RouteToJs(Napi::Env env, const nl::Route& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("family", FamilyName(r.family));
  o.Set("dst", IpOrNull(env, r.dst));
  o.Set("dstLen", double(r.dstLen));
  o.Set("gateway", IpOrNull(env, r.gateway));
  o.Set("prefsrc", IpOrNull(env, r.prefsrc));
  o.Set("oif", Nullable(env, r.oif));
  o.Set("metric", Nullable(env, r.metric));
  o.Set("table", double(r.table));
  o.Set("protocol", double(r.protocol));
  o.Set("scope", double(r.scope));
  o.Set("type", double(r.type));
  return o;
}

Napi::Buffer<uint8_t> ToBuffer(Napi::Env env, const std::vector<uint8_t>& b) { return Napi::Buffer<uint8_t>::Copy(env, b.data(), b.size()); }

}  // namespace netfd::js
