// Bindings of ../accounts.h: users and groups through NSS, synchronous
// (they block for as long as the name service takes; lib/agent caches them).
#include "../accounts.h"

#include "../jserror.h"
#include "bind.h"

namespace netfd::js {

namespace {

std::string NameArg(const Napi::CallbackInfo& info, const char* fn, const char* what) {
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + what + " must be a string");
  std::string s = info[0].As<Napi::String>().Utf8Value();
  if (s.empty() || s.find('\0') != std::string::npos) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + what + " must be a non-empty string without NUL bytes");
  return s;
}

uint32_t IdArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + what + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  // (uid_t)-1 and (gid_t)-1 mean "no id".
  if (!(d >= 0 && d <= 4294967294.0) || d != double(uint32_t(d))) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + what + " must be an integer from 0 to 4294967294");
  return uint32_t(d);
}

Napi::Value PasswdToJs(Napi::Env env, const std::optional<PasswdEntry>& p) {
  if (!p) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", p->name);
  o.Set("uid", double(p->uid));
  o.Set("gid", double(p->gid));
  return o;
}

Napi::Value Getpwnam(const Napi::CallbackInfo& info) {
  std::string name = NameArg(info, "getpwnam", "name");
  return PasswdToJs(info.Env(), Sync(info.Env(), [&] { return PasswdByName(name); }));
}

Napi::Value Getpwuid(const Napi::CallbackInfo& info) {
  uint32_t uid = IdArg(info, 0, "getpwuid", "uid");
  return PasswdToJs(info.Env(), Sync(info.Env(), [&] { return PasswdByUid(uid_t(uid)); }));
}

Napi::Value Getgrnam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = NameArg(info, "getgrnam", "name");
  std::optional<GroupEntry> g = Sync(env, [&] { return GroupByName(name); });
  if (!g) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", g->name);
  o.Set("gid", double(g->gid));
  return o;
}

Napi::Value Getgrouplist(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string user = NameArg(info, "getgrouplist", "user");
  uint32_t gid = IdArg(info, 1, "getgrouplist", "gid");
  std::vector<gid_t> groups = Sync(env, [&] { return GroupList(user, gid_t(gid)); });
  Napi::Array a = Napi::Array::New(env, groups.size());
  for (size_t i = 0; i < groups.size(); i++) a.Set(uint32_t(i), double(groups[i]));
  return a;
}

}  // namespace

void InitAccounts(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "getpwnam", Getpwnam);
  Export(env, exports, "getpwuid", Getpwuid);
  Export(env, exports, "getgrnam", Getgrnam);
  Export(env, exports, "getgrouplist", Getgrouplist);
}

}  // namespace netfd::js
