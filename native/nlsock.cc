#include "nlsock.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <cstdlib>
#include <map>
#include <system_error>
#include <thread>

#include "netns.h"

namespace netfd::nl {

namespace {
void SetSeq(Bytes* req, uint32_t seq) { std::memcpy(req->data() + offsetof(nlmsghdr, nlmsg_seq), &seq, 4); }
}  // namespace

void ThrowNetlinkError(const Message& m, const std::string& op) {
  SysError e;
  e.err = m.error;
  e.syscall = "rtnetlink";
  e.extack = m.extack;
  e.extackOffset = m.extackOffset;
  e.message = op + ": " + std::strerror(m.error);
  if (!m.extack.empty()) e.message += " (kernel: " + m.extack + ")";
  throw e;
}

Socket::Socket(const std::string& netns) {
  {
    NetnsGuard guard(netns);
    int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) ThrowErrno("socket", "open rtnetlink socket");
    fd_.reset(fd);
  }
  Bind();
}

Socket::Socket(const Fd& nsFd, const std::string& name) {
  Fd original = OpenCloexec("/proc/thread-self/ns/net", O_RDONLY);
  if (::setns(nsFd.get(), CLONE_NEWNET) < 0) ThrowErrno("setns", "enter network namespace " + name);
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  int err = errno;
  // As NetnsGuard: a worker thread left in a foreign namespace would
  // silently misdirect later work; that is worse than stopping.
  if (::setns(original.get(), CLONE_NEWNET) < 0) std::abort();
  if (fd < 0) {
    errno = err;
    ThrowErrno("socket", "open rtnetlink socket");
  }
  fd_.reset(fd);
  Bind();
}

void Socket::Bind() {
  int one = 1;
  // Both are best effort: older kernels lack them and still work.
  ::setsockopt(fd_.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  ::setsockopt(fd_.get(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) ThrowErrno("bind", "bind rtnetlink socket");
}

void Socket::Send(const Bytes& req) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t n;
  do {
    n = ::sendto(fd_.get(), req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  } while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno("sendto", "send rtnetlink request");
}

std::vector<Message> Socket::Receive() {
  // The kernel sizes a reply skb at most 32 KiB (dumps) and far less for
  // anything else, so one read into 64 KiB is enough; MSG_TRUNC makes recv
  // report the real length, so a longer one is caught rather than cut.
  thread_local Bytes buf(64 * 1024);
  ssize_t n;
  do {
    n = ::recv(fd_.get(), buf.data(), buf.size(), MSG_TRUNC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno("recv", "receive rtnetlink reply");
  if (size_t(n) > buf.size()) ThrowCode("EMSGSIZE", EMSGSIZE, "recv", "rtnetlink reply of " + std::to_string(n) + " bytes exceeds the 64 KiB buffer");
  return Decode(buf.data(), size_t(n));
}

std::vector<Message> Socket::Transact(Bytes req, const std::string& op) {
  uint32_t seq = NextSeq();
  SetSeq(&req, seq);
  Send(req);
  const bool wantsAck = reinterpret_cast<const nlmsghdr*>(req.data())->nlmsg_flags & NLM_F_ACK;
  std::vector<Message> data;
  for (;;) {
    for (auto& m : Receive()) {
      if (m.seq != seq) continue;  // stale reply of an earlier request
      if (m.isError) {
        if (m.error != 0) ThrowNetlinkError(m, op);
        return data;
      }
      if (m.isDone) {
        if (m.error != 0) ThrowNetlinkError(m, op);
        return data;
      }
      bool multi = m.flags & NLM_F_MULTI;
      data.push_back(std::move(m));
      // A plain GET without ACK ends with its single reply.
      if (!multi && !wantsAck) return data;
    }
  }
}

std::vector<Message> Socket::TransactMany(std::vector<Bytes> reqs, size_t window) {
  std::vector<Message> results(reqs.size());
  std::map<uint32_t, size_t> pending;
  size_t next = 0;
  while (next < reqs.size() || !pending.empty()) {
    while (next < reqs.size() && pending.size() < window) {
      uint32_t seq = NextSeq();
      SetSeq(&reqs[next], seq);
      Send(reqs[next]);
      pending[seq] = next++;
    }
    for (auto& m : Receive()) {
      auto it = pending.find(m.seq);
      if (it == pending.end() || !m.isError) continue;
      results[it->second] = std::move(m);
      pending.erase(it);
    }
  }
  return results;
}

Link Socket::GetLink(int32_t index, const std::string& name) {
  std::string what = index ? "link index " + std::to_string(index) : "link " + name;
  auto msgs = Transact(EncodeGetLink(index, name, 0), "get " + what);
  for (auto& m : msgs)
    if (m.link) return std::move(*m.link);
  ThrowCode("ENODEV", ENODEV, "rtnetlink", "get " + what + ": no link in the reply");
}

std::vector<Link> Socket::DumpLinks() {
  std::vector<Link> out;
  for (auto& m : Transact(EncodeDumpLinks(0), "list links"))
    if (m.link) out.push_back(std::move(*m.link));
  return out;
}

NetnsHandle::NetnsHandle(const std::string& netns) : netns_(netns) { sock_.emplace(netns); }

void NetnsHandle::Close() {
  std::lock_guard<std::mutex> hold(mu_);
  sock_.reset();
}

namespace {

using Clock = std::chrono::steady_clock;

NsKey KeyOf(const struct stat& st) { return NsKey{uint64_t(st.st_dev), uint64_t(st.st_ino)}; }

// The idle sockets, oldest first, and the reaper that closes them once idle
// for kSocketIdleMs. Never destroyed: the reaper may still wait on it while
// the process exits.
class SocketCache {
 public:
  std::optional<Socket> Take(const NsKey& key) {
    std::lock_guard<std::mutex> hold(mu_);
    for (size_t i = idle_.size(); i-- > 0;) {
      if (!(idle_[i].key == key)) continue;
      std::optional<Socket> s(std::move(idle_[i].sock));
      idle_.erase(idle_.begin() + std::ptrdiff_t(i));
      return s;
    }
    return std::nullopt;
  }

  // Keeps `sock` (or closes it, when there is no room or no reaper).
  void Put(const NsKey& key, Socket sock) {
    std::unique_lock<std::mutex> hold(mu_);
    size_t same = 0;
    for (auto& e : idle_) same += e.key == key;
    if (same >= kMaxIdlePerNamespace) return;  // closed on the way out
    if (!reaper_) {
      try {
        std::thread([this] { Reap(); }).detach();
      } catch (const std::system_error&) {
        return;  // no thread to close it later: closed now
      }
      reaper_ = true;
    }
    idle_.push_back(Entry{key, std::move(sock), Clock::now()});
  }

  size_t CloseAll() {
    std::vector<Entry> gone;
    {
      std::lock_guard<std::mutex> hold(mu_);
      gone.swap(idle_);
    }
    return gone.size();
  }

  size_t Size() {
    std::lock_guard<std::mutex> hold(mu_);
    return idle_.size();
  }

 private:
  struct Entry {
    NsKey key;
    Socket sock;
    Clock::time_point since;
  };

  void Reap() {
    std::unique_lock<std::mutex> hold(mu_);
    const auto ttl = std::chrono::milliseconds(kSocketIdleMs);
    for (;;) {
      if (idle_.empty()) {
        reaper_ = false;
        return;
      }
      auto due = idle_.front().since + ttl;
      if (Clock::now() < due) {
        wake_.wait_until(hold, due);
        continue;
      }
      std::vector<Entry> gone;
      auto now = Clock::now();
      while (!idle_.empty() && idle_.front().since + ttl <= now) {
        gone.push_back(std::move(idle_.front()));
        idle_.erase(idle_.begin());
      }
      hold.unlock();
      gone.clear();  // closed outside the lock
      hold.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Entry> idle_;
  bool reaper_ = false;
};

SocketCache& Cache() {
  static SocketCache* cache = new SocketCache;
  return *cache;
}

}  // namespace

size_t CloseCachedSockets() { return Cache().CloseAll(); }

size_t CachedSockets() { return Cache().Size(); }

SocketFor::~SocketFor() {
  if (keep_ && own_ && std::uncaught_exceptions() == uncaught_) Cache().Put(key_, std::move(*own_));
}

SocketFor::SocketFor(const Netns& where) {
  if (!where.handle) {
    uncaught_ = std::uncaught_exceptions();
    struct stat st {};
    if (where.path.empty()) {
      // The calling thread's own namespace.
      if (::stat("/proc/thread-self/ns/net", &st) == 0) {
        key_ = KeyOf(st);
        own_ = Cache().Take(key_);
        if (!own_) own_.emplace("");
        keep_ = true;
      } else {
        own_.emplace("");
      }
    } else {
      std::string path = where.path.find('/') == std::string::npos ? "/run/netns/" + where.path : where.path;
      if (::stat(path.c_str(), &st) == 0) own_ = Cache().Take(KeyOf(st));
      if (!own_) {
        // Named by the fd the socket is made through, so the key is the
        // namespace the socket is in even if the path changes meanwhile.
        Fd ns = OpenNetns(where.path);
        if (::fstat(ns.get(), &st) < 0) ThrowErrno("fstat", "network namespace " + where.path);
        own_.emplace(ns, where.path);
      }
      key_ = KeyOf(st);
      keep_ = true;
    }
    sock_ = &*own_;
    return;
  }
  lock_ = std::unique_lock<std::mutex>(where.handle->mu_);
  if (!where.handle->sock_) ThrowCode("EBADF", EBADF, "rtnetlink", "the netlink handle of namespace " + where.handle->netns() + " is closed");
  sock_ = &*where.handle->sock_;
}

}  // namespace netfd::nl
