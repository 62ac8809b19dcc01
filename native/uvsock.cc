#include "uvsock.h"

#include "unixsock.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <set>
#include <utility>

namespace netfd {

namespace {

// The fds each loop watches (a loop is one thread's; workers have their
// own). libuv takes a second watch of one fd without complaint and then
// mixes up their events: refuse it here instead.
std::mutex watchedMutex;
std::set<std::pair<uv_loop_t*, int>> watched;

// Messages (or accepts) per readiness event, so one busy peer cannot starve
// the others sharing the loop.
constexpr int kBurst = 16;

void Unwatch(uv_loop_t* loop, int fd) {
  std::lock_guard<std::mutex> lock(watchedMutex);
  watched.erase({loop, fd});
}

int SocketType(SockType t) { return t == SockType::Seqpacket ? SOCK_SEQPACKET : SOCK_STREAM; }

}  // namespace

Fd ListenAt(const std::string& path, SockType type, int backlog) {
  sockaddr_un a = UnixAddress(path, "bind");
  Fd s(::socket(AF_UNIX, SocketType(type) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s) ThrowErrno("socket", "create a unix socket");
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) ThrowErrno("bind", "bind " + path);
  if (::listen(s.get(), backlog) < 0) ThrowErrno("listen", "listen on " + path);
  return s;
}

Fd ConnectTo(const std::string& path, SockType type, bool* pending) {
  sockaddr_un a = UnixAddress(path, "connect");
  Fd s(::socket(AF_UNIX, SocketType(type) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s) ThrowErrno("socket", "create a unix socket");
  int r;
  do {
    r = ::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  } while (r < 0 && errno == EINTR);
  *pending = r < 0 && errno == EINPROGRESS;
  if (r < 0 && !*pending) ThrowErrno("connect", "connect to " + path);
  return s;
}

UvSocket::UvSocket(napi_env env, Fd fd, bool own, Delegate* delegate) : env_(env), fd_(std::move(fd)), own_(own), delegate_(delegate) {}

UvSocket::~UvSocket() {
  // A borrowed fd is never closed here.
  if (!own_) fd_.release();
}

UvSocket* UvSocket::Open(napi_env env, Fd fd, bool own, Delegate* delegate) {
  // Until the socket exists the fd stays the caller's (owned or not): a
  // failure here leaves it open for the caller to close.
  struct Keep {
    Fd& fd;
    ~Keep() { fd.release(); }
  } keep{fd};
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) ThrowCode("ENATIVE", 0, "napi_get_uv_event_loop", "watch a socket: Node's event loop is not available");
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0) ThrowErrno("fcntl", "watch fd " + std::to_string(fd.get()));
  int raw = fd.get();
  {
    std::lock_guard<std::mutex> lock(watchedMutex);
    if (!watched.insert({loop, raw}).second) ThrowCode("EEXIST", EEXIST, "uv_poll_init", "watch fd " + std::to_string(raw) + ": a socket of this thread watches it already");
  }
  auto* s = new UvSocket(env, std::move(fd), own, delegate);
  s->loop_ = loop;
  s->savedFlags_ = flags;
  int r = uv_poll_init(loop, &s->poll_, raw);
  if (r < 0) {
    Unwatch(loop, raw);
    (void)::fcntl(raw, F_SETFL, flags);
    s->fd_.release();  // the caller's again
    delete s;  // never registered with the loop: nothing to close there
    ThrowErrno("uv_poll_init", r == UV_EEXIST ? "watch fd " + std::to_string(raw) + " (the loop watches it already)" : "watch fd " + std::to_string(raw), -r);
  }
  s->poll_.data = s;
  if (napi_add_async_cleanup_hook(env, OnEnvCleanup, s, &s->hook_) != napi_ok) {
    s->hook_ = nullptr;
    s->delegate_ = nullptr;
    s->own_ = false;  // the caller's again, its flags as they were
    s->Close();
    ThrowCode("ENATIVE", 0, "napi_add_async_cleanup_hook", "watch fd " + std::to_string(raw) + ": cannot register with the environment");
  }
  return s;
}

void UvSocket::ReadStart(size_t maxBytes, size_t maxFds) {
  maxBytes_ = maxBytes;
  maxFds_ = maxFds;
  reading_ = true;
  Update();
}

void UvSocket::ReadStop() {
  reading_ = false;
  Update();
}

void UvSocket::AcceptStart() {
  accepting_ = true;
  Update();
}

void UvSocket::AcceptStop() {
  accepting_ = false;
  Update();
}

void UvSocket::ConnectPending() {
  connecting_ = true;
  Update();
}

long UvSocket::Send(const std::vector<uint8_t>& data, const std::vector<int>& fds) { return SendNow(fd_.get(), data, fds); }

void UvSocket::WaitWritable() {
  wantWritable_ = true;
  Update();
}

void UvSocket::Ref() {
  if (!closed_) uv_ref(reinterpret_cast<uv_handle_t*>(&poll_));
}

void UvSocket::Unref() {
  if (!closed_) uv_unref(reinterpret_cast<uv_handle_t*>(&poll_));
}

// The loop's interest follows what is wanted now (level-triggered).
void UvSocket::Update() {
  if (closed_) return;
  int events = ((reading_ || accepting_) ? UV_READABLE : 0) | ((wantWritable_ || connecting_) ? UV_WRITABLE : 0);
  if (events == watching_ && uv_is_active(reinterpret_cast<uv_handle_t*>(&poll_))) return;
  watching_ = events;
  int r = events ? uv_poll_start(&poll_, events, OnPoll) : uv_poll_stop(&poll_);
  if (r < 0) ThrowErrno("uv_poll_start", "watch fd " + std::to_string(fd_.get()), -r);
}

void UvSocket::OnPoll(uv_poll_t* h, int status, int events) {
  auto* s = static_cast<UvSocket*>(h->data);
  if (s == nullptr) return;
  try {
    s->Ready(status, events);
  } catch (const SysError& e) {
    // Only Update() throws here (uv_poll_start): tell the delegate.
    if (!s->closed_ && s->delegate_) s->delegate_->OnError(e);
  } catch (...) {
    // nothing may unwind into libuv
  }
}

void UvSocket::Ready(int status, int events) {
  if (closed_) return;
  // POLLERR (libuv says UV_EBADF and stops the handle): a reset or a
  // pending error. The syscalls below report it in their own words.
  if (status < 0) {
    events = UV_READABLE | UV_WRITABLE;
    watching_ = 0;
  }
  if (events & UV_WRITABLE) {
    if (connecting_) {
      connecting_ = false;
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
      Update();
      if (err) {
        SysError e;
        e.err = err;
        e.syscall = "connect";
        e.message = std::string("connect: ") + std::strerror(err);
        delegate_->OnConnect(&e);
      } else {
        delegate_->OnConnect(nullptr);
      }
      if (closed_) return;
    } else if (wantWritable_) {
      wantWritable_ = false;
      Update();
      delegate_->OnWritable();
      if (closed_) return;
    }
  }
  if (events & (UV_READABLE | UV_DISCONNECT)) {
    if (accepting_) Accept();
    else if (reading_) Receive();
    if (closed_) return;
  }
  Update();
}

void UvSocket::Receive() {
  for (int i = 0; i < kBurst && reading_ && !closed_; i++) {
    Message m;
    bool got;
    try {
      got = RecvNow(fd_.get(), maxBytes_, maxFds_, m);
    } catch (const SysError& e) {
      reading_ = false;
      Update();
      delegate_->OnError(e);
      return;
    }
    if (!got) return;
    if (m.eof) {
      eof_ = true;
      reading_ = false;
      Update();
    }
    // The fds the delegate did not release close with `m` right here.
    delegate_->OnMessage(m);
    if (m.eof) return;
  }
}

void UvSocket::Accept() {
  for (int i = 0; i < kBurst && accepting_ && !closed_; i++) {
    Fd c;
    try {
      c = AcceptNow(fd_.get());
    } catch (const SysError& e) {
      // Out of fds or memory: the connection waits in the backlog.
      accepting_ = false;
      Update();
      delegate_->OnError(e);
      return;
    }
    if (!c) return;
    delegate_->OnConnection(std::move(c));
  }
}

void UvSocket::Close() {
  if (closed_) return;
  closed_ = true;
  delegate_ = nullptr;
  if (hook_ != nullptr) {
    napi_remove_async_cleanup_hook(hook_);
    hook_ = nullptr;
  }
  // uv_close takes the fd out of epoll at once; the memory goes in OnClosed.
  Unwatch(loop_, fd_.get());
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), OnClosed);
  if (own_) {
    fd_.reset();
  } else {
    if (savedFlags_ >= 0) (void)::fcntl(fd_.get(), F_SETFL, savedFlags_);
    fd_.release();
  }
}

void UvSocket::OnClosed(uv_handle_t* h) {
  auto* s = static_cast<UvSocket*>(h->data);
  if (s == nullptr) return;
  napi_async_cleanup_hook_handle done = s->tearingDown_;
  delete s;
  if (done != nullptr) napi_remove_async_cleanup_hook(done);
}

// Node is tearing the environment down with this socket open (a worker
// ending, the process exiting): close it without calling into JS; the
// environment waits for OnClosed.
void UvSocket::OnEnvCleanup(napi_async_cleanup_hook_handle handle, void* arg) {
  auto* s = static_cast<UvSocket*>(arg);
  s->hook_ = nullptr;
  s->tearingDown_ = handle;
  if (s->delegate_) s->delegate_->OnDetach();
  s->Close();
}

}  // namespace netfd
