#include "unixsock.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace netfd {

sockaddr_un UnixAddress(const std::string& path, const char* what) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof a.sun_path || path.find('\0') != std::string::npos)
    ThrowCode("ENAMETOOLONG", ENAMETOOLONG, what, std::string(what) + " " + path + ": a socket path must be 1 to " + std::to_string(sizeof a.sun_path - 1) + " bytes");
  std::memcpy(a.sun_path, path.data(), path.size());
  return a;
}


Fd UnixListen(const std::string& path, int backlog) {
  sockaddr_un a = UnixAddress(path, "bind");
  Fd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s) ThrowErrno("socket", "create a unix socket");
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) ThrowErrno("bind", "bind " + path);
  if (::listen(s.get(), backlog) < 0) ThrowErrno("listen", "listen on " + path);
  return s;
}

Fd UnixStreamListen(const std::string& path, int backlog, unsigned mode) {
  sockaddr_un a = UnixAddress(path, "bind");
  Fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) ThrowErrno("socket", "create a unix socket");
  // bind gives the file the socket inode's mode (less the umask): set it
  // first, so the file never exists with a wider one.
  if (::fchmod(s.get(), mode) < 0) ThrowErrno("fchmod", "set the mode of a unix socket");
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) ThrowErrno("bind", "bind " + path);
  if (::listen(s.get(), backlog) < 0) {
    int e = errno;
    ::unlink(path.c_str());  // ours: bind made it just now
    errno = e;
    ThrowErrno("listen", "listen on " + path);
  }
  return s;
}

Fd UnixConnect(const std::string& path) {
  sockaddr_un a = UnixAddress(path, "connect");
  Fd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!s) ThrowErrno("socket", "create a unix socket");
  int r;
  do {
    r = ::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  } while (r < 0 && errno == EINTR);
  if (r < 0) ThrowErrno("connect", "connect to " + path);
  return s;
}

Fd AcceptNow(int listenFd) {
  for (;;) {
    int fd = ::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) return Fd(fd);
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Fd();
    ThrowErrno("accept4", "accept a connection");
  }
}

bool RecvNow(int fd, size_t maxBytes, size_t maxFds, Message& out) {
  out.data.resize(maxBytes ? maxBytes : 1);
  iovec iov{out.data.data(), out.data.size()};
  std::vector<uint8_t> control(maxFds ? CMSG_SPACE(sizeof(int) * maxFds) : 0);
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = maxFds ? control.data() : nullptr;
  // CMSG_LEN, not CMSG_SPACE: the padding would let one fd more than maxFds in.
  msg.msg_controllen = maxFds ? CMSG_LEN(sizeof(int) * maxFds) : 0;
  ssize_t n;
  bool reset = false;
  for (;;) {
    n = ::recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    // The peer closed without reading all we sent. The kernel reports that
    // once, ahead of the messages the peer sent before closing (an agent's
    // refusal says why): read on, the queue first, then EOF.
    if (errno == ECONNRESET && !reset) {
      reset = true;
      continue;
    }
    if (errno == ECONNRESET || (reset && (errno == EAGAIN || errno == EWOULDBLOCK))) {
      out.data.clear();
      out.eof = true;
      return true;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
    ThrowErrno("recvmsg", "receive a message");
  }
  // Own every fd that arrived before looking at anything else.
  for (cmsghdr* c = maxFds ? CMSG_FIRSTHDR(&msg) : nullptr; c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int got;
      std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      out.fds.emplace_back(got);
    }
  }
  out.size = size_t(n);
  out.truncated = (msg.msg_flags & MSG_TRUNC) != 0 || size_t(n) > out.data.size();
  out.ctrunc = (msg.msg_flags & MSG_CTRUNC) != 0;
  out.eof = n == 0 && out.fds.empty() && !out.ctrunc;
  out.data.resize(std::min(size_t(n), out.data.size()));
  return true;
}

long SendNow(int fd, const std::vector<uint8_t>& data, const std::vector<int>& fds) {
  if (data.empty()) ThrowCode("EINVAL", EINVAL, "sendmsg", "send: a message must hold at least one byte");
  iovec iov{const_cast<uint8_t*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<uint8_t> control;
  if (!fds.empty()) {
    control.resize(CMSG_SPACE(sizeof(int) * fds.size()));
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    ssize_t n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return long(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
    ThrowErrno("sendmsg", "send a message");
  }
}

SocketInfo GetSocketInfo(int fd) {
  SocketInfo info;
  sockaddr_storage a{};
  socklen_t alen = sizeof a;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &alen) < 0) ThrowErrno("getsockname", "fd " + std::to_string(fd) + " is not a socket");
  info.family = a.ss_family == AF_UNIX ? "unix" : a.ss_family == AF_INET ? "inet" : a.ss_family == AF_INET6 ? "inet6" : "other";
  int type = 0, acc = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) ThrowErrno("getsockopt", "read SO_TYPE");
  info.type = type == SOCK_SEQPACKET ? "seqpacket" : type == SOCK_STREAM ? "stream" : type == SOCK_DGRAM ? "dgram" : "other";
  len = sizeof acc;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0) ThrowErrno("getsockopt", "read SO_ACCEPTCONN");
  info.listening = acc != 0;
  return info;
}

void SetNonblock(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) ThrowErrno("fcntl", "set O_NONBLOCK on fd " + std::to_string(fd));
}

}  // namespace netfd
