// The addon's entry point: each group of bindings (bind/*.cc) adds its
// functions. Argument checks live in bind/args.h, the promise pattern in
// bind/job.h; the syscalls themselves in the files beside this one.
#include <napi.h>

#include "bind/bind.h"
#include "bind/socket.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace netfd::js;
  InitLinks(env, exports);
  InitBridge(env, exports);
  InitQdisc(env, exports);
  InitEthtool(env, exports);
  InitAddrs(env, exports);
  InitTun(env, exports);
  InitMacvtap(env, exports);
  InitVhost(env, exports);
  InitKvm(env, exports);
  InitFdpass(env, exports);
  InitUnixsock(env, exports);
  netfd::InitUnixSocket(env, exports);
  InitAccounts(env, exports);
  InitFlock(env, exports);
  InitNetns(env, exports);
  InitCodec(env, exports);
  InitConstants(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(netfd, Init)
