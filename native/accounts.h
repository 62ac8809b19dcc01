// Users and groups through the C library's name service switch (NSS), so
// accounts from LDAP, sssd or extrausers count as /etc/passwd ones do.
// Synchronous calls on the caller's thread: lib/agent/accounts.ts caches the
// answers (see its header for why not the threadpool).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace netfd {

struct PasswdEntry {
  std::string name;
  uid_t uid;
  gid_t gid;
};

struct GroupEntry {
  std::string name;
  gid_t gid;
};

// getpwnam_r / getpwuid_r / getgrnam_r with a buffer that grows on ERANGE.
// No such account is nullopt (the call returned 0 and a NULL result); any
// other failure throws SysError with the errno the call returned.
std::optional<PasswdEntry> PasswdByName(const std::string& name);
std::optional<PasswdEntry> PasswdByUid(uid_t uid);
std::optional<GroupEntry> GroupByName(const std::string& name);

// getgrouplist(user, gid) with an array that grows until every group fits:
// `gid` and the gids of every group listing `user`. glibc reports no errors
// here (a failing source contributes nothing); an unknown user gives {gid}.
std::vector<gid_t> GroupList(const std::string& user, gid_t gid);

}  // namespace netfd
