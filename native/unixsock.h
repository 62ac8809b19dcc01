// Unix seqpacket sockets for the host agent and its clients: listen,
// connect, and non-blocking accept/recv/send that report "would block"
// instead of waiting (the caller waits on the socket class, uvsock.h).
#pragma once

#include <sys/un.h>

#include <string>
#include <vector>

#include "common.h"

namespace netfd {

// sockaddr_un for `path` (1 to 107 bytes, no NUL), else ENAMETOOLONG naming `what`.
sockaddr_un UnixAddress(const std::string& path, const char* what);

// socket(AF_UNIX, SOCK_SEQPACKET) bound to `path` and listening; O_CLOEXEC,
// O_NONBLOCK. The path must not exist (EADDRINUSE otherwise).
Fd UnixListen(const std::string& path, int backlog);

// socket(AF_UNIX, SOCK_STREAM) bound to `path` with file mode `mode` (less
// the umask, as bind applies it) and listening; O_CLOEXEC and blocking, as a
// program that listens itself makes it: for handing to a child (qemu's
// `-chardev socket,fd=N,server=on`), not for accepting here. The path must
// not exist (EADDRINUSE otherwise).
Fd UnixStreamListen(const std::string& path, int backlog, unsigned mode);

// socket(AF_UNIX, SOCK_SEQPACKET) connected to `path`; O_CLOEXEC, blocking
// (sends and receives here pass MSG_DONTWAIT themselves).
Fd UnixConnect(const std::string& path);

// accept4 with SOCK_CLOEXEC | SOCK_NONBLOCK; an invalid Fd when none waits.
Fd AcceptNow(int listenFd);

struct Message {
  std::vector<uint8_t> data;
  std::vector<Fd> fds;
  size_t size = 0;        // the message's real length (more than data.size() when truncated)
  bool truncated = false; // MSG_TRUNC: longer than maxBytes, the rest is gone
  bool ctrunc = false;    // MSG_CTRUNC: fds beyond maxFds were closed by the kernel
  bool eof = false;       // the peer closed its end
};

// One recvmsg(MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC); false when no
// message waits.
bool RecvNow(int fd, size_t maxBytes, size_t maxFds, Message& out);

// One sendmsg(MSG_DONTWAIT | MSG_NOSIGNAL) with `fds` as SCM_RIGHTS; -1 when
// the socket has no room now.
long SendNow(int fd, const std::vector<uint8_t>& data, const std::vector<int>& fds);

struct SocketInfo {
  std::string family;  // "unix", "inet", "inet6", "other"
  std::string type;    // "seqpacket", "stream", "dgram", "other"
  bool listening = false;
};
// getsockname/SO_TYPE/SO_ACCEPTCONN of an inherited fd (socket activation).
SocketInfo GetSocketInfo(int fd);

// fcntl O_NONBLOCK on.
void SetNonblock(int fd);

}  // namespace netfd
