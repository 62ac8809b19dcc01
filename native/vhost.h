// The vhost-net device.
#pragma once

#include <string>
#include <vector>

#include "common.h"

namespace netfd {

// Opens `path` read-write `count` times. ENOENT (no node), EACCES/EPERM
// (permission) and ENODEV/ENXIO (node without a driver) keep their errno.
// `features` is VHOST_GET_FEATURES of the first fd when that ioctl works
// (a stand-in device that is not vhost-net answers ENOTTY: hasFeatures false).
struct VhostResult {
  std::vector<Fd> fds;
  bool hasFeatures = false;
  uint64_t features = 0;
};
VhostResult OpenVhost(const std::string& path, uint32_t count);

}  // namespace netfd
