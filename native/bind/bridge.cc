// Bindings of the bridge-port half of ../links.h: `bridge link` and
// `bridge vlan` (rtnetlink, family AF_BRIDGE).
#include <linux/if_bridge.h>

#include "../links.h"
#include "args.h"
#include "bind.h"
#include "convert.h"
#include "job.h"

namespace netfd::js {

namespace {

Napi::Value SetBridgePort(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "setBridgePort");
  BridgePortChanges req;
  req.netns = a.Str("netns");
  req.link = a.Link("link", true);
  if (a.Has("isolated")) req.isolated = a.Bool("isolated", false) ? 1 : 0;
  return Job<bool>::Start(info.Env(), [req] { netfd::SetBridgePort(req); return true; }, Done);
}

Napi::Value ListBridgePorts(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "listBridgePorts");
  std::string netns = a.Str("netns");
  return Job<std::vector<nl::Link>>::Start(info.Env(), [netns] { return netfd::ListBridgePorts(netns); },
                                           [](Napi::Env env, std::vector<nl::Link>& l) { return ArrayOf(env, l, LinkToJs); });
}

BridgeVlanOptions VlanArgs(const Args& a, bool add) {
  BridgeVlanOptions req;
  req.netns = a.Str("netns");
  req.link = a.Link("link", true);
  if (!a.Has("vid")) a.Bad("vid", "a VLAN id");
  // 0 and 4095 fit the field; the kernel judges them (with extack text).
  req.vid = uint16_t(a.Int("vid", 0, 4095, 0));
  if (add) {
    if (a.Bool("pvid", false)) req.flags |= BRIDGE_VLAN_INFO_PVID;
    if (a.Bool("untagged", false)) req.flags |= BRIDGE_VLAN_INFO_UNTAGGED;
  }
  return req;
}

Napi::Value AddBridgeVlan(const Napi::CallbackInfo& info) {
  BridgeVlanOptions req = VlanArgs(GetArgs(info, "addBridgeVlan"), true);
  return Job<bool>::Start(info.Env(), [req] { netfd::AddBridgeVlan(req); return true; }, Done);
}

Napi::Value DeleteBridgeVlan(const Napi::CallbackInfo& info) {
  BridgeVlanOptions req = VlanArgs(GetArgs(info, "deleteBridgeVlan"), false);
  return Job<bool>::Start(info.Env(), [req] { netfd::DeleteBridgeVlan(req); return true; }, Done);
}

}  // namespace

void InitBridge(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "setBridgePort", SetBridgePort);
  Export(env, exports, "listBridgePorts", ListBridgePorts);
  Export(env, exports, "addBridgeVlan", AddBridgeVlan);
  Export(env, exports, "deleteBridgeVlan", DeleteBridgeVlan);
}

}  // namespace netfd::js
