// rtnetlink socket I/O: one socket per operation, bound to the namespace the
// operation targets; requests are encoded and replies decoded by nlcodec.
#pragma once

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

// Throws the SysError a NLMSG_ERROR message describes.
[[noreturn]] void ThrowNetlinkError(const Message& m, const std::string& op);

}  // namespace netfd::nl
