#include "fdpass.h"

#include "unixsock.h"

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
  for (;;) {
    long n = SendNow(sock, data, fds);
    if (n >= 0) return size_t(n);
    WaitFor(sock, POLLOUT, timeoutMs, "send fds");
  }
}

Received RecvFds(int sock, size_t maxBytes, size_t maxFds, int timeoutMs) {
  Message m;
  while (!RecvNow(sock, maxBytes, maxFds, m)) WaitFor(sock, POLLIN, timeoutMs, "receive fds");
  // RecvNow owns every fd that arrived: they close with `m` on a throw.
  if (m.ctrunc)
    ThrowCode("ECTRUNC", EMSGSIZE, "recvmsg", "receive fds: the peer sent more fds than the " + std::to_string(maxFds) + " expected; they were closed");
  if (m.truncated)
    ThrowCode("EMSGSIZE", EMSGSIZE, "recvmsg", "receive fds: the message is longer than the " + std::to_string(maxBytes) + " bytes expected");
  return Received{std::move(m.data), std::move(m.fds)};
}

Credentials PeerCred(int sock) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) ThrowErrno("getsockopt", "read peer credentials (SO_PEERCRED)");
  return Credentials{cred.pid, int(cred.uid), int(cred.gid)};
}

std::pair<Fd, Fd> SocketPair(bool seqpacket) {
  int sv[2];
  if (::socketpair(AF_UNIX, (seqpacket ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_CLOEXEC, 0, sv) < 0) ThrowErrno("socketpair", "make a socket pair");
  return {Fd(sv[0]), Fd(sv[1])};
}

}  // namespace netfd
