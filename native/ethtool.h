// Interrupt coalescing through the SIOCETHTOOL ioctl (struct ethtool_coalesce
// from <linux/ethtool.h>), on a socket opened in the link's namespace.
#pragma once

#include <cstdint>
#include <string>

#include "links.h"

namespace netfd {

struct CoalesceInfo {
  uint32_t rxMaxFrames = 0;  // rx_max_coalesced_frames
};

// ethtool -c DEV (ETHTOOL_GCOALESCE)
CoalesceInfo GetCoalesce(const std::string& netns, const LinkRef& link);

// ethtool -C DEV rx-frames N: ETHTOOL_GCOALESCE, the fields asked for
// changed, ETHTOOL_SCOALESCE, then ETHTOOL_GCOALESCE again so the caller
// sees what the driver kept (tun clamps rx-frames to 64).
struct CoalesceChanges {
  std::string netns;
  LinkRef link;
  int64_t rxMaxFrames = -1;  // -1 unchanged
};
CoalesceInfo SetCoalesce(const CoalesceChanges& req);

}  // namespace netfd
