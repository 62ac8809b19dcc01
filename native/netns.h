// Running work inside another network namespace without moving the process.
#pragma once

#include <functional>
#include <string>

#include "common.h"

namespace netfd {

// Opens a namespace reference: a path (contains '/') or a name under /run/netns.
Fd OpenNetns(const std::string& nameOrPath);

// Moves the calling thread into `nameOrPath` (no-op when empty) for the
// guard's lifetime and back afterwards. Only for code that creates
// namespace-bound objects (sockets, /dev/net/tun opens): those keep their
// namespace after the thread returns.
class NetnsGuard {
 public:
  explicit NetnsGuard(const std::string& nameOrPath);
  ~NetnsGuard();
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

 private:
  Fd original_;
};

// Runs `fn` on a fresh thread that exits afterwards, so the function may
// change per-thread state for good (namespaces, a private mount namespace).
// Exceptions thrown by `fn` are rethrown here.
void RunOnScratchThread(const std::function<void()>& fn);

// For a scratch thread only: enters `netns` (none: stays), gives the thread a
// private mount namespace, covers /sys with a fresh private tmpfs (where
// device nodes may be made) and mounts the namespace's own sysfs at
// /sys/sysfs, which it returns. A new tmpfs first, because mounting sysfs
// straight on /sys is EBUSY where /sys already is this namespace's sysfs, as
// under `ip netns exec`. `what` names the purpose in errors.
std::string EnterWithPrivateSysfs(const std::string& netns, const std::string& what);

}  // namespace netfd
