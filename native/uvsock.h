// One non-blocking unix socket watched by a uv_poll_t on Node's own loop:
// listen/accept, connect, messages (or stream bytes) with fds over
// SCM_RIGHTS, and a wait for room when the peer is slow. No thread, no
// blocking call: readiness comes from the loop, the syscalls never wait.
//
// Ownership: a UvSocket owns its poll handle and (unless borrowed) its fd.
// It is made by Open() and ends itself after Close(): the handle is freed in
// its close callback. Events go to a Delegate on the loop thread; the
// Delegate may call Close() from inside any event.
#pragma once

#include <node_api.h>
#include <uv.h>

#include <string>
#include <vector>

#include "common.h"
#include "unixsock.h"

namespace netfd {

enum class SockType { Stream, Seqpacket };

// socket(AF_UNIX, type) bound to `path` and listening; O_CLOEXEC,
// O_NONBLOCK. The path must not exist (EADDRINUSE otherwise).
Fd ListenAt(const std::string& path, SockType type, int backlog);

// socket(AF_UNIX, type, O_CLOEXEC | O_NONBLOCK) and connect(2) to `path`.
// `*pending` is set when the kernel finishes later (EINPROGRESS): the socket
// turns writable then and SO_ERROR tells the outcome. A full backlog is
// EAGAIN (try again later); other failures throw SysError (ENOENT,
// ECONNREFUSED, EACCES, ENAMETOOLONG).
Fd ConnectTo(const std::string& path, SockType type, bool* pending);

class UvSocket {
 public:
  // Called on the loop thread. Each may call Close().
  struct Delegate {
    virtual ~Delegate() = default;
    // A message (seqpacket), a chunk (stream) or the end (m.eof). The fds
    // in m stay owned by m: the delegate releases the ones it hands on, the
    // rest are closed after the call.
    virtual void OnMessage(Message& m) = 0;
    // An accepted connection (O_CLOEXEC | O_NONBLOCK): the delegate owns it.
    virtual void OnConnection(Fd fd) = 0;
    // A pending connect finished: err null on success.
    virtual void OnConnect(const SysError* err) = 0;
    // The socket has room again after WaitWritable().
    virtual void OnWritable() = 0;
    // recvmsg or accept4 failed: reading/accepting is stopped until started again.
    virtual void OnError(const SysError& err) = 0;
    // The socket closed under the delegate (Node is tearing the environment
    // down): the delegate must forget it. No JS may run here.
    virtual void OnDetach() = 0;
  };

  // Watches `fd` on `env`'s loop (uv_poll_init sets O_NONBLOCK on it). A
  // borrowed fd (own false) is not closed by Close(), which puts its
  // O_NONBLOCK flag back as it was. Throws SysError (EEXIST: the loop already
  // watches this fd; EPERM: epoll cannot watch it), and then the fd is left
  // open, still the caller's.
  static UvSocket* Open(napi_env env, Fd fd, bool own, Delegate* delegate);

  int fd() const { return fd_.get(); }
  bool closed() const { return closed_; }

  // Receive up to `maxBytes` bytes and `maxFds` fds per message, or stop.
  void ReadStart(size_t maxBytes, size_t maxFds);
  void ReadStop();
  // Accept connections (a listening socket), or stop.
  void AcceptStart();
  void AcceptStop();
  // A connect still in progress: OnConnect tells when it ends.
  void ConnectPending();
  // One sendmsg without waiting: bytes sent, or -1 when the socket has no
  // room (call WaitWritable for OnWritable). Throws SysError (EPIPE…).
  long Send(const std::vector<uint8_t>& data, const std::vector<int>& fds);
  void WaitWritable();

  void Ref();
  void Unref();

  // Stops watching, closes the fd (if owned) and frees itself once libuv
  // has let go of the handle. Idempotent; no event is delivered after it.
  void Close();

 private:
  UvSocket(napi_env env, Fd fd, bool own, Delegate* delegate);
  ~UvSocket();
  void Update();
  void Ready(int status, int events);
  void Receive();
  void Accept();
  void Finish();
  static void OnPoll(uv_poll_t* h, int status, int events);
  static void OnClosed(uv_handle_t* h);
  static void OnEnvCleanup(napi_async_cleanup_hook_handle handle, void* arg);

  napi_env env_;
  uv_loop_t* loop_ = nullptr;
  Fd fd_;
  bool own_;
  int savedFlags_ = -1;
  Delegate* delegate_;
  uv_poll_t poll_{};
  napi_async_cleanup_hook_handle hook_ = nullptr;
  napi_async_cleanup_hook_handle tearingDown_ = nullptr;
  bool closed_ = false;
  bool reading_ = false;
  bool accepting_ = false;
  bool connecting_ = false;
  bool wantWritable_ = false;
  bool eof_ = false;
  int watching_ = 0;
  size_t maxBytes_ = 65536;
  size_t maxFds_ = 0;
};

}  // namespace netfd
