// Addresses and routes on a link over rtnetlink (each names its ip
// equivalent). Addresses arrive here as text already checked in TS; a text
// that does not parse is EINVAL.
#pragma once

#include <string>
#include <vector>

#include "links.h"
#include "nlcodec.h"

namespace netfd {

// ip addr add ADDRESS/PREFIX [peer PEER] [broadcast BRD] dev LINK
struct AddressOptions {
  std::string netns;
  LinkRef link;
  std::string address;
  uint8_t prefix = 0;
  std::string peer;       // empty: none
  std::string broadcast;  // empty: none
};
void AddAddress(const AddressOptions& req);

// ip addr show (family 0: all)
std::vector<nl::Addr> ListAddresses(const std::string& netns, uint8_t family);

// ip route add ADDRESS/PREFIX [via GATEWAY] dev LINK proto P [metric M]
// (table main; scope link without a gateway, universe with one)
struct RouteOptions {
  std::string netns;
  LinkRef link;
  std::string address;
  uint8_t prefix = 0;
  std::string gateway;  // empty: directly connected
  int64_t metric = -1;
  uint8_t protocol = 0;  // RTPROT_*
};
void AddRoute(const RouteOptions& req);

// ip route show table all (family 0: all)
std::vector<nl::Route> ListRoutes(const std::string& netns, uint8_t family);

}  // namespace netfd
