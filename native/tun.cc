#include "tun.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include <cstring>

#include "netns.h"
#include "qdisc.h"

namespace netfd {

namespace {

uint32_t Features(int fd, const std::string& device) {
  unsigned int features = 0;
  Ioctl(fd, TUNGETFEATURES, &features, "TUNGETFEATURES", "query tun features of " + device);
  return features;
}

}  // namespace

uint32_t TunFeatures(const std::string& netns, const std::string& device) {
  NetnsGuard guard(netns);
  Fd fd = OpenCloexec(device, O_RDWR);
  return Features(fd.get(), device);
}

TapResult CreateTap(const TapOptions& req) {
  TapResult out;
  // The tun driver binds a device to the namespace of the thread that opened
  // /dev/net/tun, so every queue is opened inside the guard.
  NetnsGuard guard(req.netns);
  Fd first = OpenCloexec(req.device, O_RDWR);
  out.features = Features(first.get(), req.device);
  if (req.vnetHdr && !(out.features & IFF_VNET_HDR))
    ThrowCode("ENOTSUP", ENOTSUP, "ioctl", "the tun driver of this kernel does not support IFF_VNET_HDR");
  if (req.multiQueue && !(out.features & IFF_MULTI_QUEUE))
    ThrowCode("ENOTSUP", ENOTSUP, "ioctl", "the tun driver of this kernel does not support multiqueue taps (IFF_MULTI_QUEUE)");

  ifreq ifr{};
  ifr.ifr_flags = short(IFF_TAP | IFF_NO_PI | (req.vnetHdr ? IFF_VNET_HDR : 0) | (req.multiQueue ? IFF_MULTI_QUEUE : 0) | (req.exclusive ? IFF_TUN_EXCL : 0));
  std::strncpy(ifr.ifr_name, req.name.c_str(), IFNAMSIZ - 1);
  const std::string what = "create tap " + (req.name.empty() ? std::string("tap%d") : req.name);
  Ioctl(first.get(), TUNSETIFF, &ifr, "TUNSETIFF", what);
  out.name = ifr.ifr_name;
  const short flags = ifr.ifr_flags;

  auto prepare = [&](int fd) {
    if (!req.vnetHdr) return;
    int size = kVnetHdrSize;
    Ioctl(fd, TUNSETVNETHDRSZ, &size, "TUNSETVNETHDRSZ", "set vnet header size on " + out.name);
  };
  prepare(first.get());
  out.fds.push_back(std::move(first));
  // Closing the fds on an error below removes the (not yet persistent) tap.
  for (uint32_t q = 1; q < req.queues; q++) {
    Fd fd = OpenCloexec(req.device, O_RDWR);
    ifreq qifr{};
    qifr.ifr_flags = short(flags & ~IFF_TUN_EXCL);
    std::strncpy(qifr.ifr_name, out.name.c_str(), IFNAMSIZ - 1);
    Ioctl(fd.get(), TUNSETIFF, &qifr, "TUNSETIFF", "attach queue " + std::to_string(q) + " of " + out.name);
    prepare(fd.get());
    out.fds.push_back(std::move(fd));
  }
  int main = out.fds[0].get();
  if (req.owner >= 0) Ioctl(main, TUNSETOWNER, reinterpret_cast<void*>(req.owner), "TUNSETOWNER", "set owner of " + out.name);
  if (req.group >= 0) Ioctl(main, TUNSETGROUP, reinterpret_cast<void*>(req.group), "TUNSETGROUP", "set group of " + out.name);
  out.ifindex = int(if_nametoindex(out.name.c_str()));
  if (out.ifindex == 0) ThrowErrno("if_nametoindex", "find ifindex of " + out.name);
  if (req.persist) Ioctl(main, TUNSETPERSIST, reinterpret_cast<void*>(1L), "TUNSETPERSIST", "make " + out.name + " persistent");
  if (req.qdisc.empty() && !req.setup) return out;
  LinkRef self;
  self.index = out.ifindex;
  try {
    if (!req.qdisc.empty()) {
      try {
        SetRootQdisc(req.netns, self, req.qdisc);
      } catch (const SysError& e) {
        out.qdiscError = e.message;
      }
    }
    if (req.setup) {
      LinkChanges c = *req.setup;
      c.netns = nl::Netns(req.netns);
      c.link = self;
      SetLink(c);
    }
  } catch (...) {
    if (req.persist) {
      try {
        DeleteLink(nl::Netns(req.netns), self);
      } catch (...) {  // NOLINT(bugprone-empty-catch): the setup's error is the one to report
      }
    }
    throw;
  }
  return out;
}

}  // namespace netfd
