// netfd-cni: the CNI plugin a container runtime runs (/opt/cni/bin/netfd).
// It is a thin forwarder: it reads the network configuration from stdin and
// the CNI_* environment, sends them to the netfd agent as ONE request of the
// agent's protocol (one JSON object in one SOCK_SEQPACKET datagram,
// lib/agent/protocol.ts), prints the agent's answer on stdout and exits with
// its status. The agent does all the work and all the checking (lib/cni/,
// lib/agent/cni.ts). Only VERSION is answered here, without the agent.
//
// When the agent cannot be reached, the answer is CNI error 11 (try again
// later), and for STATUS 50 (the plugin is not available).
//
// Only libc and libstdc++: no Node.js on a Kubernetes node.
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// Below the agent's MAX_REQUEST (128 KiB), with room for the environment.
constexpr size_t kMaxConfig = 96 * 1024;
constexpr size_t kMaxRequest = 128 * 1024;
// The agent's MAX_REPLY.
constexpr size_t kMaxReply = 4 * 1024 * 1024;
constexpr int kReplyTimeoutSecs = 300;
constexpr const char* kDefaultSocket = "/run/netfd/agent.sock";
constexpr const char* kNewest = "1.1.0";
const char* const kVersions[] = {"0.3.1", "0.4.0", "1.0.0", "1.1.0"};

// The CNI error codes the plugin itself gives (lib/cni/errors.ts CNI_CODES).
constexpr int kInvalidEnvironment = 4;
constexpr int kIoFailure = 5;
constexpr int kInvalidConfig = 7;
constexpr int kTryAgainLater = 11;
constexpr int kNotAvailable = 50;

// ---- a small JSON reader: enough to find members and decode strings ----

void SkipWs(const std::string& s, size_t* i) {
  while (*i < s.size() && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\n' || s[*i] == '\r')) ++*i;
}

void PutUtf8(std::string* out, unsigned cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool Hex4(const std::string& s, size_t i, unsigned* v) {
  if (i + 4 > s.size()) return false;
  *v = 0;
  for (size_t k = i; k < i + 4; ++k) {
    char c = s[k];
    unsigned d;
    if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') d = static_cast<unsigned>(c - 'A' + 10);
    else return false;
    *v = (*v << 4) | d;
  }
  return true;
}

// A string at s[*i] == '"'; decoded into *out when out is not null.
bool ReadString(const std::string& s, size_t* i, std::string* out) {
  if (*i >= s.size() || s[*i] != '"') return false;
  ++*i;
  while (*i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[*i]);
    if (c == '"') {
      ++*i;
      return true;
    }
    if (c < 0x20) return false;
    if (c != '\\') {
      if (out) out->push_back(static_cast<char>(c));
      ++*i;
      continue;
    }
    if (*i + 1 >= s.size()) return false;
    char e = s[*i + 1];
    *i += 2;
    char plain = 0;
    switch (e) {
      case '"': plain = '"'; break;
      case '\\': plain = '\\'; break;
      case '/': plain = '/'; break;
      case 'b': plain = '\b'; break;
      case 'f': plain = '\f'; break;
      case 'n': plain = '\n'; break;
      case 'r': plain = '\r'; break;
      case 't': plain = '\t'; break;
      case 'u': {
        unsigned cp;
        if (!Hex4(s, *i, &cp)) return false;
        *i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          unsigned lo;
          if (*i + 6 <= s.size() && s[*i] == '\\' && s[*i + 1] == 'u' && Hex4(s, *i + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
            *i += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else {
            cp = 0xFFFD;
          }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          cp = 0xFFFD;
        }
        if (out) PutUtf8(out, cp);
        continue;
      }
      default: return false;
    }
    if (out) out->push_back(plain);
  }
  return false;
}

bool SkipValue(const std::string& s, size_t* i, int depth) {
  if (depth > 128) return false;
  SkipWs(s, i);
  if (*i >= s.size()) return false;
  char c = s[*i];
  if (c == '"') return ReadString(s, i, nullptr);
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    ++*i;
    SkipWs(s, i);
    if (*i < s.size() && s[*i] == close) {
      ++*i;
      return true;
    }
    for (;;) {
      if (c == '{') {
        SkipWs(s, i);
        if (!ReadString(s, i, nullptr)) return false;
        SkipWs(s, i);
        if (*i >= s.size() || s[*i] != ':') return false;
        ++*i;
      }
      if (!SkipValue(s, i, depth + 1)) return false;
      SkipWs(s, i);
      if (*i >= s.size()) return false;
      if (s[*i] == ',') {
        ++*i;
        continue;
      }
      if (s[*i] == close) {
        ++*i;
        return true;
      }
      return false;
    }
  }
  for (const char* word : {"true", "false", "null"}) {
    size_t n = strlen(word);
    if (s.compare(*i, n, word) == 0) {
      *i += n;
      return true;
    }
  }
  size_t start = *i;
  if (s[*i] == '-') ++*i;
  while (*i < s.size() && ((s[*i] >= '0' && s[*i] <= '9') || s[*i] == '.' || s[*i] == 'e' || s[*i] == 'E' || s[*i] == '+' || s[*i] == '-')) ++*i;
  return *i > start && (s[start] != '-' || *i > start + 1);
}

// The offset of member `key`'s value in the object at s[at], or npos (not an
// object, malformed, or no such member).
size_t Member(const std::string& s, size_t at, const char* key) {
  size_t i = at;
  SkipWs(s, &i);
  if (i >= s.size() || s[i] != '{') return std::string::npos;
  ++i;
  SkipWs(s, &i);
  if (i < s.size() && s[i] == '}') return std::string::npos;
  for (;;) {
    SkipWs(s, &i);
    std::string name;
    if (!ReadString(s, &i, &name)) return std::string::npos;
    SkipWs(s, &i);
    if (i >= s.size() || s[i] != ':') return std::string::npos;
    ++i;
    SkipWs(s, &i);
    if (name == key) return i;
    if (!SkipValue(s, &i, 1)) return std::string::npos;
    SkipWs(s, &i);
    if (i >= s.size() || s[i] != ',') return std::string::npos;
    ++i;
  }
}

bool StringMember(const std::string& s, size_t at, const char* key, std::string* out) {
  size_t i = Member(s, at, key);
  return i != std::string::npos && ReadString(s, &i, out);
}

// The whole text is one JSON object.
bool IsObject(const std::string& s) {
  size_t i = 0;
  SkipWs(s, &i);
  if (i >= s.size() || s[i] != '{') return false;
  if (!SkipValue(s, &i, 0)) return false;
  SkipWs(s, &i);
  return i == s.size();
}

std::string Quote(const std::string& x) {
  std::string out = "\"";
  for (unsigned char c : x) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out + "\"";
}

// ---- output ----

bool WriteAll(int fd, const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Prints a CNI error object on stdout; returns the exit status (1).
int Fail(const std::string& version, int code, const std::string& msg, const std::string& details = "") {
  std::string out = "{\"cniVersion\":" + Quote(version) + ",\"code\":" + std::to_string(code) + ",\"msg\":" + Quote(msg);
  if (!details.empty()) out += ",\"details\":" + Quote(details);
  out += "}\n";
  WriteAll(1, out);
  return 1;
}

bool Supported(const std::string& v) {
  for (const char* x : kVersions)
    if (v == x) return true;
  return false;
}

// ---- the agent ----

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

void CloseReceivedFds(msghdr* msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t k = 0; k < n; ++k) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
      close(fd);
    }
  }
}

// The agent's reply text, or false with *why (errno's text) when the agent
// cannot be reached or gave no reply.
bool AskAgent(const std::string& path, const std::string& request, std::string* reply, std::string* why) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    *why = "the socket path is longer than " + std::to_string(sizeof addr.sun_path - 1) + " bytes";
    return false;
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd sock(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) {
    *why = std::string("socket: ") + strerror(errno);
    return false;
  }
  timeval tv{};
  tv.tv_sec = kReplyTimeoutSecs;
  setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(sock.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int rc;
  do rc = connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    *why = "connect " + path + ": " + strerror(errno);
    return false;
  }
  ssize_t sent;
  do sent = send(sock.get(), request.data(), request.size(), MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  // An agent that refuses the connection (too many, or stopping) sends why
  // and closes: the send may then fail, and the first receive report the
  // reset before the refusal queued behind it. Either way the refusal is read.
  bool reset = sent < 0 && (errno == EPIPE || errno == ECONNRESET);
  if (sent != static_cast<ssize_t>(request.size()) && !reset) {
    *why = "send to " + path + ": " + (sent < 0 ? strerror(errno) : "short write");
    return false;
  }
  std::string sendWhy = reset ? "send to " + path + ": " + strerror(errno) : "";
  std::vector<char> buf(kMaxReply);
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 253)];
  for (bool retried = false;;) {
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(sock.get(), &msg, MSG_CMSG_CLOEXEC | (reset ? MSG_DONTWAIT : 0));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ECONNRESET && !retried) {
      retried = reset = true;
      sendWhy = std::string("receive: ") + strerror(errno);
      continue;
    }
    if (n < 0 && reset) {
      *why = sendWhy;
      return false;
    }
    if (n < 0) {
      *why = errno == EAGAIN || errno == EWOULDBLOCK ? "no reply from the agent in " + std::to_string(kReplyTimeoutSecs) + " s" : std::string("receive: ") + strerror(errno);
      return false;
    }
    CloseReceivedFds(&msg);
    if (n == 0) {
      *why = "the agent closed the connection without a reply";
      return false;
    }
    if (msg.msg_flags & MSG_TRUNC) {
      *why = "the agent's reply is larger than " + std::to_string(kMaxReply) + " bytes";
      return false;
    }
    reply->assign(buf.data(), static_cast<size_t>(n));
    return true;
  }
}

// Codes of the agent's refusals that pass (lib/agent/protocol.ts ErrorBody.code).
bool Transient(const std::string& code) { return code == "RATE_LIMITED" || code == "EBUSY" || code == "EAGAIN" || code == "LIMIT_EXCEEDED"; }

}  // namespace

int main() {
  // The configuration (stdin), bounded.
  std::string config;
  {
    char chunk[16384];
    for (;;) {
      ssize_t n = read(0, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(kNewest, kIoFailure, std::string("cannot read the network configuration from stdin: ") + strerror(errno));
      if (n == 0) break;
      config.append(chunk, static_cast<size_t>(n));
      if (config.size() > kMaxConfig) return Fail(kNewest, kInvalidConfig, "the network configuration is larger than " + std::to_string(kMaxConfig) + " bytes");
    }
  }
  std::string version = kNewest;
  std::string asked;
  bool object = IsObject(config);
  if (object && StringMember(config, 0, "cniVersion", &asked) && Supported(asked)) version = asked;

  const char* command = getenv("CNI_COMMAND");
  if (!command || !*command) return Fail(version, kInvalidEnvironment, "invalid environment: CNI_COMMAND is not set (one of ADD, DEL, CHECK, GC, STATUS, VERSION)");
  std::string cmd = command;
  if (cmd == "VERSION") {
    std::string out = "{\"cniVersion\":" + Quote(version) + ",\"supportedVersions\":[";
    for (size_t k = 0; k < sizeof kVersions / sizeof *kVersions; ++k) out += (k ? "," : "") + Quote(kVersions[k]);
    out += "]}\n";
    return WriteAll(1, out) ? 0 : 1;
  }

  std::string socketPath = kDefaultSocket;
  std::string fromConfig;
  if (const char* env = getenv("NETFD_AGENT_SOCKET"); env && *env) socketPath = env;
  else if (object && StringMember(config, 0, "socket", &fromConfig) && !fromConfig.empty() && fromConfig[0] == '/') socketPath = fromConfig;

  std::string args = "{\"command\":" + Quote(cmd);
  const struct {
    const char* var;
    const char* arg;
  } vars[] = {{"CNI_CONTAINERID", "containerId"}, {"CNI_NETNS", "netns"}, {"CNI_IFNAME", "ifname"}, {"CNI_ARGS", "args"}, {"CNI_PATH", "path"}};
  for (const auto& v : vars)
    if (const char* x = getenv(v.var)) args += std::string(",\"") + v.arg + "\":" + Quote(x);
  args += ",\"config\":" + Quote(config) + "}";
  std::string request = "{\"v\":1,\"id\":1,\"op\":\"cni\",\"args\":" + args + "}";
  if (request.size() > kMaxRequest) return Fail(version, kInvalidConfig, "the network configuration and environment are larger than the agent reads (" + std::to_string(kMaxRequest) + " bytes)");

  bool status = cmd == "STATUS";
  std::string reply, why;
  if (!AskAgent(socketPath, request, &reply, &why))
    return Fail(version, status ? kNotAvailable : kTryAgainLater, "the netfd agent is not reachable at " + socketPath + " (is the netfd DaemonSet running?)", why);

  std::string ok;
  size_t okAt = Member(reply, 0, "ok");
  if (!IsObject(reply) || okAt == std::string::npos) return Fail(version, kIoFailure, "the netfd agent sent a reply this plugin cannot read", reply.substr(0, 200));
  if (reply.compare(okAt, 4, "true") == 0) {
    size_t result = Member(reply, 0, "result");
    std::string out;
    size_t exitAt = result == std::string::npos ? std::string::npos : Member(reply, result, "exit");
    if (exitAt == std::string::npos || !StringMember(reply, result, "stdout", &out)) return Fail(version, kIoFailure, "the netfd agent sent a reply without exit and stdout", reply.substr(0, 200));
    int code = reply.compare(exitAt, 1, "0") == 0 ? 0 : 1;
    if (!WriteAll(1, out)) return 1;
    return code;
  }
  std::string code, message;
  size_t error = Member(reply, 0, "error");
  if (error == std::string::npos || !StringMember(reply, error, "code", &code) || !StringMember(reply, error, "message", &message))
    return Fail(version, kIoFailure, "the netfd agent sent an error this plugin cannot read", reply.substr(0, 200));
  // The agent refused the request itself (before any CNI handling).
  int cniCode = status ? kNotAvailable : Transient(code) ? kTryAgainLater : kIoFailure;
  return Fail(version, cniCode, "the netfd agent refused the request: " + message, "netfd " + code);
}
