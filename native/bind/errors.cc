// SysError to a Node-style Error: code (the errno's name, or netfd's own),
// errno (negative, as Node's), syscall, and the kernel's extended ack.
#include <cstring>

#include "../jserror.h"

namespace netfd {

Napi::Error MakeError(Napi::Env env, const SysError& e) {
  Napi::Error err = Napi::Error::New(env, e.message);
  Napi::Object o = err.Value();
  const char* name = e.err ? strerrorname_np(e.err) : nullptr;
  o.Set("code", e.code.empty() ? (name ? name : "EUNKNOWN") : e.code);
  if (e.err) o.Set("errno", -e.err);
  if (!e.syscall.empty()) o.Set("syscall", e.syscall);
  if (!e.extack.empty()) o.Set("extack", e.extack);
  if (e.extackOffset >= 0) o.Set("extackOffset", double(e.extackOffset));
  return err;
}

}  // namespace netfd
