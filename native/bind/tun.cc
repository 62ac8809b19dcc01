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
  return Job<TapResult>::Start(info.Env(), [req] { return netfd::CreateTap(req); }, [](Napi::Env env, TapResult& r) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", r.name);
    o.Set("ifindex", r.ifindex);
    o.Set("features", double(r.features));
    o.Set("fds", FdArray(env, r.fds));
    return o;
  });
}

}  // namespace

void InitTun(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "tunFeatures", TunFeatures);
  Export(env, exports, "createTap", CreateTap);
}

}  // namespace netfd::js
