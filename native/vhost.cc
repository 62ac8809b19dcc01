#include "vhost.h"

#include <fcntl.h>
// The legacy vring helpers in <linux/virtio_ring.h> are C, not C++.
#define VIRTIO_RING_NO_LEGACY
#include <linux/vhost.h>
#include <sys/ioctl.h>

namespace netfd {

VhostResult OpenVhost(const std::string& path, uint32_t count) {
  VhostResult out;
  for (uint32_t i = 0; i < count; i++) out.fds.push_back(OpenCloexec(path, O_RDWR));
  uint64_t features = 0;
  if (!out.fds.empty() && ::ioctl(out.fds[0].get(), VHOST_GET_FEATURES, &features) == 0) {
    out.hasFeatures = true;
    out.features = features;
  }
  return out;
}

}  // namespace netfd
