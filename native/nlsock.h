// rtnetlink socket I/O: sockets bound to the namespace an operation targets,
// kept between operations (SocketFor); requests are encoded and replies
// decoded by nlcodec.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common.h"
#include "nlcodec.h"

namespace netfd::nl {

class Socket {
 public:
  // A NETLINK_ROUTE socket in `netns` (empty: the caller's namespace) with
  // extended acks on.
  explicit Socket(const std::string& netns);
  // The same in the namespace `nsFd` refers to (an open nsfs file); `name`
  // names it in errors.
  Socket(const Fd& nsFd, const std::string& name);

  // Sends one request and returns the data messages of its reply (echo or
  // dump parts). A kernel error throws SysError with errno and extack text;
  // `op` names the operation in the message (e.g. "create link mvt0").
  std::vector<Message> Transact(Bytes req, const std::string& op);

  // Sends many requests with at most `window` unanswered at once and returns
  // each one's errno (0 = success) in request order.
  std::vector<Message> TransactMany(std::vector<Bytes> reqs, size_t window);

  // Convenience wrappers.
  Link GetLink(int32_t index, const std::string& name);
  std::vector<Link> DumpLinks();

 private:
  Socket() = default;
  void Bind();
  uint32_t NextSeq() { return ++seq_; }
  void Send(const Bytes& req);
  std::vector<Message> Receive();

  Fd fd_;
  uint32_t seq_ = 0;
};

// A NETLINK_ROUTE socket opened once inside a namespace (the thread enters
// it, makes the socket and goes back: the socket stays bound to it) and
// reused by later requests, one operation at a time (vishvananda/netlink's
// NewHandleAt). Close() releases the socket; operations after it are EBADF.
class NetnsHandle {
 public:
  explicit NetnsHandle(const std::string& netns);
  const std::string& netns() const { return netns_; }
  // Waits for the operation under way, then closes the socket.
  void Close();

 private:
  friend class SocketFor;
  const std::string netns_;
  std::mutex mu_;
  std::optional<Socket> sock_;  // empty once closed
};

// Where an operation runs: namespace `path` with a socket of its own (empty:
// the caller's namespace), or `handle`'s socket when there is one.
struct Netns {
  Netns() = default;
  Netns(std::string p) : path(std::move(p)) {}  // NOLINT: a path is a Netns
  Netns(const char* p) : path(p) {}             // NOLINT
  std::string path;
  std::shared_ptr<NetnsHandle> handle;
};

// A namespace's identity: the device and inode of its nsfs file. The
// kernel does not reuse the inode while a socket in the namespace holds it.
struct NsKey {
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool operator==(const NsKey& o) const { return dev == o.dev && ino == o.ino; }
};

// The socket of one operation, held for it alone until the SocketFor goes
// away: the handle's, or else one from the socket cache of `where.path`.
//
// The socket cache: sockets of operations without a handle are kept between
// operations, a process-wide pool of idle sockets per namespace, so an
// operation costs neither a socket nor two setns(2) calls. A socket is found
// by the identity of the namespace its path names now (one stat(2)), so a
// namespace deleted and made again under the same name gets new sockets. An
// idle socket is closed after kSocketIdleMs without use (a reaper thread runs
// while the pool holds any), on CloseCachedSockets(), or on the way back to
// the pool when kMaxIdlePerNamespace of its namespace are idle already. A
// socket whose operation threw is closed, not kept (a reply may be left in
// it). Kept sockets are fds of the process (NETLINK_ROUTE, O_CLOEXEC): at
// most kMaxIdlePerNamespace per namespace used in the last kSocketIdleMs; a
// namespace removed meanwhile is freed by the kernel once they are closed.
class SocketFor {
 public:
  explicit SocketFor(const Netns& where);
  ~SocketFor();
  SocketFor(const SocketFor&) = delete;
  SocketFor& operator=(const SocketFor&) = delete;
  Socket& operator*() { return *sock_; }
  Socket* operator->() { return sock_; }

 private:
  std::optional<Socket> own_;
  std::unique_lock<std::mutex> lock_;
  Socket* sock_ = nullptr;
  NsKey key_;
  bool keep_ = false;  // own_ goes back to the cache
  int uncaught_ = 0;
};

constexpr int kSocketIdleMs = 1000;
constexpr size_t kMaxIdlePerNamespace = 8;

// Closes every idle socket of the cache now; returns how many (sockets in
// use by an operation return to the cache afterwards). For fd-counting
// tests and for a caller about to remove a namespace it used.
size_t CloseCachedSockets();

// Idle sockets in the cache now.
size_t CachedSockets();

// Throws the SysError a NLMSG_ERROR message describes.
[[noreturn]] void ThrowNetlinkError(const Message& m, const std::string& op);

}  // namespace netfd::nl
