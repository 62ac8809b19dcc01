// Bindings of ../tun.h: taps through /dev/net/tun.
#include "../tun.h"

#include "args.h"
#include "bind.h"
#include "convert.h"
#include "job.h"

namespace netfd::js {

namespace {

Napi::Value TunFeatures(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "tunFeatures");
  std::string netns = a.Str("netns");
  std::string device = a.Str("device", "/dev/net/tun");
  return Job<uint32_t>::Start(info.Env(), [netns, device] { return netfd::TunFeatures(netns, device); },
                              [](Napi::Env env, uint32_t& f) { return Napi::Number::New(env, f); });
}

Napi::Value CreateTap(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "createTap");
  TapOptions req;
  req.netns = a.Str("netns");
  req.device = a.Str("device", "/dev/net/tun");
  req.name = a.Name("name");
  req.vnetHdr = a.Bool("vnetHdr", true);
  req.queues = uint32_t(a.Int("queues", 1, 256, 1));
  req.multiQueue = a.Bool("multiQueue", req.queues > 1);
  if (req.queues > 1 && !req.multiQueue) throw Napi::TypeError::New(info.Env(), "createTap: multiQueue must be true when queues > 1");
  req.exclusive = a.Bool("exclusive", false);
  req.persist = a.Bool("persist", false);
  req.owner = a.Int("owner", 0, UINT32_MAX - 1, -1);
  req.group = a.Int("group", 0, UINT32_MAX - 1, -1);
  if (a.Has("setup")) {
    Napi::Value v = a.obj.Get("setup");
    if (!v.IsObject() || v.IsArray()) a.Bad("setup", "an object");
    Args s{info.Env(), "createTap setup", v.As<Napi::Object>()};
    req.qdisc = s.Str("qdisc");
    LinkChanges c;
    if (s.Has("up")) c.up = s.Bool("up", false) ? 1 : 0;
    c.mac = s.Str("mac");
    nl::Bytes mac;
    if (!c.mac.empty() && !nl::ParseMac(c.mac, &mac)) s.Bad("mac", "a MAC address aa:bb:cc:dd:ee:ff");
    if (s.Has("master")) {
      c.setMaster = true;
      c.master = s.Link("master", true);
    }
    c.group = s.Int("group", 1, UINT32_MAX, -1);
    c.mtu = s.Int("mtu", 0, UINT32_MAX, -1);
    if (c.up >= 0 || !c.mac.empty() || c.setMaster || c.group >= 0 || c.mtu >= 0) req.setup = c;
  }
  return Job<TapResult>::Start(info.Env(), [req] { return netfd::CreateTap(req); }, [](Napi::Env env, TapResult& r) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", r.name);
    o.Set("ifindex", r.ifindex);
    o.Set("features", double(r.features));
    o.Set("fds", FdArray(env, r.fds));
    if (!r.qdiscError.empty()) o.Set("qdiscError", r.qdiscError);
    return o;
  });
}

}  // namespace

void InitTun(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "tunFeatures", TunFeatures);
  Export(env, exports, "createTap", CreateTap);
}

}  // namespace netfd::js
