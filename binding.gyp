{
  "targets": [
    {
      "target_name": "netfd",
      "sources": [
        "native/addon.cc",
        "native/accounts.cc",
        "native/common.cc",
        "native/nlcodec.cc",
        "native/nlsock.cc",
        "native/netns.cc",
        "native/tun.cc",
        "native/macvtap.cc",
        "native/vhost.cc",
        "native/kvm.cc",
        "native/fdpass.cc",
        "native/links.cc",
        "native/qdisc.cc",
        "native/addrs.cc",
        "native/ethtool.cc",
        "native/unixsock.cc",
        "native/poller.cc",
        "native/uvsock.cc",
        "native/bind/unixsock.cc"
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
