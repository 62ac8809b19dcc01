// Kernel objects to JS values: links, qdiscs, addresses, routes, fd lists.
#pragma once

#include <napi.h>

#include <vector>

#include "../common.h"
#include "../nlcodec.h"

namespace netfd::js {

// null for a negative value (absent), else the number.
Napi::Value Nullable(Napi::Env env, int64_t v);
// Hands `fds` to JS: the array owns them from now on.
Napi::Array FdArray(Napi::Env env, std::vector<Fd>& fds);
Napi::Buffer<uint8_t> ToBuffer(Napi::Env env, const std::vector<uint8_t>& b);

Napi::Object LinkToJs(Napi::Env env, const nl::Link& l);
Napi::Object QdiscToJs(Napi::Env env, const nl::Qdisc& q);
Napi::Object AddrToJs(Napi::Env env, const nl::Addr& a);
Napi::Object RouteToJs(Napi::Env env, const nl::Route& r);

template <typename T, typename F>
Napi::Array ArrayOf(Napi::Env env, const std::vector<T>& items, F&& convert) {
  Napi::Array arr = Napi::Array::New(env, items.size());
  for (size_t i = 0; i < items.size(); i++) arr.Set(uint32_t(i), convert(env, items[i]));
  return arr;
}

}  // namespace netfd::js
