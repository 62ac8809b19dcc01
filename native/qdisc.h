// Queueing disciplines over rtnetlink (each names its tc equivalent).
#pragma once

#include <string>
#include <vector>

#include "links.h"
#include "nlcodec.h"

namespace netfd {

// tc qdisc replace dev DEV root KIND (a kind that takes no options)
void SetRootQdisc(const std::string& netns, const LinkRef& link, const std::string& kind);

// tc qdisc show: every qdisc the kernel reports in the namespace.
std::vector<nl::Qdisc> ListQdiscs(const std::string& netns);

}  // namespace netfd
