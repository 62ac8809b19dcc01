// An epoll watcher on its own thread, reporting readiness to JS through a
// thread-safe function: the agent's and the client's event loop for unix
// seqpacket sockets, which libuv cannot read with their fds.
#pragma once

#include <napi.h>

namespace netfd {

// Node-style Error from a SysError (code, errno, syscall, extack).
struct SysError;
Napi::Error MakeError(Napi::Env env, const SysError& e);

// Adds the Poller class to `exports`.
void InitPoller(Napi::Env env, Napi::Object exports);

}  // namespace netfd
