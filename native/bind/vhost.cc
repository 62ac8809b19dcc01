// Bindings of ../vhost.h: /dev/vhost-net.
#include "../vhost.h"

#include "args.h"
#include "bind.h"
#include "convert.h"
#include "job.h"

namespace netfd::js {

namespace {

Napi::Value OpenVhost(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "openVhost");
  std::string path = a.Str("path");
  if (path.empty()) a.Bad("path", "a device path");
  uint32_t count = uint32_t(a.Int("count", 1, 256, 1));
  return Job<VhostResult>::Start(info.Env(), [path, count] { return netfd::OpenVhost(path, count); }, [](Napi::Env env, VhostResult& r) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("fds", FdArray(env, r.fds));
    o.Set("features", r.hasFeatures ? Napi::Value(Napi::BigInt::New(env, r.features)) : env.Null());
    return o;
  });
}

}  // namespace

void InitVhost(Napi::Env env, Napi::Object exports) { Export(env, exports, "openVhost", OpenVhost); }

}  // namespace netfd::js
