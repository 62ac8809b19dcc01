// The binding's groups: each Init… adds its functions to `exports` under
// their JS names (the C++ function's name in camelCase, the TS wrapper's).
#pragma once

#include <napi.h>

namespace netfd::js {

void InitLinks(Napi::Env env, Napi::Object exports);     // links.cc: ip link
void InitBridge(Napi::Env env, Napi::Object exports);    // bridge.cc: bridge link / vlan
void InitQdisc(Napi::Env env, Napi::Object exports);     // qdisc.cc: tc qdisc
void InitEthtool(Napi::Env env, Napi::Object exports);   // ethtool.cc: ethtool -c/-C
void InitAddrs(Napi::Env env, Napi::Object exports);     // addrs.cc: ip addr / ip route
void InitTun(Napi::Env env, Napi::Object exports);       // tun.cc: taps
void InitMacvtap(Napi::Env env, Napi::Object exports);   // macvtap.cc: macvtap char devices
void InitVhost(Napi::Env env, Napi::Object exports);     // vhost.cc: /dev/vhost-net
void InitKvm(Napi::Env env, Napi::Object exports);       // kvm.cc: /dev/kvm
void InitFdpass(Napi::Env env, Napi::Object exports);    // fdpass.cc: fds, peer credentials
void InitUnixsock(Napi::Env env, Napi::Object exports);  // unixsock.cc: the agent's sockets
void InitAccounts(Napi::Env env, Napi::Object exports);  // accounts.cc: NSS users and groups
void InitFlock(Napi::Env env, Napi::Object exports);     // flock.cc: file locks
void InitNetns(Napi::Env env, Napi::Object exports);     // netns.cc: netlink handles kept in a namespace
void InitCodec(Napi::Env env, Napi::Object exports);     // codec.cc: netlink bytes, for tests and tools
void InitConstants(Napi::Env env, Napi::Object exports); // constants.cc: kernel numbers

// exports.NAME = FN (a function named NAME).
inline void Export(Napi::Env env, Napi::Object exports, const char* name, Napi::Function::Callback fn) {
  exports.Set(name, Napi::Function::New(env, fn, name));
}

}  // namespace netfd::js
