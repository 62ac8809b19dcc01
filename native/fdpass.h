// Passing fds over unix sockets (SCM_RIGHTS) and peer credentials.
#pragma once

#include <string>
#include <vector>

#include "common.h"

namespace netfd {

// sendmsg with `fds` in one SCM_RIGHTS message; waits up to `timeoutMs`
// (-1: forever) for room on a non-blocking socket. Returns bytes sent.
size_t SendFds(int sock, const std::vector<uint8_t>& data, const std::vector<int>& fds, int timeoutMs);

// recvmsg with MSG_CMSG_CLOEXEC, waiting up to `timeoutMs` for data. More
// fds than `maxFds` (MSG_CTRUNC) is an error, and nothing received is kept.
struct Received {
  std::vector<uint8_t> data;
  std::vector<Fd> fds;
};
Received RecvFds(int sock, size_t maxBytes, size_t maxFds, int timeoutMs);

struct Credentials {
  int pid, uid, gid;
};
Credentials PeerCred(int sock);

// socketpair(AF_UNIX, SOCK_SEQPACKET or SOCK_STREAM, O_CLOEXEC).
std::pair<Fd, Fd> SocketPair(bool seqpacket);

}  // namespace netfd
