#include "ethtool.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "common.h"
#include "netns.h"

namespace netfd {

namespace {

// A control socket bound to `netns` (it keeps that namespace after the
// guard moves the thread back), and the link's name in it.
struct Control {
  Fd fd;
  std::string name;
};

Control Open(const std::string& netns, const LinkRef& link) {
  Control c;
  {
    NetnsGuard guard(netns);
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) ThrowErrno("socket", "open a control socket");
    c.fd.reset(fd);
  }
  if (link.index) {
    ifreq ifr{};
    ifr.ifr_ifindex = link.index;
    Ioctl(c.fd.get(), SIOCGIFNAME, &ifr, "SIOCGIFNAME", "find the name of " + link.Describe());
    c.name.assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
  } else {
    c.name = link.name;
  }
  return c;
}

void Ethtool(const Control& c, ethtool_coalesce* ec, const char* name, const std::string& what) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, c.name.c_str(), IFNAMSIZ - 1);
  ifr.ifr_data = reinterpret_cast<char*>(ec);
  Ioctl(c.fd.get(), SIOCETHTOOL, &ifr, name, what);
}

CoalesceInfo Read(const Control& c) {
  ethtool_coalesce ec{};
  ec.cmd = ETHTOOL_GCOALESCE;
  Ethtool(c, &ec, "SIOCETHTOOL ETHTOOL_GCOALESCE", "read coalesce settings of " + c.name);
  CoalesceInfo out;
  out.rxMaxFrames = ec.rx_max_coalesced_frames;
  return out;
}

}  // namespace

CoalesceInfo GetCoalesce(const std::string& netns, const LinkRef& link) { return Read(Open(netns, link)); }

CoalesceInfo SetCoalesce(const CoalesceChanges& req) {
  Control c = Open(req.netns, req.link);
  ethtool_coalesce ec{};
  ec.cmd = ETHTOOL_GCOALESCE;
  Ethtool(c, &ec, "SIOCETHTOOL ETHTOOL_GCOALESCE", "read coalesce settings of " + c.name);
  if (req.rxMaxFrames >= 0) ec.rx_max_coalesced_frames = uint32_t(req.rxMaxFrames);
  ec.cmd = ETHTOOL_SCOALESCE;
  Ethtool(c, &ec, "SIOCETHTOOL ETHTOOL_SCOALESCE", "set coalesce settings of " + c.name);
  return Read(c);
}

}  // namespace netfd
