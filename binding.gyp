{
  "targets": [
    {
      "target_name": "netfd",
      "sources": [
        "native/addon.cc",
        "native/accounts.cc",
        "native/addrs.cc",
        "native/common.cc",
        "native/ethtool.cc",
        "native/fdpass.cc",
        "native/kvm.cc",
        "native/links.cc",
        "native/macvtap.cc",
        "native/netns.cc",
        "native/nlcodec.cc",
        "native/nlsock.cc",
        "native/poller.cc",
        "native/qdisc.cc",
        "native/tun.cc",
        "native/unixsock.cc",
        "native/vhost.cc",
        "native/bind/accounts.cc",
        "native/bind/addrs.cc",
        "native/bind/bridge.cc",
        "native/bind/codec.cc",
        "native/bind/constants.cc",
        "native/bind/convert.cc",
        "native/bind/errors.cc",
        "native/bind/ethtool.cc",
        "native/bind/fdpass.cc",
        "native/bind/kvm.cc",
        "native/bind/links.cc",
        "native/bind/macvtap.cc",
        "native/bind/qdisc.cc",
        "native/bind/sock_legacy.cc",
        "native/bind/tun.cc",
        "native/bind/unixsock.cc",
        "native/bind/vhost.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-fexceptions"],
      "libraries": ["-lpthread"]
    }
  ]
}
