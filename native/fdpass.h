// Unix socket helpers: peer credentials and socket pairs (fds themselves
// travel through the socket class, uvsock.h).
#pragma once

#include <string>
#include <vector>

#include "common.h"

namespace netfd {

struct Credentials {
  int pid, uid, gid;
};
Credentials PeerCred(int sock);

// socketpair(AF_UNIX, SOCK_SEQPACKET or SOCK_STREAM, O_CLOEXEC).
std::pair<Fd, Fd> SocketPair(bool seqpacket);

}  // namespace netfd
