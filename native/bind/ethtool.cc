// Bindings of ../ethtool.h: interrupt coalescing (SIOCETHTOOL).
#include "../ethtool.h"

#include "args.h"
#include "bind.h"
#include "job.h"

namespace netfd::js {

namespace {

Napi::Value CoalesceToJs(Napi::Env env, CoalesceInfo& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("rxMaxFrames", double(c.rxMaxFrames));
  return o;
}

Napi::Value GetCoalesce(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "getCoalesce");
  std::string netns = a.Str("netns");
  LinkRef link = a.Link("link", true);
  return Job<CoalesceInfo>::Start(info.Env(), [netns, link] { return netfd::GetCoalesce(netns, link); }, CoalesceToJs);
}

Napi::Value SetCoalesce(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "setCoalesce");
  CoalesceChanges req;
  req.netns = a.Str("netns");
  req.link = a.Link("link", true);
  req.rxMaxFrames = a.Int("rxMaxFrames", 0, UINT32_MAX, -1);
  return Job<CoalesceInfo>::Start(info.Env(), [req] { return netfd::SetCoalesce(req); }, CoalesceToJs);
}

}  // namespace

void InitEthtool(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "getCoalesce", GetCoalesce);
  Export(env, exports, "setCoalesce", SetCoalesce);
}

}  // namespace netfd::js
