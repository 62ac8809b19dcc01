#include "macvtap.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "netns.h"
#include "nlsock.h"
#include "tun.h"

namespace netfd {

namespace {

// Reads "MAJOR:MINOR" of the macvtap's char device from sysfs (mounted fresh
// by the caller, so it shows the current thread's namespace).
void ReadDevNumber(const std::string& sysfs, const nl::Link& link, uint32_t* major, uint32_t* minor) {
  std::string path = sysfs + "/class/net/" + link.name + "/macvtap/tap" + std::to_string(link.index) + "/dev";
  std::ifstream in(path);
  unsigned ma = 0, mi = 0;
  char colon = 0;
  if (!(in >> ma >> colon >> mi) || colon != ':') ThrowCode("ENOENT", ENOENT, "open", "read the device number of macvtap " + link.name + " from " + path);
  *major = ma;
  *minor = mi;
}

bool IsDevice(int fd, dev_t dev) {
  struct stat st;
  return ::fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == dev;
}

}  // namespace

MacvtapResult OpenMacvtap(const MacvtapOpenOptions& req) {
  MacvtapResult out;
  RunOnScratchThread([&] {
    // This thread's namespaces are its own from here on; it exits after.
    const std::string sysfs = EnterWithPrivateSysfs(req.netns, "open a macvtap");
    nl::Socket sock("");
    nl::Link link = sock.GetLink(req.link.index, req.link.name);
    if (link.kind != "macvtap")
      ThrowCode("EINVAL", EINVAL, "rtnetlink", "link " + link.name + " is a " + (link.kind.empty() ? std::string("device without a kind") : link.kind) + ", not a macvtap");
    out.name = link.name;
    out.ifindex = link.index;

    ReadDevNumber(sysfs, link, &out.major, &out.minor);
    const dev_t dev = makedev(out.major, out.minor);

    std::string shared = req.devDir + "/tap" + std::to_string(link.index);
    std::string path = shared;
    // stat before open: opening another namespace's device would attach a
    // queue to it, however briefly.
    Fd probe;
    struct stat st;
    if (::stat(shared.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == dev) {
      int fd = ::open(shared.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY);
      if (fd >= 0) probe.reset(fd);
    }
    if (!probe || !IsDevice(probe.get(), dev)) {
      // None, or another device (another namespace's macvtap with the same
      // ifindex): make our own node where nobody else can see it (/sys is
      // this thread's private tmpfs).
      probe.reset();
      path = "/sys/tap" + std::to_string(link.index);
      if (::mknod(path.c_str(), S_IFCHR | 0600, dev) < 0) ThrowErrno("mknod", "make a private node for macvtap " + link.name);
      out.privateNode = true;
    } else {
      out.node = shared;
    }

    ifreq ifr{};
    ifr.ifr_flags = short(IFF_TAP | IFF_NO_PI | (req.vnetHdr ? IFF_VNET_HDR : 0) | (req.queues > 1 ? IFF_MULTI_QUEUE : 0));
    for (uint32_t q = 0; q < req.queues; q++) {
      Fd qfd = q == 0 && probe ? std::move(probe) : OpenCloexec(path, O_RDWR | O_NOCTTY);
      if (!IsDevice(qfd.get(), dev)) ThrowCode("ENODEV", ENODEV, "open", path + " is not the char device of macvtap " + link.name);
      ifreq copy = ifr;
      Ioctl(qfd.get(), TUNSETIFF, &copy, "TUNSETIFF", "set flags on queue " + std::to_string(q) + " of macvtap " + link.name);
      if (req.vnetHdr) {
        int size = kVnetHdrSize;
        Ioctl(qfd.get(), TUNSETVNETHDRSZ, &size, "TUNSETVNETHDRSZ", "set vnet header size on macvtap " + link.name);
      }
      out.fds.push_back(std::move(qfd));
    }
  });
  return out;
}

}  // namespace netfd
