// Argument checks shared by every binding: a bad argument throws a TypeError
// naming the function, the parameter and what it must be (never a crash).
// Values are copied out of JS here, on the JS thread, before any job runs.
#pragma once

#include <napi.h>
#include <net/if.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../links.h"
#include "../nlcodec.h"
#include "../nlsock.h"

namespace netfd::js {

// Marks the JS values that are netlink handles (openNetnsHandle), so that no
// other External can pass for one.
inline const napi_type_tag kNetnsHandleTag = {0x6e657466645f6e73ULL, 0x68616e646c650001ULL};

// The handle held by a value openNetnsHandle returned; null when `v` is none.
inline std::shared_ptr<nl::NetnsHandle>* NetnsHandleOf(Napi::Env env, Napi::Value v) {
  if (!v.IsExternal()) return nullptr;
  bool tagged = false;
  if (napi_check_object_type_tag(env, v, &kNetnsHandleTag, &tagged) != napi_ok || !tagged) return nullptr;
  return v.As<Napi::External<std::shared_ptr<nl::NetnsHandle>>>().Data();
}

// The options object of a binding `fn(options)`.
struct Args {
  Napi::Env env;
  const char* fn;
  Napi::Object obj;

  [[noreturn]] void Bad(const std::string& key, const char* want) const {
    throw Napi::TypeError::New(env, std::string(fn) + ": " + key + " must be " + want);
  }
  bool Has(const char* key) const {
    Napi::Value v = obj.Get(key);
    return !v.IsUndefined() && !v.IsNull();
  }
  std::string Str(const char* key, const std::string& def = "") const {
    if (!Has(key)) return def;
    Napi::Value v = obj.Get(key);
    if (!v.IsString()) Bad(key, "a string");
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.find('\0') != std::string::npos) Bad(key, "a string without NUL bytes");
    return s;
  }
  int64_t Int(const char* key, int64_t lo, int64_t hi, int64_t def) const {
    if (!Has(key)) return def;
    Napi::Value v = obj.Get(key);
    if (!v.IsNumber()) Bad(key, "a number");
    double d = v.As<Napi::Number>().DoubleValue();
    if (d != double(int64_t(d)) || d < double(lo) || d > double(hi))
      Bad(key, ("an integer from " + std::to_string(lo) + " to " + std::to_string(hi)).c_str());
    return int64_t(d);
  }
  bool Bool(const char* key, bool def) const {
    if (!Has(key)) return def;
    Napi::Value v = obj.Get(key);
    if (!v.IsBoolean()) Bad(key, "a boolean");
    return v.As<Napi::Boolean>().Value();
  }
  std::string Name(const char* key) const {
    std::string s = Str(key);
    if (s.size() >= IFNAMSIZ) Bad(key, "an interface name of at most 15 bytes");
    return s;
  }
  // A link given as {index} or {name} (or a bare number/string under `key`).
  LinkRef Link(const char* key, bool required) const {
    LinkRef r;
    Napi::Value v = obj.Get(key);
    if (v.IsNumber()) r.index = int32_t(Int(key, 1, INT32_MAX, 0));
    else if (v.IsString()) r.name = Name(key);
    else if (required || !(v.IsUndefined() || v.IsNull())) Bad(key, "an interface name or a positive ifindex");
    return r;
  }
  // Where a netlink operation runs: `handle` (an open NetnsHandle) when
  // given, else namespace `netns` with a socket of its own.
  nl::Netns Netns() const {
    nl::Netns where(Str("netns"));
    if (Has("handle")) {
      auto* h = NetnsHandleOf(env, obj.Get("handle"));
      if (!h) Bad("handle", "a handle from openNetnsHandle");
      where.handle = *h;
    }
    return where;
  }
  // An IP address; `family` (when non-zero) is the one it must have.
  std::string Ip(const char* key, bool required, int family) const {
    if (!Has(key)) {
      if (required) Bad(key, "an IPv4 or IPv6 address");
      return "";
    }
    std::string s = Str(key);
    nl::Bytes b;
    int f = nl::ParseIp(s, &b);
    if (!f) Bad(key, "an IPv4 or IPv6 address");
    if (family && f != family) Bad(key, "an address of the same family as address");
    return s;
  }
  // `prefix`: a prefix length for `family` (required).
  uint8_t Prefix(int family) const {
    if (!Has("prefix")) Bad("prefix", "a prefix length");
    return uint8_t(Int("prefix", 0, family == AF_INET ? 32 : 128, 0));
  }
  // `family`: 'inet', 'inet6' or absent (AF_UNSPEC).
  uint8_t Family() const {
    std::string f = Str("family");
    if (f.empty()) return AF_UNSPEC;
    if (f == "inet") return AF_INET;
    if (f == "inet6") return AF_INET6;
    Bad("family", "'inet' or 'inet6'");
  }
};

// The address family of an IP text (0 when it is none).
inline int FamilyOf(const std::string& ip) {
  nl::Bytes b;
  return nl::ParseIp(ip, &b);
}

// The options object that is the first argument of `fn`.
inline Args GetArgs(const Napi::CallbackInfo& info, const char* fn) {
  if (info.Length() < 1 || !info[0].IsObject() || info[0].IsArray()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": expected an options object");
  return Args{info.Env(), fn, info[0].As<Napi::Object>()};
}

// Argument `i`, an fd: a non-negative integer.
inline int FdArg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": fd must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= INT32_MAX) || d != double(int(d))) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": fd must be a non-negative integer");
  return int(d);
}

// A Buffer's bytes, copied; `what` names it in the TypeError.
inline std::vector<uint8_t> BufferArg(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsBuffer()) throw Napi::TypeError::New(env, std::string(what) + " must be a Buffer");
  auto b = v.As<Napi::Buffer<uint8_t>>();
  return std::vector<uint8_t>(b.Data(), b.Data() + b.Length());
}

// Argument 0, a path: a string without NUL bytes.
inline std::string PathArg(const Napi::CallbackInfo& info, const char* fn) {
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": path must be a string");
  std::string s = info[0].As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": path must not hold NUL bytes");
  return s;
}

// Argument `i`, a list of fds for one SCM_RIGHTS message (absent: none).
inline std::vector<int> FdListArg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  std::vector<int> fds;
  if (info.Length() <= i || info[i].IsUndefined()) return fds;
  if (!info[i].IsArray()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": fds must be an array of fds");
  Napi::Array arr = info[i].As<Napi::Array>();
  if (arr.Length() > 253) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": at most 253 fds fit in one message");
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value e = arr.Get(k);
    double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
    if (d < 0 || d > INT32_MAX || d != double(int(d))) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": fds must be an array of non-negative integers");
    fds.push_back(int(d));
  }
  return fds;
}

// Argument `i`, a timeout in ms: -1 (forever, also when absent) or more.
inline int TimeoutArg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (info.Length() <= i || info[i].IsUndefined()) return -1;
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": timeoutMs must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d < -1 || d > INT32_MAX || d != double(int(d))) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": timeoutMs must be an integer >= -1");
  return int(d);
}

}  // namespace netfd::js
