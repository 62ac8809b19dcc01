// The netlink codec and one raw request, for tests and tools
// (scripts/capture-fixtures.js): bytes in, bytes or decoded messages out.
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <cstring>

#include "../jserror.h"
#include "../nlcodec.h"
#include "../nlsock.h"
#include "args.h"
#include "bind.h"
#include "convert.h"
#include "job.h"

namespace netfd::js {

namespace {

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
    m.netnsFd = int32_t(a.Int("netnsFd", 0, INT32_MAX, -1));
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
    m.family = uint8_t(nl::ParseIp(a.Ip("address", true, 0), &m.local));
    m.prefix = a.Prefix(m.family);
    if (a.Has("peer")) nl::ParseIp(a.Ip("peer", false, m.family), &m.peer);
    if (a.Has("broadcast")) nl::ParseIp(a.Ip("broadcast", false, m.family), &m.broadcast);
    return ToBuffer(env, nl::EncodeNewAddr(m, seq));
  }
  if (op == "dumpaddrs") return ToBuffer(env, nl::EncodeDumpAddrs(a.Family(), seq));
  if (op == "newroute") {
    nl::NewRoute r;
    r.oif = ref.index;
    r.family = uint8_t(nl::ParseIp(a.Ip("address", true, 0), &r.dst));
    r.prefix = a.Prefix(r.family);
    if (a.Has("gateway")) nl::ParseIp(a.Ip("gateway", false, r.family), &r.gateway);
    r.metric = a.Int("metric", -1, UINT32_MAX, -1);
    r.protocol = uint8_t(a.Int("protocol", 0, 255, RTPROT_BOOT));
    r.scope = uint8_t(a.Int("scope", 0, 255, r.gateway.empty() ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE));
    return ToBuffer(env, nl::EncodeNewRoute(r, seq));
  }
  if (op == "dumproutes") return ToBuffer(env, nl::EncodeDumpRoutes(a.Family(), seq));
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

}  // namespace

void InitCodec(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "nlEncode", NlEncode);
  Export(env, exports, "nlDecode", NlDecode);
  Export(env, exports, "nlRequest", NlRequest);
}

}  // namespace netfd::js
