#include "accounts.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common.h"

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

}  // namespace netfd
