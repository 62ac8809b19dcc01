#include "fdpass.h"

#include <poll.h>
#include <sys/socket.h>

#include <cstring>

namespace netfd {

namespace {

void WaitFor(int sock, short events, int timeoutMs, const char* what) {
  pollfd p{sock, events, 0};
  int n;
  do {
    n = ::poll(&p, 1, timeoutMs);
  } while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno("poll", what);
  if (n == 0) ThrowCode("ETIMEDOUT", ETIMEDOUT, "poll", std::string(what) + ": timed out after " + std::to_string(timeoutMs) + " ms");
}

}  // namespace

size_t SendFds(int sock, const std::vector<uint8_t>& data, const std::vector<int>& fds, int timeoutMs) {
  if (data.empty()) ThrowCode("EINVAL", EINVAL, "sendmsg", "send fds: the payload must hold at least one byte");
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
    ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return size_t(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      WaitFor(sock, POLLOUT, timeoutMs, "send fds");
      continue;
    }
    ThrowErrno("sendmsg", "send fds");
  }
}

Received RecvFds(int sock, size_t maxBytes, size_t maxFds, int timeoutMs) {
  Received out;
  out.data.resize(maxBytes ? maxBytes : 1);
  iovec iov{out.data.data(), out.data.size()};
  std::vector<uint8_t> control(CMSG_SPACE(sizeof(int) * (maxFds ? maxFds : 1)));
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  // No room at all for maxFds 0; CMSG_LEN, not CMSG_SPACE: the padding would
  // let one fd more than maxFds in.
  msg.msg_control = maxFds ? control.data() : nullptr;
  msg.msg_controllen = maxFds ? CMSG_LEN(sizeof(int) * maxFds) : 0;
  ssize_t n;
  for (;;) {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      WaitFor(sock, POLLIN, timeoutMs, "receive fds");
      continue;
    }
    ThrowErrno("recvmsg", "receive fds");
  }
  // Own every fd that arrived before looking at anything else.
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      out.fds.emplace_back(fd);
    }
  }
  if (msg.msg_flags & MSG_CTRUNC)
    ThrowCode("ECTRUNC", EMSGSIZE, "recvmsg", "receive fds: the peer sent more fds than the " + std::to_string(maxFds) + " expected; they were closed");
  if (msg.msg_flags & MSG_TRUNC)
    ThrowCode("EMSGSIZE", EMSGSIZE, "recvmsg", "receive fds: the message is longer than the " + std::to_string(maxBytes) + " bytes expected");
  out.data.resize(size_t(n));
  return out;
}

PeerCred GetPeerCred(int sock) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) ThrowErrno("getsockopt", "read peer credentials (SO_PEERCRED)");
  return PeerCred{cred.pid, int(cred.uid), int(cred.gid)};
}

std::pair<Fd, Fd> MakeSocketPair(bool seqpacket) {
  int sv[2];
  if (::socketpair(AF_UNIX, (seqpacket ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_CLOEXEC, 0, sv) < 0) ThrowErrno("socketpair", "make a socket pair");
  return {Fd(sv[0]), Fd(sv[1])};
}

}  // namespace netfd
