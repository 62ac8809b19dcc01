// Calling into JS from a callback that Node runs on its own: a thread-safe
// function's call_js, an async worker's completion. No C++ exception may
// leave such a callback: node-addon-api would rethrow it into a Node that may
// be stopping (it can no longer run JS, so the rethrow throws again) and
// std::terminate would end the process with SIGABRT.
#pragma once

#include <napi.h>

#include <exception>

namespace netfd {

// Reports `e` as 'uncaughtException' (napi_fatal_exception) while Node can
// run JS, so a bug in a callback still surfaces. Once Node is stopping that
// call fails (napi_pending_exception with nothing pending): there is nobody
// left to tell, and the error is dropped. Never throws.
inline void RaiseUncaught(napi_env env, const Napi::Error& e) noexcept {
  try {
    napi_value v = e.Value();
    if (v != nullptr) napi_fatal_exception(env, v);
  } catch (...) {
    // Node is stopping: nothing can receive the error
  }
}

// Runs `call` (which calls into JS) and keeps every C++ exception inside:
// a JS exception or a native error becomes 'uncaughtException', or is
// dropped when Node can no longer run JS.
template <typename F>
void CallIntoJs(napi_env env, F&& call) noexcept {
  try {
    call();
  } catch (const Napi::Error& e) {
    RaiseUncaught(env, e);
  } catch (const std::exception& e) {
    try {
      RaiseUncaught(env, Napi::Error::New(env, e.what()));
    } catch (...) {
      // Node is stopping
    }
  } catch (...) {
    // nothing to report it with
  }
}

}  // namespace netfd
