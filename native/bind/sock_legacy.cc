// fdSend and fdRecv: blocking sendmsg/recvmsg with a timeout on a libuv
// worker (../fdpass.h), used by QMP until the socket class on Node's loop
// replaces them. Kept apart, as they were, so they can be deleted whole.
#include "../fdpass.h"

#include "args.h"
#include "bind.h"
#include "convert.h"
#include "job.h"

namespace netfd::js {

namespace {

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

}  // namespace

void InitSockLegacy(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "fdSend", FdSend);
  Export(env, exports, "fdRecv", FdRecv);
}

}  // namespace netfd::js
