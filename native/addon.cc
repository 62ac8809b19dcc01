// Node-API glue: argument checks (TypeError, never a crash), promises for
// everything that may block, and Node-style errors (code, errno, syscall,
// extack). No policy and no defaults beyond the kernel's live here.
#include <napi.h>

#include <arpa/inet.h>
#include <linux/if_tun.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <optional>

#include "accounts.h"
#include "bind/unixsock.h"
#include "addrs.h"
#include "common.h"
#include "ethtool.h"
#include "jserror.h"
#include "fdpass.h"
#include "jscall.h"
#include "poller.h"
#include "unixsock.h"
#include "kvm.h"
#include "links.h"
#include "macvtap.h"
#include "nlcodec.h"
#include "nlsock.h"
#include "qdisc.h"
#include "tun.h"
#include "vhost.h"

namespace netfd {

// ---- errors ---------------------------------------------------------------

Napi::Error MakeError(Napi::Env env, const SysError& e) {
  Napi::Error err = Napi::Error::New(env, e.message);
  Napi::Object o = err.Value();
  const char* name = e.err ? strerrorname_np(e.err) : nullptr;
  o.Set("code", e.code.empty() ? (name ? name : "EUNKNOWN") : e.code);
  if (e.err) o.Set("errno", -e.err);
  if (!e.syscall.empty()) o.Set("syscall", e.syscall);
  if (!e.extack.empty()) o.Set("extack", e.extack);
  if (e.extackOffset >= 0) o.Set("extackOffset", double(e.extackOffset));
  return err;
}

namespace {

// IFF_LOWER_UP lives in <linux/if.h>, which clashes with glibc's <net/if.h>.
constexpr unsigned kIffLowerUp = 1u << 16;

// ---- argument access --------------------------------------------------------

struct Args {
  Napi::Env env;
  const char* fn;
  Napi::Object obj;

  [[noreturn]] void Bad(const std::string& key, const char* want) const {
    throw Napi::TypeError::New(env, std::string(fn) + ": " + key + " must be " + want);
  }
  bool Has(const char* key) const {
    Napi::Value v = obj.Get(key);
    return !v.IsUndefined() && !v.IsNull();
  }
  std::string Str(const char* key, const std::string& def = "") const {
    if (!Has(key)) return def;
    Napi::Value v = obj.Get(key);
    if (!v.IsString()) Bad(key, "a string");
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.find('\0') != std::string::npos) Bad(key, "a string without NUL bytes");
    return s;
  }
  int64_t Int(const char* key, int64_t lo, int64_t hi, int64_t def) const {
    if (!Has(key)) return def;
    Napi::Value v = obj.Get(key);
    if (!v.IsNumber()) Bad(key, "a number");
    double d = v.As<Napi::Number>().DoubleValue();
    if (d != double(int64_t(d)) || d < double(lo) || d > double(hi))
      Bad(key, ("an integer from " + std::to_string(lo) + " to " + std::to_string(hi)).c_str());
    return int64_t(d);
  }
  bool Bool(const char* key, bool def) const {
    if (!Has(key)) return def;
    Napi::Value v = obj.Get(key);
    if (!v.IsBoolean()) Bad(key, "a boolean");
    return v.As<Napi::Boolean>().Value();
  }
  std::string Name(const char* key) const {
    std::string s = Str(key);
    if (s.size() >= IFNAMSIZ) Bad(key, "an interface name of at most 15 bytes");
    return s;
  }
  // A link given as {index} or {name} (or a bare number/string under `key`).
  LinkRef Link(const char* key, bool required) const {
    LinkRef r;
    Napi::Value v = obj.Get(key);
    if (v.IsNumber()) r.index = int32_t(Int(key, 1, INT32_MAX, 0));
    else if (v.IsString()) r.name = Name(key);
    else if (required || !(v.IsUndefined() || v.IsNull())) Bad(key, "an interface name or a positive ifindex");
    return r;
  }
};

Args GetArgs(const Napi::CallbackInfo& info, const char* fn) {
  if (info.Length() < 1 || !info[0].IsObject() || info[0].IsArray()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": expected an options object");
  return Args{info.Env(), fn, info[0].As<Napi::Object>()};
}

int FdArg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": fd must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= INT32_MAX) || d != double(int(d))) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": fd must be a non-negative integer");
  return int(d);
}

// ---- promises ---------------------------------------------------------------

// Runs `exec` on a libuv worker and settles a promise with `convert`'s value
// or the SysError thrown. R owns its fds until `convert` hands them to JS.
template <typename R>
class Job : public Napi::AsyncWorker {
 public:
  using Exec = std::function<R()>;
  using Convert = std::function<Napi::Value(Napi::Env, R&)>;
  static Napi::Value Start(Napi::Env env, Exec exec, Convert convert) {
    auto* job = new Job(env, std::move(exec), std::move(convert));
    Napi::Promise p = job->deferred_.Promise();
    job->Queue();
    return p;
  }

 protected:
  void Execute() override {
    try {
      result_.emplace(exec_());
    } catch (const SysError& e) {
      error_ = e;
    } catch (const std::exception& e) {
      SysError s;
      s.code = "ENATIVE";
      s.message = e.what();
      error_ = s;
    }
  }
  // Settling calls into JS, which fails once Node is stopping: CallIntoJs
  // keeps that failure from escaping (std::terminate); fds not yet handed to
  // JS are closed by their owner in result_.
  void OnOK() override {
    Napi::Env env = Env();
    CallIntoJs(env, [&] {
      Napi::HandleScope scope(env);
      if (error_) {
        deferred_.Reject(MakeError(env, *error_).Value());
        return;
      }
      try {
        deferred_.Resolve(convert_(env, *result_));
      } catch (const Napi::Error& e) {
        deferred_.Reject(e.Value());
      }
    });
  }

 private:
  Job(Napi::Env env, Exec exec, Convert convert)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), exec_(std::move(exec)), convert_(std::move(convert)) {}
  Napi::Promise::Deferred deferred_;
  Exec exec_;
  Convert convert_;
  std::optional<R> result_;
  std::optional<SysError> error_;
};

// ---- conversions ------------------------------------------------------------

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

const char* FamilyName(uint8_t family) { return family == AF_INET ? "inet" : family == AF_INET6 ? "inet6" : "other"; }

Napi::Value IpOrNull(Napi::Env env, const nl::Bytes& b) {
  if (b.empty()) return env.Null();
  std::string s = nl::FormatIp(b);
  return s.empty() ? env.Null() : Napi::Value(Napi::String::New(env, s));
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

template <typename T, typename F>
Napi::Array ArrayOf(Napi::Env env, const std::vector<T>& items, F&& convert) {
  Napi::Array arr = Napi::Array::New(env, items.size());
  for (size_t i = 0; i < items.size(); i++) arr.Set(uint32_t(i), convert(env, items[i]));
  return arr;
}

Napi::Buffer<uint8_t> ToBuffer(Napi::Env env, const std::vector<uint8_t>& b) { return Napi::Buffer<uint8_t>::Copy(env, b.data(), b.size()); }

std::vector<uint8_t> BufferArg(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsBuffer()) throw Napi::TypeError::New(env, std::string(what) + " must be a Buffer");
  auto b = v.As<Napi::Buffer<uint8_t>>();
  return std::vector<uint8_t>(b.Data(), b.Data() + b.Length());
}

// ---- links ------------------------------------------------------------------

Napi::Value LinkCreate(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "linkCreate");
  MacvlanCreate req;
  req.netns = a.Str("netns");
  req.kind = a.Str("kind");
  if (req.kind != "macvtap" && req.kind != "macvlan") a.Bad("kind", "'macvtap' or 'macvlan'");
  req.parent = a.Link("parent", true);
  req.mode = uint32_t(a.Int("mode", 1, UINT32_MAX, 0));
  if (!a.Has("mode")) a.Bad("mode", "a MACVLAN_MODE_* number");
  req.name = a.Name("name");
  req.mac = a.Str("mac");
  nl::Bytes mac;
  if (!req.mac.empty() && !nl::ParseMac(req.mac, &mac)) a.Bad("mac", "a MAC address aa:bb:cc:dd:ee:ff");
  req.group = a.Int("group", 1, UINT32_MAX, -1);
  return Job<nl::Link>::Start(info.Env(), [req] { return CreateMacvlan(req); }, LinkToJs);
}

Napi::Value SysfsRead(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "sysfsRead");
  std::string netns = a.Str("netns");
  std::string rel = a.Str("path");
  if (rel.empty() || rel[0] == '/' || rel.find("..") != std::string::npos) a.Bad("path", "a path below /sys without '..', such as class/net/br0/address");
  return Job<std::string>::Start(info.Env(), [netns, rel] { return ReadSysfs(netns, rel); },
                                 [](Napi::Env env, std::string& s) { return Napi::String::New(env, s); });
}

Napi::Value LinkDeleteGroup(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "linkDeleteGroup");
  std::string netns = a.Str("netns");
  if (!a.Has("group")) a.Bad("group", "a link group from 1 to 4294967295");
  uint32_t group = uint32_t(a.Int("group", 1, UINT32_MAX, 0));
  return Job<bool>::Start(info.Env(), [netns, group] { return DeleteGroup(netns, group); },
                          [](Napi::Env env, bool& found) { return Napi::Boolean::New(env, found); });
}

Napi::Value LinkDelete(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "linkDelete");
  std::string netns = a.Str("netns");
  LinkRef link = a.Link("link", true);
  return Job<bool>::Start(info.Env(), [netns, link] { DeleteLink(netns, link); return true; },
                          [](Napi::Env env, bool&) { return env.Undefined(); });
}

Napi::Value LinkDeleteMany(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "linkDeleteMany");
  std::string netns = a.Str("netns");
  Napi::Value v = a.obj.Get("indexes");
  if (!v.IsArray()) a.Bad("indexes", "an array of ifindexes");
  Napi::Array arr = v.As<Napi::Array>();
  std::vector<int32_t> indexes;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value e = arr.Get(i);
    if (!e.IsNumber()) a.Bad("indexes", "an array of positive ifindexes");
    double d = e.As<Napi::Number>().DoubleValue();
    if (d != double(int32_t(d)) || d < 1) a.Bad("indexes", "an array of positive ifindexes");
    indexes.push_back(int32_t(d));
  }
  return Job<DeleteManyResult>::Start(info.Env(), [netns, indexes] { return DeleteLinks(netns, indexes); },
                                      [](Napi::Env env, DeleteManyResult& r) {
                                        Napi::Object o = Napi::Object::New(env);
                                        o.Set("deleted", double(r.deleted));
                                        o.Set("grouped", r.grouped);
                                        return o;
                                      });
}

Napi::Value LinkSet(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "linkSet");
  LinkChange req;
  req.netns = a.Str("netns");
  req.link = a.Link("link", true);
  if (a.Has("up")) req.up = a.Bool("up", false) ? 1 : 0;
  req.mac = a.Str("mac");
  nl::Bytes mac;
  if (!req.mac.empty() && !nl::ParseMac(req.mac, &mac)) a.Bad("mac", "a MAC address aa:bb:cc:dd:ee:ff");
  Napi::Value m = a.obj.Get("master");
  if (!m.IsUndefined()) {
    req.setMaster = true;
    if (m.IsNull() || (m.IsNumber() && m.As<Napi::Number>().DoubleValue() == 0)) req.master = LinkRef{};
    else req.master = a.Link("master", true);
  }
  req.group = a.Int("group", 1, UINT32_MAX, -1);
  req.mtu = a.Int("mtu", 0, UINT32_MAX, -1);
  return Job<bool>::Start(info.Env(), [req] { ChangeLink(req); return true; },
                          [](Napi::Env env, bool&) { return env.Undefined(); });
}

// ---- bridge ports, qdiscs, coalescing, addresses, routes ---------------------

Napi::Value Done(Napi::Env env, bool&) { return env.Undefined(); }

Napi::Value BridgePortSet(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "bridgePortSet");
  BridgePortChange req;
  req.netns = a.Str("netns");
  req.link = a.Link("link", true);
  if (a.Has("isolated")) req.isolated = a.Bool("isolated", false) ? 1 : 0;
  return Job<bool>::Start(info.Env(), [req] { ChangeBridgePort(req); return true; }, Done);
}

Napi::Value BridgePortList(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "bridgePortList");
  std::string netns = a.Str("netns");
  return Job<std::vector<nl::Link>>::Start(info.Env(), [netns] { return ListBridgePorts(netns); },
                                           [](Napi::Env env, std::vector<nl::Link>& l) { return ArrayOf(env, l, LinkToJs); });
}

BridgeVlanRequest VlanArgs(const Args& a, bool add) {
  BridgeVlanRequest req;
  req.add = add;
  req.netns = a.Str("netns");
  req.link = a.Link("link", true);
  if (!a.Has("vid")) a.Bad("vid", "a VLAN id");
  // 0 and 4095 fit the field; the kernel judges them (with extack text).
  req.vid = uint16_t(a.Int("vid", 0, 4095, 0));
  if (add) {
    if (a.Bool("pvid", false)) req.flags |= BRIDGE_VLAN_INFO_PVID;
    if (a.Bool("untagged", false)) req.flags |= BRIDGE_VLAN_INFO_UNTAGGED;
  }
  return req;
}

Napi::Value BridgeVlanAdd(const Napi::CallbackInfo& info) {
  BridgeVlanRequest req = VlanArgs(GetArgs(info, "bridgeVlanAdd"), true);
  return Job<bool>::Start(info.Env(), [req] { ChangeBridgeVlan(req); return true; }, Done);
}

Napi::Value BridgeVlanDel(const Napi::CallbackInfo& info) {
  BridgeVlanRequest req = VlanArgs(GetArgs(info, "bridgeVlanDel"), false);
  return Job<bool>::Start(info.Env(), [req] { ChangeBridgeVlan(req); return true; }, Done);
}

Napi::Value QdiscReplaceRoot(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "qdiscReplaceRoot");
  std::string netns = a.Str("netns");
  LinkRef link = a.Link("link", true);
  std::string kind = a.Str("kind");
  if (kind.empty() || kind.size() > 15) a.Bad("kind", "a qdisc kind such as 'noqueue'");
  return Job<bool>::Start(info.Env(), [netns, link, kind] { ReplaceRootQdisc(netns, link, kind); return true; }, Done);
}

Napi::Value QdiscList(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "qdiscList");
  std::string netns = a.Str("netns");
  return Job<std::vector<nl::Qdisc>>::Start(info.Env(), [netns] { return ListQdiscs(netns); },
                                            [](Napi::Env env, std::vector<nl::Qdisc>& q) { return ArrayOf(env, q, QdiscToJs); });
}

Napi::Value CoalesceToJs(Napi::Env env, CoalesceInfo& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("rxMaxFrames", double(c.rxMaxFrames));
  return o;
}

Napi::Value CoalesceGetJs(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "coalesceGet");
  std::string netns = a.Str("netns");
  LinkRef link = a.Link("link", true);
  return Job<CoalesceInfo>::Start(info.Env(), [netns, link] { return GetCoalesce(netns, link); }, CoalesceToJs);
}

Napi::Value CoalesceSetJs(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "coalesceSet");
  CoalesceChange req;
  req.netns = a.Str("netns");
  req.link = a.Link("link", true);
  req.rxMaxFrames = a.Int("rxMaxFrames", 0, UINT32_MAX, -1);
  return Job<CoalesceInfo>::Start(info.Env(), [req] { return SetCoalesce(req); }, CoalesceToJs);
}

// An IP address argument; `family` (when non-zero) is the one it must have.
std::string IpArg(const Args& a, const char* key, bool required, int family) {
  if (!a.Has(key)) {
    if (required) a.Bad(key, "an IPv4 or IPv6 address");
    return "";
  }
  std::string s = a.Str(key);
  nl::Bytes b;
  int f = nl::ParseIp(s, &b);
  if (!f) a.Bad(key, "an IPv4 or IPv6 address");
  if (family && f != family) a.Bad(key, "an address of the same family as address");
  return s;
}

int FamilyOf(const std::string& ip) {
  nl::Bytes b;
  return nl::ParseIp(ip, &b);
}

uint8_t PrefixArg(const Args& a, int family) {
  if (!a.Has("prefix")) a.Bad("prefix", "a prefix length");
  return uint8_t(a.Int("prefix", 0, family == AF_INET ? 32 : 128, 0));
}

uint8_t FamilyArg(const Args& a) {
  std::string f = a.Str("family");
  if (f.empty()) return AF_UNSPEC;
  if (f == "inet") return AF_INET;
  if (f == "inet6") return AF_INET6;
  a.Bad("family", "'inet' or 'inet6'");
}

Napi::Value AddrAddJs(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "addrAdd");
  AddressAdd req;
  req.netns = a.Str("netns");
  req.link = a.Link("link", true);
  req.address = IpArg(a, "address", true, 0);
  int family = FamilyOf(req.address);
  req.prefix = PrefixArg(a, family);
  req.peer = IpArg(a, "peer", false, family);
  req.broadcast = IpArg(a, "broadcast", false, family);
  return Job<bool>::Start(info.Env(), [req] { AddAddress(req); return true; }, Done);
}

Napi::Value AddrListJs(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "addrList");
  std::string netns = a.Str("netns");
  uint8_t family = FamilyArg(a);
  return Job<std::vector<nl::Addr>>::Start(info.Env(), [netns, family] { return ListAddresses(netns, family); },
                                           [](Napi::Env env, std::vector<nl::Addr>& v) { return ArrayOf(env, v, AddrToJs); });
}

Napi::Value RouteAddJs(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "routeAdd");
  RouteAdd req;
  req.netns = a.Str("netns");
  req.link = a.Link("link", true);
  req.address = IpArg(a, "address", true, 0);
  int family = FamilyOf(req.address);
  req.prefix = PrefixArg(a, family);
  req.gateway = IpArg(a, "gateway", false, family);
  req.metric = a.Int("metric", 0, UINT32_MAX, -1);
  if (!a.Has("protocol")) a.Bad("protocol", "an RTPROT_* number");
  req.protocol = uint8_t(a.Int("protocol", 0, 255, 0));
  return Job<bool>::Start(info.Env(), [req] { AddRoute(req); return true; }, Done);
}

Napi::Value RouteListJs(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "routeList");
  std::string netns = a.Str("netns");
  uint8_t family = FamilyArg(a);
  return Job<std::vector<nl::Route>>::Start(info.Env(), [netns, family] { return ListRoutes(netns, family); },
                                            [](Napi::Env env, std::vector<nl::Route>& v) { return ArrayOf(env, v, RouteToJs); });
}

Napi::Value LinkGet(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "linkGet");
  std::string netns = a.Str("netns");
  LinkRef link = a.Link("link", true);
  return Job<nl::Link>::Start(info.Env(), [netns, link] { return GetLink(netns, link); }, LinkToJs);
}

Napi::Value LinkList(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "linkList");
  std::string netns = a.Str("netns");
  return Job<std::vector<nl::Link>>::Start(info.Env(), [netns] { return ListLinks(netns); },
                                           [](Napi::Env env, std::vector<nl::Link>& links) {
                                             Napi::Array arr = Napi::Array::New(env, links.size());
                                             for (size_t i = 0; i < links.size(); i++) arr.Set(uint32_t(i), LinkToJs(env, links[i]));
                                             return arr;
                                           });
}

// ---- tun / macvtap / vhost --------------------------------------------------

Napi::Value TunFeaturesJs(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "tunFeatures");
  std::string netns = a.Str("netns");
  std::string device = a.Str("device", "/dev/net/tun");
  return Job<uint32_t>::Start(info.Env(), [netns, device] { return TunFeatures(netns, device); },
                              [](Napi::Env env, uint32_t& f) { return Napi::Number::New(env, f); });
}

Napi::Value TapCreateJs(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "tapCreate");
  TapCreate req;
  req.netns = a.Str("netns");
  req.device = a.Str("device", "/dev/net/tun");
  req.name = a.Name("name");
  req.vnetHdr = a.Bool("vnetHdr", true);
  req.queues = uint32_t(a.Int("queues", 1, 256, 1));
  req.multiQueue = a.Bool("multiQueue", req.queues > 1);
  if (req.queues > 1 && !req.multiQueue) throw Napi::TypeError::New(info.Env(), "tapCreate: multiQueue must be true when queues > 1");
  req.exclusive = a.Bool("exclusive", false);
  req.persist = a.Bool("persist", false);
  req.owner = a.Int("owner", 0, UINT32_MAX - 1, -1);
  req.group = a.Int("group", 0, UINT32_MAX - 1, -1);
  return Job<TapResult>::Start(info.Env(), [req] { return CreateTap(req); }, [](Napi::Env env, TapResult& r) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", r.name);
    o.Set("ifindex", r.ifindex);
    o.Set("features", double(r.features));
    o.Set("fds", FdArray(env, r.fds));
    return o;
  });
}

Napi::Value MacvtapOpenJs(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "macvtapOpen");
  MacvtapOpen req;
  req.netns = a.Str("netns");
  req.link = a.Link("link", true);
  req.queues = uint32_t(a.Int("queues", 1, 256, 1));
  req.vnetHdr = a.Bool("vnetHdr", true);
  req.devDir = a.Str("devDir", "/dev");
  return Job<MacvtapResult>::Start(info.Env(), [req] { return OpenMacvtap(req); }, [](Napi::Env env, MacvtapResult& r) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", r.name);
    o.Set("ifindex", r.ifindex);
    o.Set("major", double(r.major));
    o.Set("minor", double(r.minor));
    o.Set("node", r.node.empty() ? env.Null() : Napi::Value(Napi::String::New(env, r.node)));
    o.Set("privateNode", r.privateNode);
    o.Set("fds", FdArray(env, r.fds));
    return o;
  });
}

Napi::Value VhostOpenJs(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "vhostOpen");
  std::string path = a.Str("path");
  if (path.empty()) a.Bad("path", "a device path");
  uint32_t count = uint32_t(a.Int("count", 1, 256, 1));
  return Job<VhostResult>::Start(info.Env(), [path, count] { return OpenVhost(path, count); }, [](Napi::Env env, VhostResult& r) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("fds", FdArray(env, r.fds));
    o.Set("features", r.hasFeatures ? Napi::Value(Napi::BigInt::New(env, r.features)) : env.Null());
    return o;
  });
}

Napi::Value KvmApiVersionJs(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "kvmApiVersion");
  std::string path = a.Str("path", "/dev/kvm");
  if (path.empty()) a.Bad("path", "a device path");
  return Job<int>::Start(info.Env(), [path] { return KvmApiVersion(path); }, [](Napi::Env env, int& v) { return Napi::Number::New(env, v); });
}

// ---- fd passing -------------------------------------------------------------

int TimeoutArg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (info.Length() <= i || info[i].IsUndefined()) return -1;
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": timeoutMs must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d < -1 || d > INT32_MAX || d != double(int(d))) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": timeoutMs must be an integer >= -1");
  return int(d);
}

Napi::Value FdSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = FdArg(info, 0, "fdSend");
  if (info.Length() < 2) throw Napi::TypeError::New(env, "fdSend: data must be a Buffer");
  std::vector<uint8_t> data = BufferArg(env, info[1], "fdSend: data");
  std::vector<int> fds;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    if (!info[2].IsArray()) throw Napi::TypeError::New(env, "fdSend: fds must be an array of fds");
    Napi::Array arr = info[2].As<Napi::Array>();
    if (arr.Length() > 253) throw Napi::TypeError::New(env, "fdSend: at most 253 fds fit in one message");
    for (uint32_t i = 0; i < arr.Length(); i++) {
      Napi::Value e = arr.Get(i);
      if (!e.IsNumber() || e.As<Napi::Number>().DoubleValue() < 0 || e.As<Napi::Number>().DoubleValue() != double(e.As<Napi::Number>().Int32Value()))
        throw Napi::TypeError::New(env, "fdSend: fds must be an array of non-negative integers");
      fds.push_back(e.As<Napi::Number>().Int32Value());
    }
  }
  int timeout = TimeoutArg(info, 3, "fdSend");
  return Job<size_t>::Start(env, [sock, data, fds, timeout] { return SendFds(sock, data, fds, timeout); },
                            [](Napi::Env env, size_t& n) { return Napi::Number::New(env, double(n)); });
}

Napi::Value FdRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = FdArg(info, 0, "fdRecv");
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber()) throw Napi::TypeError::New(env, "fdRecv: maxBytes and maxFds must be numbers");
  double maxBytes = info[1].As<Napi::Number>().DoubleValue();
  double maxFds = info[2].As<Napi::Number>().DoubleValue();
  if (maxBytes < 1 || maxBytes > (1 << 24) || maxBytes != double(int(maxBytes))) throw Napi::TypeError::New(env, "fdRecv: maxBytes must be an integer from 1 to 16777216");
  if (maxFds < 0 || maxFds > 253 || maxFds != double(int(maxFds))) throw Napi::TypeError::New(env, "fdRecv: maxFds must be an integer from 0 to 253");
  int timeout = TimeoutArg(info, 3, "fdRecv");
  size_t mb = size_t(maxBytes), mf = size_t(maxFds);
  return Job<Received>::Start(env, [sock, mb, mf, timeout] { return RecvFds(sock, mb, mf, timeout); }, [](Napi::Env env, Received& r) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("data", ToBuffer(env, r.data));
    o.Set("fds", FdArray(env, r.fds));
    return o;
  });
}

Napi::Value PeerCredJs(const Napi::CallbackInfo& info) {
  int sock = FdArg(info, 0, "peerCred");
  PeerCred c = Sync(info.Env(), [&] { return GetPeerCred(sock); });
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("pid", c.pid);
  o.Set("uid", c.uid);
  o.Set("gid", c.gid);
  return o;
}

Napi::Value SocketPairJs(const Napi::CallbackInfo& info) {
  bool seqpacket = true;
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "socketPair: type must be 'seqpacket' or 'stream'");
    std::string t = info[0].As<Napi::String>().Utf8Value();
    if (t != "seqpacket" && t != "stream") throw Napi::TypeError::New(info.Env(), "socketPair: type must be 'seqpacket' or 'stream'");
    seqpacket = t == "seqpacket";
  }
  auto pair = Sync(info.Env(), [&] { return MakeSocketPair(seqpacket); });
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, pair.first.release());
  a.Set(1u, pair.second.release());
  return a;
}

Napi::Value CloseJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0, "close");
  if (::close(fd) < 0) {
    SysError e;
    e.err = errno;
    e.syscall = "close";
    e.message = "close fd " + std::to_string(fd) + ": " + std::strerror(errno);
    throw MakeError(info.Env(), e);
  }
  return info.Env().Undefined();
}

// Sets FD_CLOEXEC on every fd >= `from` (close_range(CLOSE_RANGE_CLOEXEC),
// else fcntl over /proc/self/fd), so that a child gets only the fds handed to
// it explicitly, even fds this process inherited without the flag.
Napi::Value CloexecFromJs(const Napi::CallbackInfo& info) {
  int from = FdArg(info, 0, "cloexecFrom");
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, unsigned(from), ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) == 0) return info.Env().Undefined();
#endif
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) {
    SysError e;
    e.err = errno;
    e.syscall = "opendir";
    e.message = std::string("opendir /proc/self/fd: ") + std::strerror(errno);
    throw MakeError(info.Env(), e);
  }
  const int self = ::dirfd(d);
  while (dirent* ent = ::readdir(d)) {
    const int fd = std::atoi(ent->d_name);
    if (fd < from || fd == self || ent->d_name[0] == '.') continue;
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
  ::closedir(d);
  return info.Env().Undefined();
}

// ---- the codec, for tests and tools -----------------------------------------

Napi::Value NlEncode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "nlEncode: op must be a string");
  std::string op = info[0].As<Napi::String>().Utf8Value();
  Napi::Object empty = Napi::Object::New(env);
  Args a{env, "nlEncode", info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : empty};
  uint32_t seq = uint32_t(a.Int("seq", 0, UINT32_MAX, 1));
  LinkRef ref = a.Link("link", false);
  if (op == "newlink-macvlan") {
    nl::NewLinkMacvlan m;
    m.kind = a.Str("kind", "macvtap");
    m.parent = uint32_t(a.Int("parent", 1, INT32_MAX, 1));
    m.mode = uint32_t(a.Int("mode", 0, UINT32_MAX, MACVLAN_MODE_VEPA));
    m.name = a.Name("name");
    std::string mac = a.Str("mac");
    if (!mac.empty() && !nl::ParseMac(mac, &m.mac)) a.Bad("mac", "a MAC address");
    return ToBuffer(env, nl::EncodeNewLinkMacvlan(m, seq));
  }
  if (op == "getlink") return ToBuffer(env, nl::EncodeGetLink(ref.index, ref.name, seq));
  if (op == "dumplinks") return ToBuffer(env, nl::EncodeDumpLinks(seq));
  if (op == "dellink") return ToBuffer(env, nl::EncodeDelLink(ref.index, ref.name, seq));
  if (op == "delgroup") return ToBuffer(env, nl::EncodeDelGroup(uint32_t(a.Int("group", 0, UINT32_MAX, 0)), seq));
  if (op == "setlink") {
    nl::SetLink s;
    s.index = ref.index;
    s.name = ref.name;
    if (a.Has("up")) s.up = a.Bool("up", false);
    std::string mac = a.Str("mac");
    if (!mac.empty() && !nl::ParseMac(mac, &s.mac)) a.Bad("mac", "a MAC address");
    s.master = a.Int("master", -1, INT32_MAX, -1);
    s.group = a.Int("group", -1, UINT32_MAX, -1);
    s.mtu = a.Int("mtu", -1, UINT32_MAX, -1);
    return ToBuffer(env, nl::EncodeSetLink(s, seq));
  }
  if (op == "setbridgeport") {
    nl::SetBridgePort p;
    p.index = ref.index;
    if (a.Has("isolated")) p.isolated = a.Bool("isolated", false) ? 1 : 0;
    return ToBuffer(env, nl::EncodeSetBridgePort(p, seq));
  }
  if (op == "bridgevlan-add" || op == "bridgevlan-del") {
    nl::BridgeVlanChange v;
    v.index = ref.index;
    v.vid = uint16_t(a.Int("vid", 0, 4095, 1));
    if (a.Bool("pvid", false)) v.flags |= BRIDGE_VLAN_INFO_PVID;
    if (a.Bool("untagged", false)) v.flags |= BRIDGE_VLAN_INFO_UNTAGGED;
    return ToBuffer(env, nl::EncodeBridgeVlan(op == "bridgevlan-add", v, seq));
  }
  if (op == "dumpbridgeports") return ToBuffer(env, nl::EncodeDumpBridgePorts(seq));
  if (op == "replace-root-qdisc") return ToBuffer(env, nl::EncodeReplaceRootQdisc(ref.index, a.Str("kind", "noqueue"), seq));
  if (op == "dumpqdiscs") return ToBuffer(env, nl::EncodeDumpQdiscs(seq));
  if (op == "newaddr") {
    nl::NewAddr m;
    m.index = ref.index;
    m.family = uint8_t(nl::ParseIp(IpArg(a, "address", true, 0), &m.local));
    m.prefix = PrefixArg(a, m.family);
    if (a.Has("peer")) nl::ParseIp(IpArg(a, "peer", false, m.family), &m.peer);
    if (a.Has("broadcast")) nl::ParseIp(IpArg(a, "broadcast", false, m.family), &m.broadcast);
    return ToBuffer(env, nl::EncodeNewAddr(m, seq));
  }
  if (op == "dumpaddrs") return ToBuffer(env, nl::EncodeDumpAddrs(FamilyArg(a), seq));
  if (op == "newroute") {
    nl::NewRoute r;
    r.oif = ref.index;
    r.family = uint8_t(nl::ParseIp(IpArg(a, "address", true, 0), &r.dst));
    r.prefix = PrefixArg(a, r.family);
    if (a.Has("gateway")) nl::ParseIp(IpArg(a, "gateway", false, r.family), &r.gateway);
    r.metric = a.Int("metric", -1, UINT32_MAX, -1);
    r.protocol = uint8_t(a.Int("protocol", 0, 255, RTPROT_BOOT));
    r.scope = uint8_t(a.Int("scope", 0, 255, r.gateway.empty() ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE));
    return ToBuffer(env, nl::EncodeNewRoute(r, seq));
  }
  if (op == "dumproutes") return ToBuffer(env, nl::EncodeDumpRoutes(FamilyArg(a), seq));
  throw Napi::TypeError::New(env, "nlEncode: unknown op " + op);
}

Napi::Value NlDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1) throw Napi::TypeError::New(env, "nlDecode: data must be a Buffer");
  std::vector<uint8_t> data = BufferArg(env, info[0], "nlDecode: data");
  auto msgs = Sync(env, [&] { return nl::Decode(data.data(), data.size()); });
  Napi::Array arr = Napi::Array::New(env, msgs.size());
  for (size_t i = 0; i < msgs.size(); i++) {
    auto& m = msgs[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", m.type);
    o.Set("flags", m.flags);
    o.Set("seq", double(m.seq));
    o.Set("pid", double(m.pid));
    o.Set("kind", m.isError ? (m.error ? "error" : "ack") : m.isDone ? "done" : m.link ? "link" : m.qdisc ? "qdisc" : m.addr ? "addr" : m.route ? "route" : "other");
    if (m.isError || m.isDone) {
      o.Set("error", m.error);
      const char* name = m.error ? strerrorname_np(m.error) : nullptr;
      o.Set("code", name ? Napi::Value(Napi::String::New(env, name)) : env.Null());
    }
    if (!m.extack.empty()) o.Set("extack", m.extack);
    if (m.extackOffset >= 0) o.Set("extackOffset", double(m.extackOffset));
    if (m.link) o.Set("link", LinkToJs(env, *m.link));
    if (m.qdisc) o.Set("qdisc", QdiscToJs(env, *m.qdisc));
    if (m.addr) o.Set("addr", AddrToJs(env, *m.addr));
    if (m.route) o.Set("route", RouteToJs(env, *m.route));
    arr.Set(uint32_t(i), o);
  }
  return arr;
}

// Sends one raw request and returns the raw reply messages (fixture capture).
Napi::Value NlRequest(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "nlRequest");
  std::string netns = a.Str("netns");
  std::vector<uint8_t> req = BufferArg(info.Env(), a.obj.Get("request"), "nlRequest: request");
  if (req.size() < 16) a.Bad("request", "a netlink message of at least 16 bytes");
  struct Raw {
    std::vector<std::vector<uint8_t>> msgs;
  };
  return Job<Raw>::Start(info.Env(), [netns, req] {
        nl::Socket sock(netns);
        Raw r;
        for (auto& m : sock.Transact(req, "raw request")) r.msgs.push_back(m.raw);
        return r;
      }, [](Napi::Env env, Raw& r) {
        Napi::Array arr = Napi::Array::New(env, r.msgs.size());
        for (size_t i = 0; i < r.msgs.size(); i++) arr.Set(uint32_t(i), ToBuffer(env, r.msgs[i]));
        return arr;
      });
}

// ---- agent sockets ------------------------------------------------------------

std::string PathArg(const Napi::CallbackInfo& info, const char* fn) {
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": path must be a string");
  std::string s = info[0].As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": path must not hold NUL bytes");
  return s;
}

std::vector<int> FdListArg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  std::vector<int> fds;
  if (info.Length() <= i || info[i].IsUndefined()) return fds;
  if (!info[i].IsArray()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": fds must be an array of fds");
  Napi::Array arr = info[i].As<Napi::Array>();
  if (arr.Length() > 253) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": at most 253 fds fit in one message");
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value e = arr.Get(k);
    double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
    if (d < 0 || d > INT32_MAX || d != double(int(d))) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": fds must be an array of non-negative integers");
    fds.push_back(int(d));
  }
  return fds;
}

Napi::Value UnixListenJs(const Napi::CallbackInfo& info) {
  std::string path = PathArg(info, "unixListen");
  int backlog = 128;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsNumber()) throw Napi::TypeError::New(info.Env(), "unixListen: backlog must be a number");
    double d = info[1].As<Napi::Number>().DoubleValue();
    if (d < 1 || d > 65535 || d != double(int(d))) throw Napi::TypeError::New(info.Env(), "unixListen: backlog must be an integer from 1 to 65535");
    backlog = int(d);
  }
  Fd s = Sync(info.Env(), [&] { return UnixListen(path, backlog); });
  return Napi::Number::New(info.Env(), s.release());
}

Napi::Value UnixConnectJs(const Napi::CallbackInfo& info) {
  std::string path = PathArg(info, "unixConnect");
  return Job<Fd>::Start(info.Env(), [path] { return UnixConnect(path); }, [](Napi::Env env, Fd& fd) { return Napi::Number::New(env, fd.release()); });
}

Napi::Value AcceptNowJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0, "acceptNow");
  Fd c = Sync(info.Env(), [&] { return AcceptNow(fd); });
  return Napi::Number::New(info.Env(), c ? c.release() : -1);
}

Napi::Value RecvNowJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0, "recvNow");
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber()) throw Napi::TypeError::New(env, "recvNow: maxBytes and maxFds must be numbers");
  double maxBytes = info[1].As<Napi::Number>().DoubleValue();
  double maxFds = info[2].As<Napi::Number>().DoubleValue();
  if (maxBytes < 1 || maxBytes > (1 << 24) || maxBytes != double(int(maxBytes))) throw Napi::TypeError::New(env, "recvNow: maxBytes must be an integer from 1 to 16777216");
  if (maxFds < 0 || maxFds > 253 || maxFds != double(int(maxFds))) throw Napi::TypeError::New(env, "recvNow: maxFds must be an integer from 0 to 253");
  Message m;
  bool got = Sync(env, [&] { return RecvNow(fd, size_t(maxBytes), size_t(maxFds), m); });
  if (!got) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("data", ToBuffer(env, m.data));
  o.Set("fds", FdArray(env, m.fds));
  o.Set("size", double(m.size));
  o.Set("truncated", m.truncated);
  o.Set("ctrunc", m.ctrunc);
  o.Set("eof", m.eof);
  return o;
}

Napi::Value SendNowJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0, "sendNow");
  if (info.Length() < 2) throw Napi::TypeError::New(env, "sendNow: data must be a Buffer");
  std::vector<uint8_t> data = BufferArg(env, info[1], "sendNow: data");
  std::vector<int> fds = FdListArg(info, 2, "sendNow");
  long n = Sync(env, [&] { return SendNow(fd, data, fds); });
  return Napi::Number::New(env, double(n));
}

Napi::Value SocketInfoJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0, "socketInfo");
  SocketInfo s = Sync(info.Env(), [&] { return GetSocketInfo(fd); });
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("family", s.family);
  o.Set("type", s.type);
  o.Set("listening", s.listening);
  return o;
}

Napi::Value SetNonblockJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0, "setNonblock");
  Sync(info.Env(), [&] { SetNonblock(fd); });
  return info.Env().Undefined();
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  Napi::Object modes = Napi::Object::New(env);
  modes.Set("private", double(MACVLAN_MODE_PRIVATE));
  modes.Set("vepa", double(MACVLAN_MODE_VEPA));
  modes.Set("bridge", double(MACVLAN_MODE_BRIDGE));
  modes.Set("passthru", double(MACVLAN_MODE_PASSTHRU));
  modes.Set("source", double(MACVLAN_MODE_SOURCE));
  c.Set("macvlanModes", modes);
  Napi::Object tun = Napi::Object::New(env);
  tun.Set("IFF_TUN", double(IFF_TUN));
  tun.Set("IFF_TAP", double(IFF_TAP));
  tun.Set("IFF_NO_PI", double(IFF_NO_PI));
  tun.Set("IFF_VNET_HDR", double(IFF_VNET_HDR));
  tun.Set("IFF_MULTI_QUEUE", double(IFF_MULTI_QUEUE));
  tun.Set("IFF_NAPI", double(IFF_NAPI));
  c.Set("tunFeatures", tun);
  c.Set("vnetHdrSize", kVnetHdrSize);
  Napi::Object protos = Napi::Object::New(env);
  protos.Set("kernel", double(RTPROT_KERNEL));
  protos.Set("boot", double(RTPROT_BOOT));
  protos.Set("static", double(RTPROT_STATIC));
  c.Set("routeProtocols", protos);
  Napi::Object scopes = Napi::Object::New(env);
  scopes.Set("universe", double(RT_SCOPE_UNIVERSE));
  scopes.Set("link", double(RT_SCOPE_LINK));
  scopes.Set("host", double(RT_SCOPE_HOST));
  c.Set("routeScopes", scopes);
  c.Set("rtTableMain", double(RT_TABLE_MAIN));
  c.Set("rtnUnicast", double(RTN_UNICAST));
  Napi::Object stp = Napi::Object::New(env);
  stp.Set("disabled", double(BR_STATE_DISABLED));
  stp.Set("listening", double(BR_STATE_LISTENING));
  stp.Set("learning", double(BR_STATE_LEARNING));
  stp.Set("forwarding", double(BR_STATE_FORWARDING));
  stp.Set("blocking", double(BR_STATE_BLOCKING));
  c.Set("bridgePortStates", stp);
  c.Set("ifNameSize", IFNAMSIZ);
  return c;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("linkCreate", Napi::Function::New(env, LinkCreate, "linkCreate"));
  exports.Set("linkDeleteGroup", Napi::Function::New(env, LinkDeleteGroup, "linkDeleteGroup"));
  exports.Set("sysfsRead", Napi::Function::New(env, SysfsRead, "sysfsRead"));
  exports.Set("linkDelete", Napi::Function::New(env, LinkDelete, "linkDelete"));
  exports.Set("linkDeleteMany", Napi::Function::New(env, LinkDeleteMany, "linkDeleteMany"));
  exports.Set("linkSet", Napi::Function::New(env, LinkSet, "linkSet"));
  exports.Set("linkGet", Napi::Function::New(env, LinkGet, "linkGet"));
  exports.Set("linkList", Napi::Function::New(env, LinkList, "linkList"));
  exports.Set("bridgePortSet", Napi::Function::New(env, BridgePortSet, "bridgePortSet"));
  exports.Set("bridgePortList", Napi::Function::New(env, BridgePortList, "bridgePortList"));
  exports.Set("bridgeVlanAdd", Napi::Function::New(env, BridgeVlanAdd, "bridgeVlanAdd"));
  exports.Set("bridgeVlanDel", Napi::Function::New(env, BridgeVlanDel, "bridgeVlanDel"));
  exports.Set("qdiscReplaceRoot", Napi::Function::New(env, QdiscReplaceRoot, "qdiscReplaceRoot"));
  exports.Set("qdiscList", Napi::Function::New(env, QdiscList, "qdiscList"));
  exports.Set("coalesceGet", Napi::Function::New(env, CoalesceGetJs, "coalesceGet"));
  exports.Set("coalesceSet", Napi::Function::New(env, CoalesceSetJs, "coalesceSet"));
  exports.Set("addrAdd", Napi::Function::New(env, AddrAddJs, "addrAdd"));
  exports.Set("addrList", Napi::Function::New(env, AddrListJs, "addrList"));
  exports.Set("routeAdd", Napi::Function::New(env, RouteAddJs, "routeAdd"));
  exports.Set("routeList", Napi::Function::New(env, RouteListJs, "routeList"));
  exports.Set("tunFeatures", Napi::Function::New(env, TunFeaturesJs, "tunFeatures"));
  exports.Set("tapCreate", Napi::Function::New(env, TapCreateJs, "tapCreate"));
  exports.Set("macvtapOpen", Napi::Function::New(env, MacvtapOpenJs, "macvtapOpen"));
  exports.Set("vhostOpen", Napi::Function::New(env, VhostOpenJs, "vhostOpen"));
  exports.Set("kvmApiVersion", Napi::Function::New(env, KvmApiVersionJs, "kvmApiVersion"));
  exports.Set("fdSend", Napi::Function::New(env, FdSend, "fdSend"));
  exports.Set("fdRecv", Napi::Function::New(env, FdRecv, "fdRecv"));
  exports.Set("peerCred", Napi::Function::New(env, PeerCredJs, "peerCred"));
  exports.Set("socketPair", Napi::Function::New(env, SocketPairJs, "socketPair"));
  exports.Set("close", Napi::Function::New(env, CloseJs, "close"));
  exports.Set("cloexecFrom", Napi::Function::New(env, CloexecFromJs, "cloexecFrom"));
  exports.Set("nlEncode", Napi::Function::New(env, NlEncode, "nlEncode"));
  exports.Set("nlDecode", Napi::Function::New(env, NlDecode, "nlDecode"));
  exports.Set("nlRequest", Napi::Function::New(env, NlRequest, "nlRequest"));
  exports.Set("unixListen", Napi::Function::New(env, UnixListenJs, "unixListen"));
  exports.Set("unixConnect", Napi::Function::New(env, UnixConnectJs, "unixConnect"));
  exports.Set("acceptNow", Napi::Function::New(env, AcceptNowJs, "acceptNow"));
  exports.Set("recvNow", Napi::Function::New(env, RecvNowJs, "recvNow"));
  exports.Set("sendNow", Napi::Function::New(env, SendNowJs, "sendNow"));
  exports.Set("socketInfo", Napi::Function::New(env, SocketInfoJs, "socketInfo"));
  exports.Set("setNonblock", Napi::Function::New(env, SetNonblockJs, "setNonblock"));
  InitPoller(env, exports);
  InitUnixSocket(env, exports);
  InitAccounts(env, exports);
  exports.Set("constants", Constants(env));
  return exports;
}

}  // namespace
}  // namespace netfd

static Napi::Object InitNetfd(Napi::Env env, Napi::Object exports) { return netfd::Init(env, exports); }
NODE_API_MODULE(netfd, InitNetfd)
