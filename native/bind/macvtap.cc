// Bindings of ../macvtap.h: a macvtap's character device.
#include "../macvtap.h"

#include "args.h"
#include "bind.h"
#include "convert.h"
#include "job.h"

namespace netfd::js {

namespace {

Napi::Value OpenMacvtap(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "openMacvtap");
  MacvtapOpenOptions req;
  req.netns = a.Str("netns");
  req.link = a.Link("link", true);
  req.queues = uint32_t(a.Int("queues", 1, 256, 1));
  req.vnetHdr = a.Bool("vnetHdr", true);
  req.devDir = a.Str("devDir", "/dev");
  return Job<MacvtapResult>::Start(info.Env(), [req] { return netfd::OpenMacvtap(req); }, [](Napi::Env env, MacvtapResult& r) {
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

}  // namespace

void InitMacvtap(Napi::Env env, Napi::Object exports) { Export(env, exports, "openMacvtap", OpenMacvtap); }

}  // namespace netfd::js
