// Bindings of fd ownership: peer credentials, socket pairs, close, and
// close-on-exec for a child (../fdpass.h).
#include "../fdpass.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "../jserror.h"
#include "args.h"
#include "bind.h"

namespace netfd::js {

namespace {

Napi::Value PeerCred(const Napi::CallbackInfo& info) {
  int sock = FdArg(info, 0, "peerCred");
  Credentials c = Sync(info.Env(), [&] { return netfd::PeerCred(sock); });
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("pid", c.pid);
  o.Set("uid", c.uid);
  o.Set("gid", c.gid);
  return o;
}

Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  bool seqpacket = true;
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "socketPair: type must be 'seqpacket' or 'stream'");
    std::string t = info[0].As<Napi::String>().Utf8Value();
    if (t != "seqpacket" && t != "stream") throw Napi::TypeError::New(info.Env(), "socketPair: type must be 'seqpacket' or 'stream'");
    seqpacket = t == "seqpacket";
  }
  auto pair = Sync(info.Env(), [&] { return netfd::SocketPair(seqpacket); });
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, pair.first.release());
  a.Set(1u, pair.second.release());
  return a;
}

[[noreturn]] void ThrowSysError(Napi::Env env, int err, const char* syscall, const std::string& what) {
  SysError e;
  e.err = err;
  e.syscall = syscall;
  e.message = what + ": " + std::strerror(e.err);
  throw MakeError(env, e);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0, "close");
  if (::close(fd) < 0) ThrowSysError(info.Env(), errno, "close", "close fd " + std::to_string(fd));
  return info.Env().Undefined();
}

// Sets FD_CLOEXEC on every fd >= `from` (close_range(CLOSE_RANGE_CLOEXEC),
// else fcntl over /proc/self/fd), so that a child gets only the fds handed to
// it explicitly, even fds this process inherited without the flag.
Napi::Value CloexecFrom(const Napi::CallbackInfo& info) {
  int from = FdArg(info, 0, "cloexecFrom");
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, unsigned(from), ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) == 0) return info.Env().Undefined();
#endif
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) ThrowSysError(info.Env(), errno, "opendir", "opendir /proc/self/fd");
  const int self = ::dirfd(d);
  while (dirent* ent = ::readdir(d)) {
    const int fd = std::atoi(ent->d_name);
    if (fd < from || fd == self || ent->d_name[0] == '.') continue;
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
  ::closedir(d);
  return info.Env().Undefined();
}

}  // namespace

void InitFdpass(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "peerCred", PeerCred);
  Export(env, exports, "socketPair", SocketPair);
  // `close`, not closeFd (the TS wrapper's name): lib/agent and lib/qemu call it by this name.
  Export(env, exports, "close", Close);
  Export(env, exports, "cloexecFrom", CloexecFrom);
}

}  // namespace netfd::js
