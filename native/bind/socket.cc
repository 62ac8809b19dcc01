// new UnixSocket(events): the JS face of a UvSocket. Argument checks throw
// TypeError; failed syscalls throw Node-style errors from the method called;
// everything that happens later arrives as an event on `events` (message,
// connection, connect, writable, error), called like Node calls its own
// callbacks: an exception thrown there becomes 'uncaughtException', and no
// C++ exception ever reaches JS from the loop.
#include "socket.h"

#include <vector>

#include "../fdpass.h"
#include "../jscall.h"
#include "../jserror.h"
#include "../uvsock.h"

namespace netfd {

namespace {

constexpr int kMaxFds = 253;  // SCM_MAX_FD

class UnixSocket : public Napi::ObjectWrap<UnixSocket>, public UvSocket::Delegate {
 public:
  static Napi::Function Class(Napi::Env env) {
    return DefineClass(env, "UnixSocket",
                       {InstanceMethod("adopt", &UnixSocket::Adopt), InstanceMethod("listen", &UnixSocket::Listen),
                        InstanceMethod("connect", &UnixSocket::Connect), InstanceMethod("readStart", &UnixSocket::ReadStart),
                        InstanceMethod("readStop", &UnixSocket::ReadStop), InstanceMethod("acceptStart", &UnixSocket::AcceptStart),
                        InstanceMethod("acceptStop", &UnixSocket::AcceptStop), InstanceMethod("send", &UnixSocket::Send),
                        InstanceMethod("waitWritable", &UnixSocket::WaitWritable), InstanceMethod("peerCred", &UnixSocket::PeerCredJs),
                        InstanceMethod("ref", &UnixSocket::JsRef), InstanceMethod("unref", &UnixSocket::JsUnref),
                        InstanceMethod("close", &UnixSocket::Close), InstanceAccessor("fd", &UnixSocket::GetFd, nullptr)});
  }

  explicit UnixSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UnixSocket>(info) {
    if (info.Length() < 1 || !info[0].IsObject() || info[0].IsFunction())
      throw Napi::TypeError::New(info.Env(), "UnixSocket: expected an events object {message, connection, connect, writable, error}");
    events_ = Napi::Persistent(info[0].As<Napi::Object>());
  }

  ~UnixSocket() override {
    if (sock_) sock_->Close();
  }

  // ---- events (loop thread) ---------------------------------------------

  void OnMessage(Message& m) override {
    bool taken = Emit("message", [&](Napi::Env env) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("data", Napi::Buffer<uint8_t>::Copy(env, m.data.data(), m.data.size()));
      Napi::Array fds = Napi::Array::New(env, m.fds.size());
      for (size_t i = 0; i < m.fds.size(); i++) fds.Set(uint32_t(i), Napi::Number::New(env, m.fds[i].get()));
      o.Set("fds", fds);
      o.Set("size", double(m.size));
      o.Set("truncated", m.truncated);
      o.Set("ctrunc", m.ctrunc);
      o.Set("eof", m.eof);
      return std::vector<napi_value>{o};
    });
    // Handed over only to a callback that returned: otherwise they close with m.
    if (taken)
      for (Fd& f : m.fds) f.release();
  }

  void OnConnection(Fd fd) override {
    if (Emit("connection", [&](Napi::Env env) { return std::vector<napi_value>{Napi::Number::New(env, fd.get())}; })) fd.release();
  }

  void OnConnect(const SysError* err) override {
    Emit("connect", [&](Napi::Env env) { return std::vector<napi_value>{err ? MakeError(env, *err).Value() : env.Null()}; });
  }

  void OnWritable() override {
    Emit("writable", [](Napi::Env) { return std::vector<napi_value>{}; });
  }

  void OnError(const SysError& err) override {
    Emit("error", [&](Napi::Env env) { return std::vector<napi_value>{MakeError(env, err).Value()}; });
  }

  void OnDetach() override { sock_ = nullptr; }

 private:
  // Calls events[name](...args) as Node calls its callbacks (microtasks run
  // after it). True when the callback ran and returned; false when it threw
  // (raised again as 'uncaughtException'), is missing, or JS cannot run.
  template <typename Build>
  bool Emit(const char* name, Build&& build) noexcept {
    napi_env env = Env();
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
    bool ok = false;
    CallIntoJs(env, [&] {
      Napi::Object ev = events_.Value();
      Napi::Value fn = ev.Get(name);
      if (!fn.IsFunction()) return;
      std::vector<napi_value> args = build(Napi::Env(env));
      fn.As<Napi::Function>().MakeCallback(ev, args);
      ok = true;
    });
    napi_close_handle_scope(env, scope);
    return ok;
  }

  UvSocket& Sock(const Napi::CallbackInfo& info, const char* fn) {
    if (!sock_) {
      SysError e;
      e.err = EBADF;
      e.syscall = fn;
      e.message = std::string("UnixSocket.") + fn + ": the socket is " + (closed_ ? "closed" : "not open yet");
      throw MakeError(info.Env(), e);
    }
    return *sock_;
  }

  void Attach(Napi::Env env, Fd fd, bool own) {
    sock_ = Sync(env, [&] { return UvSocket::Open(env, std::move(fd), own, this); });
    Ref();  // an open socket stays alive (and reachable by its events) until closed
  }

  void NotOpen(const Napi::CallbackInfo& info, const char* fn) {
    if (sock_ || closed_) throw Napi::Error::New(info.Env(), std::string("UnixSocket.") + fn + ": this object has had its socket already; make a new one");
  }

  static std::string PathArg(const Napi::CallbackInfo& info, const char* fn) {
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), std::string("UnixSocket.") + fn + ": path must be a string");
    std::string s = info[0].As<Napi::String>().Utf8Value();
    if (s.find('\0') != std::string::npos) throw Napi::TypeError::New(info.Env(), std::string("UnixSocket.") + fn + ": path must not hold NUL bytes");
    return s;
  }

  static SockType TypeArg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
    std::string t = info.Length() > i && info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : "";
    if (t == "stream") return SockType::Stream;
    if (t == "seqpacket") return SockType::Seqpacket;
    throw Napi::TypeError::New(info.Env(), std::string("UnixSocket.") + fn + ": type must be 'stream' or 'seqpacket'");
  }

  static int IntArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what, int lo, int hi) {
    double d = info.Length() > i && info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : -1.5;
    if (!(d >= lo && d <= hi) || d != double(int(d)))
      throw Napi::TypeError::New(info.Env(), std::string("UnixSocket.") + fn + ": " + what + " must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    return int(d);
  }

  // adopt(fd, own): watch an fd (accepted, inherited or made by socketPair).
  // Owned, it is closed by close(); borrowed, it stays the caller's and gets
  // its O_NONBLOCK flag back at close().
  Napi::Value Adopt(const Napi::CallbackInfo& info) {
    NotOpen(info, "adopt");
    int fd = IntArg(info, 0, "adopt", "fd", 0, INT32_MAX);
    if (info.Length() < 2 || !info[1].IsBoolean()) throw Napi::TypeError::New(info.Env(), "UnixSocket.adopt: own must be a boolean");
    Attach(info.Env(), Fd(fd), info[1].As<Napi::Boolean>().Value());
    return info.Env().Undefined();
  }

  // listen(path, type, backlog): bind + listen; accepting starts with acceptStart().
  Napi::Value Listen(const Napi::CallbackInfo& info) {
    NotOpen(info, "listen");
    std::string path = PathArg(info, "listen");
    SockType type = TypeArg(info, 1, "listen");
    int backlog = IntArg(info, 2, "listen", "backlog", 1, 65535);
    Fd fd = Sync(info.Env(), [&] { return ListenAt(path, type, backlog); });
    Attach(info.Env(), std::move(fd), true);
    return info.Env().Undefined();
  }

  // connect(path, type): throws what fails at once (ENOENT, ECONNREFUSED,
  // EAGAIN for a full backlog); otherwise events.connect(err|null) follows.
  Napi::Value Connect(const Napi::CallbackInfo& info) {
    NotOpen(info, "connect");
    std::string path = PathArg(info, "connect");
    SockType type = TypeArg(info, 1, "connect");
    bool pending = false;
    Fd fd = Sync(info.Env(), [&] { return ConnectTo(path, type, &pending); });
    Attach(info.Env(), std::move(fd), true);
    Sync(info.Env(), [&] { sock_->ConnectPending(); });
    return info.Env().Undefined();
  }

  Napi::Value ReadStart(const Napi::CallbackInfo& info) {
    int maxBytes = IntArg(info, 0, "readStart", "maxBytes", 1, 1 << 24);
    int maxFds = IntArg(info, 1, "readStart", "maxFds", 0, kMaxFds);
    UvSocket& s = Sock(info, "readStart");
    Sync(info.Env(), [&] { s.ReadStart(size_t(maxBytes), size_t(maxFds)); });
    return info.Env().Undefined();
  }

  Napi::Value ReadStop(const Napi::CallbackInfo& info) {
    UvSocket& s = Sock(info, "readStop");
    Sync(info.Env(), [&] { s.ReadStop(); });
    return info.Env().Undefined();
  }

  Napi::Value AcceptStart(const Napi::CallbackInfo& info) {
    UvSocket& s = Sock(info, "acceptStart");
    Sync(info.Env(), [&] { s.AcceptStart(); });
    return info.Env().Undefined();
  }

  Napi::Value AcceptStop(const Napi::CallbackInfo& info) {
    UvSocket& s = Sock(info, "acceptStop");
    Sync(info.Env(), [&] { s.AcceptStop(); });
    return info.Env().Undefined();
  }

  // send(data, fds?): bytes sent (a stream may take part of it), or -1 when
  // there is no room: call waitWritable() and wait for events.writable.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsBuffer()) throw Napi::TypeError::New(env, "UnixSocket.send: data must be a Buffer");
    auto b = info[0].As<Napi::Buffer<uint8_t>>();
    std::vector<uint8_t> data(b.Data(), b.Data() + b.Length());
    std::vector<int> fds;
    if (info.Length() > 1 && !info[1].IsUndefined()) {
      if (!info[1].IsArray()) throw Napi::TypeError::New(env, "UnixSocket.send: fds must be an array of fds");
      Napi::Array arr = info[1].As<Napi::Array>();
      if (arr.Length() > uint32_t(kMaxFds)) throw Napi::TypeError::New(env, "UnixSocket.send: at most 253 fds fit in one message");
      for (uint32_t k = 0; k < arr.Length(); k++) {
        Napi::Value e = arr.Get(k);
        double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
        if (!(d >= 0 && d <= INT32_MAX) || d != double(int(d))) throw Napi::TypeError::New(env, "UnixSocket.send: fds must be an array of non-negative integers");
        fds.push_back(int(d));
      }
    }
    UvSocket& s = Sock(info, "send");
    long n = Sync(env, [&] { return s.Send(data, fds); });
    return Napi::Number::New(env, double(n));
  }

  Napi::Value WaitWritable(const Napi::CallbackInfo& info) {
    UvSocket& s = Sock(info, "waitWritable");
    Sync(info.Env(), [&] { s.WaitWritable(); });
    return info.Env().Undefined();
  }

  Napi::Value PeerCredJs(const Napi::CallbackInfo& info) {
    UvSocket& s = Sock(info, "peerCred");
    Credentials c = Sync(info.Env(), [&] { return PeerCred(s.fd()); });
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("pid", c.pid);
    o.Set("uid", c.uid);
    o.Set("gid", c.gid);
    return o;
  }

  Napi::Value JsRef(const Napi::CallbackInfo& info) {
    if (sock_) sock_->Ref();
    return info.Env().Undefined();
  }

  Napi::Value JsUnref(const Napi::CallbackInfo& info) {
    if (sock_) sock_->Unref();
    return info.Env().Undefined();
  }

  // close(): once; later calls do nothing. No event follows it.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    closed_ = true;
    if (sock_) {
      UvSocket* s = sock_;
      sock_ = nullptr;
      s->Close();
      Unref();
    }
    return info.Env().Undefined();
  }

  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), sock_ ? sock_->fd() : -1); }

  Napi::ObjectReference events_;
  UvSocket* sock_ = nullptr;
  bool closed_ = false;
};

}  // namespace

void InitUnixSocket(Napi::Env env, Napi::Object exports) { exports.Set("UnixSocket", UnixSocket::Class(env)); }

}  // namespace netfd
