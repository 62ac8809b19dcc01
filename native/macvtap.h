// Opening a macvtap's character device, safely across namespaces.
#pragma once

#include <string>
#include <vector>

#include "common.h"
#include "links.h"

namespace netfd {

// Opens the character device of the macvtap `link` (in `netns`) `queues`
// times, with IFF_VNET_HDR (and IFF_MULTI_QUEUE for several queues) set on
// each fd. The device number comes from the link's sysfs entry as seen from
// the link's own namespace (a private sysfs mount on a scratch thread);
// `devDir`/tap<ifindex> is used only when it is that very device, otherwise a
// private node is made on a private tmpfs that vanishes with the thread.
struct MacvtapOpenOptions {
  std::string netns;
  LinkRef link;
  uint32_t queues = 1;
  bool vnetHdr = true;
  std::string devDir = "/dev";
};
struct MacvtapResult {
  std::string name;
  int32_t ifindex = 0;
  uint32_t major = 0, minor = 0;
  std::string node;     // the node opened, as the process sees it; empty if private
  bool privateNode = false;
  std::vector<Fd> fds;
};
MacvtapResult OpenMacvtap(const MacvtapOpenOptions& req);

}  // namespace netfd
