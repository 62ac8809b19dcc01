#include "kvm.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

namespace netfd {

int KvmApiVersion(const std::string& path) {
  Fd fd = OpenCloexec(path, O_RDWR);
  int v = ::ioctl(fd.get(), KVM_GET_API_VERSION, 0);
  if (v < 0) ThrowErrno("ioctl", "KVM_GET_API_VERSION on " + path);
  return v;
}

}  // namespace netfd
