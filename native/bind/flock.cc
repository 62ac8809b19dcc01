// Bindings of ../flock.h: flock(2) locks. An uncontended lock is taken on
// the JS thread (tryLockFile: without a promise); a wait runs on a thread of
// its own (ThreadJob), so waiters never hold the libuv workers the lock's
// holder needs to finish.
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

// The options lockFile and tryLockFile share: {path, shared?, note?}.
struct LockArgs {
  std::string path;
  bool shared;
  std::string note;
};

LockArgs GetLockArgs(const Args& a) {
  LockArgs l{a.Str("path"), a.Bool("shared", false), a.Str("note")};
  if (l.path.empty()) a.Bad("path", "a file path");
  if (l.shared && !l.note.empty()) a.Bad("note", "absent with shared (only an exclusive holder writes the file)");
  return l;
}

// tryLockFile({path, shared?, note?}): the locked file's fd, or null when
// another holds a conflicting lock. LOCK_NB on the calling thread: never waits.
Napi::Value TryLockFile(const Napi::CallbackInfo& info) {
  LockArgs l = GetLockArgs(GetArgs(info, "tryLockFile"));
  Fd fd = Sync(info.Env(), [&] { return netfd::LockFile(l.path, l.shared, 0, l.note); });
  return FdOrNull(info.Env(), fd);
}

// lockFile({path, shared?, timeoutMs?, note?}): the locked file's fd, or
// null when timeoutMs (default -1: forever) ran out.
Napi::Value LockFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a = GetArgs(info, "lockFile");
  LockArgs l = GetLockArgs(a);
  int timeoutMs = int(a.Int("timeoutMs", -1, INT32_MAX, -1));
  auto deferred = Napi::Promise::Deferred::New(env);
  Fd fd;
  try {
    fd = netfd::LockFile(l.path, l.shared, 0, l.note);
  } catch (const SysError& e) {
    deferred.Reject(MakeError(env, e).Value());
    return deferred.Promise();
  }
  if (fd || timeoutMs == 0) {
    deferred.Resolve(FdOrNull(env, fd));
    return deferred.Promise();
  }
  return ThreadJob<Fd>::Start(env, [l, timeoutMs] { return netfd::LockFile(l.path, l.shared, timeoutMs, l.note); }, FdOrNull);
}

// unlockFile(fd, path, exclusive?): removes `path` when `fd` is its only
// holder, then closes `fd` (also when the removal fails). `exclusive`: the
// lock is known to be exclusive.
Napi::Value UnlockFile(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0, "unlockFile");
  if (info.Length() < 2 || !info[1].IsString()) throw Napi::TypeError::New(info.Env(), "unlockFile: path must be a string");
  std::string path = info[1].As<Napi::String>().Utf8Value();
  if (path.empty() || path.find('\0') != std::string::npos) throw Napi::TypeError::New(info.Env(), "unlockFile: path must be a file path without NUL bytes");
  bool exclusive = false;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    if (!info[2].IsBoolean()) throw Napi::TypeError::New(info.Env(), "unlockFile: exclusive must be a boolean");
    exclusive = info[2].As<Napi::Boolean>().Value();
  }
  Sync(info.Env(), [&] { netfd::UnlockFile(Fd(fd), path, exclusive); });
  return info.Env().Undefined();
}

}  // namespace

void InitFlock(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "flock", Flock);
  Export(env, exports, "lockFile", LockFile);
  Export(env, exports, "tryLockFile", TryLockFile);
  Export(env, exports, "unlockFile", UnlockFile);
}

}  // namespace netfd::js
