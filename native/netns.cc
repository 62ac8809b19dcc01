#include "netns.h"

#include <fcntl.h>
#include <sched.h>

#include <cstdlib>
#include <exception>
#include <thread>

namespace netfd {

Fd OpenNetns(const std::string& nameOrPath) {
  std::string path = nameOrPath.find('/') == std::string::npos ? "/run/netns/" + nameOrPath : nameOrPath;
  Fd fd;
  try {
    fd = OpenCloexec(path, O_RDONLY);
  } catch (SysError& e) {
    e.message = "network namespace " + nameOrPath + ": " + e.message;
    throw;
  }
  return fd;
}

NetnsGuard::NetnsGuard(const std::string& nameOrPath) {
  if (nameOrPath.empty()) return;
  Fd target = OpenNetns(nameOrPath);
  Fd original = OpenCloexec("/proc/thread-self/ns/net", O_RDONLY);
  if (::setns(target.get(), CLONE_NEWNET) < 0) ThrowErrno("setns", "enter network namespace " + nameOrPath);
  original_ = std::move(original);
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
