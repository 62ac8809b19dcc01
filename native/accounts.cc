#include "accounts.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common.h"
#include "jserror.h"

namespace netfd {

namespace {

// The largest buffer a single entry may need (a group with very many members).
constexpr size_t kMaxBuffer = size_t(1) << 24;
// The most groups getgrouplist may return.
constexpr size_t kMaxGroups = size_t(1) << 20;

size_t FirstSize(int name) {
  long n = ::sysconf(name);
  return n > 0 && n < long(kMaxBuffer) ? size_t(n) : 1024;
}

// Runs one _r lookup `call(buf, size, &result)` (which returns 0 or an
// errno), growing the buffer on ERANGE and retrying on EINTR. Returns
// whether an entry was found; throws SysError naming `syscall` and `what`.
template <typename Entry, typename Call>
bool Lookup(const char* syscall, const std::string& what, int sizeName, std::vector<char>& buf, Call call) {
  buf.resize(FirstSize(sizeName));
  for (;;) {
    Entry* result = nullptr;
    int err = call(buf.data(), buf.size(), &result);
    if (err == 0) return result != nullptr;
    if (err == EINTR) continue;
    if (err == ERANGE && buf.size() < kMaxBuffer) {
      buf.resize(buf.size() * 2);
      continue;
    }
    ThrowErrno(syscall, std::string(syscall) + " for " + what, err);
  }
}

std::optional<PasswdEntry> FromPasswd(bool found, const passwd& pw) {
  if (!found) return std::nullopt;
  return PasswdEntry{pw.pw_name ? pw.pw_name : "", pw.pw_uid, pw.pw_gid};
}

}  // namespace

std::optional<PasswdEntry> PasswdByName(const std::string& name) {
  passwd pw{};
  std::vector<char> buf;
  bool found = Lookup<passwd>("getpwnam_r", "user " + name, _SC_GETPW_R_SIZE_MAX, buf,
                      [&](char* b, size_t n, passwd** r) { return ::getpwnam_r(name.c_str(), &pw, b, n, r); });
  return FromPasswd(found, pw);
}

std::optional<PasswdEntry> PasswdByUid(uid_t uid) {
  passwd pw{};
  std::vector<char> buf;
  bool found = Lookup<passwd>("getpwuid_r", "uid " + std::to_string(uid), _SC_GETPW_R_SIZE_MAX, buf,
                      [&](char* b, size_t n, passwd** r) { return ::getpwuid_r(uid, &pw, b, n, r); });
  return FromPasswd(found, pw);
}

std::optional<GroupEntry> GroupByName(const std::string& name) {
  group gr{};
  std::vector<char> buf;
  bool found = Lookup<group>("getgrnam_r", "group " + name, _SC_GETGR_R_SIZE_MAX, buf,
                      [&](char* b, size_t n, group** r) { return ::getgrnam_r(name.c_str(), &gr, b, n, r); });
  if (!found) return std::nullopt;
  return GroupEntry{gr.gr_name ? gr.gr_name : "", gr.gr_gid};
}

std::vector<gid_t> GroupList(const std::string& user, gid_t gid) {
  std::vector<gid_t> groups(64);
  for (;;) {
    int n = int(groups.size());
    if (::getgrouplist(user.c_str(), gid, groups.data(), &n) >= 0) {
      groups.resize(size_t(n));
      return groups;
    }
    // -1: too small; n says how many there are (some versions leave it as is).
    size_t want = size_t(n) > groups.size() ? size_t(n) : groups.size() * 2;
    if (want > kMaxGroups) ThrowErrno("getgrouplist", "getgrouplist for user " + user + ": more than " + std::to_string(kMaxGroups) + " groups", ERANGE);
    groups.resize(want);
  }
}

namespace {

// ---- Node-API glue: argument checks, then the lookup ------------------------

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

Napi::Value GetpwnamJs(const Napi::CallbackInfo& info) {
  std::string name = NameArg(info, "getpwnam", "name");
  return PasswdToJs(info.Env(), Sync(info.Env(), [&] { return PasswdByName(name); }));
}

Napi::Value GetpwuidJs(const Napi::CallbackInfo& info) {
  uint32_t uid = IdArg(info, 0, "getpwuid", "uid");
  return PasswdToJs(info.Env(), Sync(info.Env(), [&] { return PasswdByUid(uid_t(uid)); }));
}

Napi::Value GetgrnamJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = NameArg(info, "getgrnam", "name");
  std::optional<GroupEntry> g = Sync(env, [&] { return GroupByName(name); });
  if (!g) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", g->name);
  o.Set("gid", double(g->gid));
  return o;
}

Napi::Value GetgrouplistJs(const Napi::CallbackInfo& info) {
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
  exports.Set("getpwnam", Napi::Function::New(env, GetpwnamJs, "getpwnam"));
  exports.Set("getpwuid", Napi::Function::New(env, GetpwuidJs, "getpwuid"));
  exports.Set("getgrnam", Napi::Function::New(env, GetgrnamJs, "getgrnam"));
  exports.Set("getgrouplist", Napi::Function::New(env, GetgrouplistJs, "getgrouplist"));
}

}  // namespace netfd
