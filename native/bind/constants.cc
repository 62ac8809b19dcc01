// Kernel numbers the TS layer maps names onto (from the kernel headers,
// never hard-coded in TS).
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "../tun.h"
#include "bind.h"

namespace netfd::js {

namespace {

Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  Napi::Object modes = Napi::Object::New(env);
  modes.Set("private", double(MACVLAN_MODE_PRIVATE));
  modes.Set("vepa", double(MACVLAN_MODE_VEPA));
  modes.Set("bridge", double(MACVLAN_MODE_BRIDGE));
  modes.Set("passthru", double(MACVLAN_MODE_PASSTHRU));
  modes.Set("source", double(MACVLAN_MODE_SOURCE));
  c.Set("macvlanModes", modes);
  Napi::Object tun = Napi::Object::New(env);
  tun.Set("IFF_TUN", double(IFF_TUN));
  tun.Set("IFF_TAP", double(IFF_TAP));
  tun.Set("IFF_NO_PI", double(IFF_NO_PI));
  tun.Set("IFF_VNET_HDR", double(IFF_VNET_HDR));
  tun.Set("IFF_MULTI_QUEUE", double(IFF_MULTI_QUEUE));
  tun.Set("IFF_NAPI", double(IFF_NAPI));
  c.Set("tunFeatures", tun);
  c.Set("vnetHdrSize", kVnetHdrSize);
  Napi::Object protos = Napi::Object::New(env);
  protos.Set("kernel", double(RTPROT_KERNEL));
  protos.Set("boot", double(RTPROT_BOOT));
  protos.Set("static", double(RTPROT_STATIC));
  c.Set("routeProtocols", protos);
  Napi::Object scopes = Napi::Object::New(env);
  scopes.Set("universe", double(RT_SCOPE_UNIVERSE));
  scopes.Set("link", double(RT_SCOPE_LINK));
  scopes.Set("host", double(RT_SCOPE_HOST));
  c.Set("routeScopes", scopes);
  c.Set("rtTableMain", double(RT_TABLE_MAIN));
  c.Set("rtnUnicast", double(RTN_UNICAST));
  Napi::Object stp = Napi::Object::New(env);
  stp.Set("disabled", double(BR_STATE_DISABLED));
  stp.Set("listening", double(BR_STATE_LISTENING));
  stp.Set("learning", double(BR_STATE_LEARNING));
  stp.Set("forwarding", double(BR_STATE_FORWARDING));
  stp.Set("blocking", double(BR_STATE_BLOCKING));
  c.Set("bridgePortStates", stp);
  c.Set("ifNameSize", IFNAMSIZ);
  return c;
}

}  // namespace

void InitConstants(Napi::Env env, Napi::Object exports) { exports.Set("constants", Constants(env)); }

}  // namespace netfd::js
