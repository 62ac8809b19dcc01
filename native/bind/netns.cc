// Bindings of nl::NetnsHandle (../nlsock.h): a netlink socket kept open in
// a namespace and reused by the link bindings given it as `handle`; and of
// the socket cache the other operations share (nl::SocketFor).
#include "../nlsock.h"

#include "args.h"
#include "bind.h"
#include "job.h"

namespace netfd::js {

namespace {

using Shared = std::shared_ptr<nl::NetnsHandle>;

// openNetnsHandle({netns}): the socket is made on a libuv worker (the
// thread enters the namespace and comes back); the value is an External
// holding one reference (the socket closes with the last one, or at close).
Napi::Value OpenNetnsHandle(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "openNetnsHandle");
  std::string netns = a.Str("netns");
  if (netns.empty()) a.Bad("netns", "a network namespace name or path");
  return Job<Shared>::Start(info.Env(), [netns] { return std::make_shared<nl::NetnsHandle>(netns); }, [](Napi::Env env, Shared& h) {
    auto ext = Napi::External<Shared>::New(env, new Shared(std::move(h)), [](Napi::Env, Shared* p) { delete p; });
    if (napi_type_tag_object(env, ext, &kNetnsHandleTag) != napi_ok) throw Napi::Error::New(env, "openNetnsHandle: cannot tag the handle");
    return Napi::Value(ext);
  });
}

// closeNetnsHandle(handle): waits for the operation under way (if any) and
// closes the socket; later operations with the handle are EBADF.
Napi::Value CloseNetnsHandle(const Napi::CallbackInfo& info) {
  Shared* h = info.Length() > 0 ? NetnsHandleOf(info.Env(), info[0]) : nullptr;
  if (!h) throw Napi::TypeError::New(info.Env(), "closeNetnsHandle: handle must be a handle from openNetnsHandle");
  (*h)->Close();
  return info.Env().Undefined();
}

// closeNetlinkCache(): closes the cache's idle sockets now; returns how many.
Napi::Value CloseNetlinkCache(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(nl::CloseCachedSockets())); }

// netlinkCacheSize(): idle sockets in the cache now.
Napi::Value NetlinkCacheSize(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(nl::CachedSockets())); }

}  // namespace

void InitNetns(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "openNetnsHandle", OpenNetnsHandle);
  Export(env, exports, "closeNetnsHandle", CloseNetnsHandle);
  Export(env, exports, "closeNetlinkCache", CloseNetlinkCache);
  Export(env, exports, "netlinkCacheSize", NetlinkCacheSize);
}

}  // namespace netfd::js
