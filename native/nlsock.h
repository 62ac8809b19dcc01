// rtnetlink socket I/O: one socket per operation, bound to the namespace the
// operation targets; requests are encoded and replies decoded by nlcodec.
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

// The socket of one operation: a fresh one in `where.path`, or the handle's,
// held for this operation alone until the SocketFor goes away.
class SocketFor {
 public:
  explicit SocketFor(const Netns& where);
  Socket& operator*() { return *sock_; }
  Socket* operator->() { return sock_; }

 private:
  std::optional<Socket> own_;
  std::unique_lock<std::mutex> lock_;
  Socket* sock_ = nullptr;
};

// Throws the SysError a NLMSG_ERROR message describes.
[[noreturn]] void ThrowNetlinkError(const Message& m, const std::string& op);

}  // namespace netfd::nl
