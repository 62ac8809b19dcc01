// Shared pieces of the native layer: the error type every syscall wrapper
// throws, and the owning fd wrapper (RAII) that closes on every error path.
#pragma once

#include <cerrno>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace netfd {

// A failed syscall or kernel request. `err` is the positive errno; `code` is
// an explicit code (empty means "the errno's name"); `extack` is the text the
// kernel's netlink extended ack gave, if any.
struct SysError : std::exception {
  int err = 0;
  std::string code;
  std::string syscall;
  std::string message;
  std::string extack;
  int64_t extackOffset = -1;
  const char* what() const noexcept override { return message.c_str(); }
};

// Throws SysError for `err` (default: the current errno) with a message
// "<what>: <strerror>".
[[noreturn]] void ThrowErrno(const char* syscall, const std::string& what, int err = errno);
// Throws SysError carrying an explicit code.
[[noreturn]] void ThrowCode(const char* code, int err, const char* syscall, const std::string& message);

// Owns one file descriptor: closed when the owner goes away unless released.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// open(2) with O_CLOEXEC, retried on EINTR; throws SysError("open", path).
Fd OpenCloexec(const std::string& path, int flags);

// ioctl(2) that throws SysError naming the request on failure.
void Ioctl(int fd, unsigned long request, void* arg, const char* name, const std::string& what);

}  // namespace netfd
