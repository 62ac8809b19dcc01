// Bindings of ../links.h: `ip link` over rtnetlink, and sysfs as a
// namespace sees it.
#include "../links.h"

#include "args.h"
#include "bind.h"
#include "convert.h"
#include "job.h"

namespace netfd::js {

namespace {

Napi::Value CreateMacvtap(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "createMacvtap");
  MacvtapCreate req;
  req.netns = a.Netns();
  req.kind = a.Str("kind");
  if (req.kind != "macvtap" && req.kind != "macvlan") a.Bad("kind", "'macvtap' or 'macvlan'");
  req.parent = a.Link("parent", true);
  req.mode = uint32_t(a.Int("mode", 1, UINT32_MAX, 0));
  if (!a.Has("mode")) a.Bad("mode", "a MACVLAN_MODE_* number");
  req.name = a.Name("name");
  req.mac = a.Str("mac");
  nl::Bytes mac;
  if (!req.mac.empty() && !nl::ParseMac(req.mac, &mac)) a.Bad("mac", "a MAC address aa:bb:cc:dd:ee:ff");
  req.group = a.Int("group", 1, UINT32_MAX, -1);
  req.into = a.Str("into");
  if (!req.into.empty() && (req.name.empty() || req.name.find('%') != std::string::npos)) a.Bad("name", "an exact name (no %d template) when `into` is given");
  return Job<nl::Link>::Start(info.Env(), [req] { return netfd::CreateMacvtap(req); }, LinkToJs);
}

Napi::Value ReadSysfs(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "readSysfs");
  std::string netns = a.Str("netns");
  std::string rel = a.Str("path");
  if (rel.empty() || rel[0] == '/' || rel.find("..") != std::string::npos) a.Bad("path", "a path below /sys without '..', such as class/net/br0/address");
  return Job<std::string>::Start(info.Env(), [netns, rel] { return netfd::ReadSysfs(netns, rel); },
                                 [](Napi::Env env, std::string& s) { return Napi::String::New(env, s); });
}

Napi::Value DeleteGroup(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "deleteGroup");
  nl::Netns netns = a.Netns();
  if (!a.Has("group")) a.Bad("group", "a link group from 1 to 4294967295");
  uint32_t group = uint32_t(a.Int("group", 1, UINT32_MAX, 0));
  return Job<bool>::Start(info.Env(), [netns, group] { return netfd::DeleteGroup(netns, group); },
                          [](Napi::Env env, bool& found) { return Napi::Boolean::New(env, found); });
}

Napi::Value DeleteLink(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "deleteLink");
  nl::Netns netns = a.Netns();
  LinkRef link = a.Link("link", true);
  return Job<bool>::Start(info.Env(), [netns, link] { netfd::DeleteLink(netns, link); return true; }, Done);
}

Napi::Value DeleteLinks(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "deleteLinks");
  nl::Netns netns = a.Netns();
  Napi::Value v = a.obj.Get("indexes");
  if (!v.IsArray()) a.Bad("indexes", "an array of ifindexes");
  Napi::Array arr = v.As<Napi::Array>();
  std::vector<int32_t> indexes;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value e = arr.Get(i);
    if (!e.IsNumber()) a.Bad("indexes", "an array of positive ifindexes");
    double d = e.As<Napi::Number>().DoubleValue();
    if (d != double(int32_t(d)) || d < 1) a.Bad("indexes", "an array of positive ifindexes");
    indexes.push_back(int32_t(d));
  }
  int64_t via = a.Int("via", 1, UINT32_MAX, 0);
  return Job<DeleteManyResult>::Start(info.Env(), [netns, indexes, via] { return netfd::DeleteLinks(netns, indexes, uint32_t(via)); },
                                      [](Napi::Env env, DeleteManyResult& r) {
                                        Napi::Object o = Napi::Object::New(env);
                                        o.Set("deleted", double(r.deleted));
                                        o.Set("grouped", r.grouped);
                                        return o;
                                      });
}

Napi::Value SetLink(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "setLink");
  LinkChanges req;
  req.netns = a.Netns();
  req.link = a.Link("link", true);
  if (a.Has("up")) req.up = a.Bool("up", false) ? 1 : 0;
  req.mac = a.Str("mac");
  nl::Bytes mac;
  if (!req.mac.empty() && !nl::ParseMac(req.mac, &mac)) a.Bad("mac", "a MAC address aa:bb:cc:dd:ee:ff");
  Napi::Value m = a.obj.Get("master");
  if (!m.IsUndefined()) {
    req.setMaster = true;
    if (m.IsNull() || (m.IsNumber() && m.As<Napi::Number>().DoubleValue() == 0)) req.master = LinkRef{};
    else req.master = a.Link("master", true);
  }
  req.group = a.Int("group", 1, UINT32_MAX, -1);
  req.mtu = a.Int("mtu", 0, UINT32_MAX, -1);
  return Job<bool>::Start(info.Env(), [req] { netfd::SetLink(req); return true; }, Done);
}

Napi::Value GetLink(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "getLink");
  nl::Netns netns = a.Netns();
  LinkRef link = a.Link("link", true);
  return Job<nl::Link>::Start(info.Env(), [netns, link] { return netfd::GetLink(netns, link); }, LinkToJs);
}

Napi::Value ListLinks(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "listLinks");
  nl::Netns netns = a.Netns();
  return Job<std::vector<nl::Link>>::Start(info.Env(), [netns] { return netfd::ListLinks(netns); },
                                           [](Napi::Env env, std::vector<nl::Link>& l) { return ArrayOf(env, l, LinkToJs); });
}

Napi::Value LinkGroups(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info, "linkGroups");
  nl::Netns netns = a.Netns();
  return Job<std::vector<uint32_t>>::Start(info.Env(), [netns] { return netfd::LinkGroups(netns); }, [](Napi::Env env, std::vector<uint32_t>& groups) {
    Napi::Array out = Napi::Array::New(env, groups.size());
    for (uint32_t i = 0; i < groups.size(); i++) out.Set(i, double(groups[i]));
    return Napi::Value(out);
  });
}

}  // namespace

void InitLinks(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "createMacvtap", CreateMacvtap);
  Export(env, exports, "readSysfs", ReadSysfs);
  Export(env, exports, "deleteGroup", DeleteGroup);
  Export(env, exports, "deleteLink", DeleteLink);
  Export(env, exports, "deleteLinks", DeleteLinks);
  Export(env, exports, "setLink", SetLink);
  Export(env, exports, "getLink", GetLink);
  Export(env, exports, "listLinks", ListLinks);
  Export(env, exports, "linkGroups", LinkGroups);
}

}  // namespace netfd::js
