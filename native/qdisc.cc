#include "qdisc.h"

#include "nlsock.h"

namespace netfd {

void SetRootQdisc(const std::string& netns, const LinkRef& link, const std::string& kind) {
  nl::SocketFor sock(netns);
  int32_t index = ResolveLink(*sock, link);
  sock->Transact(nl::EncodeReplaceRootQdisc(index, kind, 0), "replace root qdisc of " + link.Describe() + " with " + kind);
}

std::vector<nl::Qdisc> ListQdiscs(const std::string& netns) {
  nl::Socket sock(netns);
  std::vector<nl::Qdisc> out;
  for (auto& m : sock.Transact(nl::EncodeDumpQdiscs(0), "list qdiscs"))
    if (m.qdisc) out.push_back(std::move(*m.qdisc));
  return out;
}

}  // namespace netfd
