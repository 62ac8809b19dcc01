// The UnixSocket class for JS: one non-blocking unix socket on Node's own
// loop (native/uvsock.h), typed in lib/sys/native.ts, used through
// lib/sys/unixsock.ts.
#pragma once

#include <napi.h>

namespace netfd {

// Adds the UnixSocket class to `exports`.
void InitUnixSocket(Napi::Env env, Napi::Object exports);

}  // namespace netfd
