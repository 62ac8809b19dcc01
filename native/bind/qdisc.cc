// Bindings of ../qdisc.h: `tc qdisc` over rtnetlink.
#include "../qdisc.h"

#include "args.h"
#include "bind.h"
#include "convert.h"
#include "job.h"

namespace netfd::js {

namespace {

Napi::Value SetRootQdisc(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "setRootQdisc");
  std::string netns = a.Str("netns");
  LinkRef link = a.Link("link", true);
  std::string kind = a.Str("kind");
  if (kind.empty() || kind.size() > 15) a.Bad("kind", "a qdisc kind such as 'noqueue'");
  return Job<bool>::Start(info.Env(), [netns, link, kind] { netfd::SetRootQdisc(netns, link, kind); return true; }, Done);
}

Napi::Value ListQdiscs(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "listQdiscs");
  std::string netns = a.Str("netns");
  return Job<std::vector<nl::Qdisc>>::Start(info.Env(), [netns] { return netfd::ListQdiscs(netns); },
                                            [](Napi::Env env, std::vector<nl::Qdisc>& q) { return ArrayOf(env, q, QdiscToJs); });
}

}  // namespace

void InitQdisc(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "setRootQdisc", SetRootQdisc);
  Export(env, exports, "listQdiscs", ListQdiscs);
}

}  // namespace netfd::js
