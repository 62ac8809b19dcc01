// /dev/kvm, for the host probe.
#pragma once

#include <string>

#include "common.h"

namespace netfd {

// Opens `path` read-write and returns KVM_GET_API_VERSION (12 on every
// kernel since 2.6.22). Open errors keep their errno (ENOENT, EACCES, ...);
// a device that is not KVM answers ENOTTY.
int KvmApiVersion(const std::string& path);

}  // namespace netfd
