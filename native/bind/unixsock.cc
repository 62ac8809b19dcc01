// Bindings of ../unixsock.h: the agent's seqpacket sockets, read and
// written without waiting; and a listening stream socket for a child (QMP).
#include "../unixsock.h"

#include "../jserror.h"
#include "args.h"
#include "bind.h"
#include "convert.h"
#include "job.h"

namespace netfd::js {

namespace {

Napi::Value UnixListen(const Napi::CallbackInfo& info) {
  std::string path = PathArg(info, "unixListen");
  int backlog = 128;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsNumber()) throw Napi::TypeError::New(info.Env(), "unixListen: backlog must be a number");
    double d = info[1].As<Napi::Number>().DoubleValue();
    if (d < 1 || d > 65535 || d != double(int(d))) throw Napi::TypeError::New(info.Env(), "unixListen: backlog must be an integer from 1 to 65535");
    backlog = int(d);
  }
  Fd s = Sync(info.Env(), [&] { return netfd::UnixListen(path, backlog); });
  return Napi::Number::New(info.Env(), s.release());
}

// unixStreamListen(path, backlog, mode): a listening stream socket to hand to a child.
Napi::Value UnixStreamListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = PathArg(info, "unixStreamListen");
  auto intArg = [&](size_t i, const char* what, double lo, double hi) {
    double d = info.Length() > i && info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : -1.5;
    if (!(d >= lo && d <= hi) || d != double(int(d)))
      throw Napi::TypeError::New(env, std::string("unixStreamListen: ") + what + " must be an integer from " + std::to_string(int(lo)) + " to " + std::to_string(int(hi)));
    return int(d);
  };
  int backlog = intArg(1, "backlog", 1, 65535);
  unsigned mode = unsigned(intArg(2, "mode", 0, 0777));
  Fd s = Sync(env, [&] { return netfd::UnixStreamListen(path, backlog, mode); });
  return Napi::Number::New(env, s.release());
}

Napi::Value UnixConnect(const Napi::CallbackInfo& info) {
  std::string path = PathArg(info, "unixConnect");
  return Job<Fd>::Start(info.Env(), [path] { return netfd::UnixConnect(path); }, [](Napi::Env env, Fd& fd) { return Napi::Number::New(env, fd.release()); });
}

Napi::Value AcceptNow(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0, "acceptNow");
  Fd c = Sync(info.Env(), [&] { return netfd::AcceptNow(fd); });
  return Napi::Number::New(info.Env(), c ? c.release() : -1);
}

Napi::Value RecvNow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0, "recvNow");
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber()) throw Napi::TypeError::New(env, "recvNow: maxBytes and maxFds must be numbers");
  double maxBytes = info[1].As<Napi::Number>().DoubleValue();
  double maxFds = info[2].As<Napi::Number>().DoubleValue();
  if (maxBytes < 1 || maxBytes > (1 << 24) || maxBytes != double(int(maxBytes))) throw Napi::TypeError::New(env, "recvNow: maxBytes must be an integer from 1 to 16777216");
  if (maxFds < 0 || maxFds > 253 || maxFds != double(int(maxFds))) throw Napi::TypeError::New(env, "recvNow: maxFds must be an integer from 0 to 253");
  Message m;
  bool got = Sync(env, [&] { return netfd::RecvNow(fd, size_t(maxBytes), size_t(maxFds), m); });
  if (!got) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("data", ToBuffer(env, m.data));
  o.Set("fds", FdArray(env, m.fds));
  o.Set("size", double(m.size));
  o.Set("truncated", m.truncated);
  o.Set("ctrunc", m.ctrunc);
  o.Set("eof", m.eof);
  return o;
}

Napi::Value SendNow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0, "sendNow");
  if (info.Length() < 2) throw Napi::TypeError::New(env, "sendNow: data must be a Buffer");
  std::vector<uint8_t> data = BufferArg(env, info[1], "sendNow: data");
  std::vector<int> fds = FdListArg(info, 2, "sendNow");
  long n = Sync(env, [&] { return netfd::SendNow(fd, data, fds); });
  return Napi::Number::New(env, double(n));
}

Napi::Value SocketInfo(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0, "socketInfo");
  netfd::SocketInfo s = Sync(info.Env(), [&] { return GetSocketInfo(fd); });
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("family", s.family);
  o.Set("type", s.type);
  o.Set("listening", s.listening);
  return o;
}

Napi::Value SetNonblock(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0, "setNonblock");
  Sync(info.Env(), [&] { netfd::SetNonblock(fd); });
  return info.Env().Undefined();
}

}  // namespace

void InitUnixsock(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "unixListen", UnixListen);
  Export(env, exports, "unixStreamListen", UnixStreamListen);
  Export(env, exports, "unixConnect", UnixConnect);
  Export(env, exports, "acceptNow", AcceptNow);
  Export(env, exports, "recvNow", RecvNow);
  Export(env, exports, "sendNow", SendNow);
  Export(env, exports, "socketInfo", SocketInfo);
  Export(env, exports, "setNonblock", SetNonblock);
}

}  // namespace netfd::js
