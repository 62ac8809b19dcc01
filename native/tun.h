// Tap devices through the tun driver.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common.h"
#include "links.h"

namespace netfd {

// ip tuntap add mode tap [name NAME] [multi_queue] [vnet_hdr] [user U] [group G]
// (persist only when asked). Opens `queues` fds, each one a queue.
struct TapOptions {
  std::string netns;
  std::string device = "/dev/net/tun";
  std::string name;  // exact, or a template with %d; empty: the kernel's tap%d
  bool vnetHdr = true;
  uint32_t queues = 1;
  // IFF_MULTI_QUEUE; must match an existing device's flag. Default: queues > 1.
  bool multiQueue = false;
  // IFF_TUN_EXCL: fail with EBUSY instead of attaching to an existing device.
  bool exclusive = false;
  bool persist = false;
  int64_t owner = -1;
  int64_t group = -1;
  // Set on the new tap in the same call (no second trip to a worker thread):
  // the root qdisc `qdisc` first, while the tap is still down (a failure is
  // reported in TapResult::qdiscError, not thrown: libvirt goes on without
  // it), then `setup` in one RTM_SETLINK on the new tap (its `link` and
  // `netns` are ignored). When `setup` fails a persistent tap is deleted; a
  // plain one goes with its fds.
  std::string qdisc;
  std::optional<LinkChanges> setup;
};
struct TapResult {
  std::string name;
  int ifindex = 0;
  uint32_t features = 0;
  std::vector<Fd> fds;
  std::string qdiscError;  // why `qdisc` was not set; empty: set (or not asked)
};
TapResult CreateTap(const TapOptions& req);

// TUNGETFEATURES: the IFF_* flags the tun driver supports.
uint32_t TunFeatures(const std::string& netns, const std::string& device);

// Size of the virtio-net header netfd asks for (struct virtio_net_hdr_mrg_rxbuf).
constexpr int kVnetHdrSize = 12;

}  // namespace netfd
