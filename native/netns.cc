#include "netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cstdlib>
#include <exception>
#include <thread>

namespace netfd {

Fd OpenNetns(const std::string& nameOrPath) {
  std::string path = nameOrPath.find('/') == std::string::npos ? "/run/netns/" + nameOrPath : nameOrPath;
  // O_PATH first: nothing is opened for real (no FIFO's open waits, no
  // device's open runs) until the object is known to be on nsfs; then that
  // same object, not whatever the path names by now, is opened through
  // /proc/self/fd.
  Fd ref;
  try {
    ref = OpenCloexec(path, O_PATH);
  } catch (SysError& e) {
    e.message = "network namespace " + nameOrPath + ": " + e.message;
    throw;
  }
  struct stat st {}, self {};
  if (::fstat(ref.get(), &st) < 0) ThrowErrno("fstat", "network namespace " + nameOrPath);
  if (::stat("/proc/self/ns/net", &self) < 0) ThrowErrno("stat", "/proc/self/ns/net");
  if (st.st_dev != self.st_dev)
    ThrowCode("EINVAL", EINVAL, "open", "network namespace " + nameOrPath + ": not a namespace file (nsfs), such as /proc/PID/ns/net or /run/netns/NAME");
  return OpenCloexec("/proc/self/fd/" + std::to_string(ref.get()), O_RDONLY);
}

NetnsGuard::NetnsGuard(const std::string& nameOrPath) {
  if (nameOrPath.empty()) return;
  Fd target = OpenNetns(nameOrPath);
  Fd original = OpenCloexec("/proc/thread-self/ns/net", O_RDONLY);
  if (::setns(target.get(), CLONE_NEWNET) < 0) ThrowErrno("setns", "enter network namespace " + nameOrPath);
  original_ = std::move(original);
}

std::string EnterWithPrivateSysfs(const std::string& netns, const std::string& what) {
  if (!netns.empty()) {
    Fd ns = OpenNetns(netns);
    if (::setns(ns.get(), CLONE_NEWNET) < 0) ThrowErrno("setns", "enter network namespace " + netns + " to " + what);
  }
  if (::unshare(CLONE_NEWNS) < 0) ThrowErrno("unshare", "make a private mount namespace to " + what);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) ThrowErrno("mount", "make mounts private to " + what);
  if (::mount("netfd", "/sys", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0700,size=16k") < 0) ThrowErrno("mount", "mount a private tmpfs on /sys to " + what);
  if (::mkdir("/sys/sysfs", 0700) < 0) ThrowErrno("mkdir", "make /sys/sysfs on the private tmpfs to " + what);
  if (::mount("sysfs", "/sys/sysfs", "sysfs", MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NODEV, nullptr) < 0)
    ThrowErrno("mount", "mount a private sysfs for namespace " + (netns.empty() ? std::string("of the process") : netns) + " to " + what);
  return "/sys/sysfs";
}

NetnsGuard::~NetnsGuard() {
  // A worker thread left in a foreign namespace would silently misdirect
  // later work; that is worse than stopping.
  if (original_ && ::setns(original_.get(), CLONE_NEWNET) < 0) std::abort();
}

void RunOnScratchThread(const std::function<void()>& fn) {
  std::exception_ptr error;
  std::thread t([&] {
    try {
      fn();
    } catch (...) {
      error = std::current_exception();
    }
  });
  t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace netfd
