// Bindings of ../flock.h: flock(2) locks. An uncontended lock is taken on
// the JS thread; a wait runs on a thread of its own (ThreadJob), so waiters
// never hold the libuv workers the lock's holder needs to finish.
#include "../flock.h"

#include <sys/file.h>

#include "../jserror.h"
#include "args.h"
#include "bind.h"
#include "job.h"

namespace netfd::js {

namespace {

Napi::Value FdOrNull(Napi::Env env, Fd& fd) { return fd ? Napi::Value(Napi::Number::New(env, fd.release())) : env.Null(); }

// flock(fd, 'exclusive' | 'shared' | 'unlock'), never waiting: false when
// another open file holds a conflicting lock.
Napi::Value Flock(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0, "flock");
  std::string op = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  int how = op == "exclusive" ? LOCK_EX : op == "shared" ? LOCK_SH : op == "unlock" ? LOCK_UN : -1;
  if (how < 0) throw Napi::TypeError::New(info.Env(), "flock: op must be 'exclusive', 'shared' or 'unlock'");
  return Napi::Boolean::New(info.Env(), Sync(info.Env(), [&] { return netfd::Flock(fd, how); }));
}

// lockFile({path, shared?, timeoutMs?}): the locked file's fd, or null when
// timeoutMs (default -1: forever) ran out.
Napi::Value LockFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a = GetArgs(info, "lockFile");
  std::string path = a.Str("path");
  if (path.empty()) a.Bad("path", "a file path");
  bool shared = a.Bool("shared", false);
  int timeoutMs = int(a.Int("timeoutMs", -1, INT32_MAX, -1));
  auto deferred = Napi::Promise::Deferred::New(env);
  Fd fd;
  try {
    fd = netfd::LockFile(path, shared, 0);
  } catch (const SysError& e) {
    deferred.Reject(MakeError(env, e).Value());
    return deferred.Promise();
  }
  if (fd || timeoutMs == 0) {
    deferred.Resolve(FdOrNull(env, fd));
    return deferred.Promise();
  }
  return ThreadJob<Fd>::Start(env, [path, shared, timeoutMs] { return netfd::LockFile(path, shared, timeoutMs); }, FdOrNull);
}

// unlockFile(fd, path): removes `path` when `fd` is its only holder, then
// closes `fd` (also when the removal fails).
Napi::Value UnlockFile(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0, "unlockFile");
  if (info.Length() < 2 || !info[1].IsString()) throw Napi::TypeError::New(info.Env(), "unlockFile: path must be a string");
  std::string path = info[1].As<Napi::String>().Utf8Value();
  if (path.empty() || path.find('\0') != std::string::npos) throw Napi::TypeError::New(info.Env(), "unlockFile: path must be a file path without NUL bytes");
  Sync(info.Env(), [&] { netfd::UnlockFile(Fd(fd), path); });
  return info.Env().Undefined();
}

}  // namespace

void InitFlock(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "flock", Flock);
  Export(env, exports, "lockFile", LockFile);
  Export(env, exports, "unlockFile", UnlockFile);
}

}  // namespace netfd::js
