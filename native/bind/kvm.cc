// Bindings of ../kvm.h: /dev/kvm, for the host probe.
#include "../kvm.h"

#include "args.h"
#include "bind.h"
#include "job.h"

namespace netfd::js {

namespace {

Napi::Value KvmApiVersion(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "kvmApiVersion");
  std::string path = a.Str("path", "/dev/kvm");
  if (path.empty()) a.Bad("path", "a device path");
  return Job<int>::Start(info.Env(), [path] { return netfd::KvmApiVersion(path); }, [](Napi::Env env, int& v) { return Napi::Number::New(env, v); });
}

}  // namespace

void InitKvm(Napi::Env env, Napi::Object exports) { Export(env, exports, "kvmApiVersion", KvmApiVersion); }

}  // namespace netfd::js
