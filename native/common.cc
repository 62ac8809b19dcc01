#include "common.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>

namespace netfd {

void ThrowErrno(const char* syscall, const std::string& what, int err) {
  SysError e;
  e.err = err;
  e.syscall = syscall;
  e.message = what + ": " + std::strerror(err);
  throw e;
}

void ThrowCode(const char* code, int err, const char* syscall, const std::string& message) {
  SysError e;
  e.err = err;
  e.code = code;
  e.syscall = syscall;
  e.message = message;
  throw e;
}

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Fd OpenCloexec(const std::string& path, int flags) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) ThrowErrno("open", "open " + path);
  return Fd(fd);
}

void Ioctl(int fd, unsigned long request, void* arg, const char* name, const std::string& what) {
  if (::ioctl(fd, request, arg) < 0) {
    int err = errno;
    SysError e;
    e.err = err;
    e.syscall = "ioctl";
    e.message = what + " (" + name + "): " + std::strerror(err);
    throw e;
  }
}

}  // namespace netfd
