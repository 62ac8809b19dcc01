#include "fdpass.h"

#include <sys/socket.h>

#include <cstring>

namespace netfd {

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
