// SysError to JavaScript: the Node-style Error (code, errno, syscall,
// extack) and a wrapper for synchronous bindings. Defined in bind/errors.cc.
#pragma once

#include <napi.h>

#include "common.h"

namespace netfd {

// Node-style Error from a SysError (code, errno, syscall, extack).
Napi::Error MakeError(Napi::Env env, const SysError& e);

// Runs a synchronous call; a SysError it throws becomes a JS Error.
template <typename F>
auto Sync(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const SysError& e) {
    throw MakeError(env, e);
  }
}

}  // namespace netfd
