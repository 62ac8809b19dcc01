#include "poller.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <new>
#include <thread>

#include "common.h"
#include "jscall.h"

namespace netfd {

namespace {

// Readiness as JS sees it.
constexpr uint32_t kReadable = 1, kWritable = 2, kHangup = 4, kError = 8;
constexpr uint64_t kStop = UINT64_MAX;

struct Event {
  int fd;
  uint32_t events;
  uint32_t token;
};

uint32_t ToEpoll(uint32_t js) {
  uint32_t e = EPOLLONESHOT | EPOLLRDHUP;
  if (js & kReadable) e |= EPOLLIN;
  if (js & kWritable) e |= EPOLLOUT;
  return e;
}

uint32_t FromEpoll(uint32_t e) {
  uint32_t js = 0;
  if (e & EPOLLIN) js |= kReadable;
  if (e & EPOLLOUT) js |= kWritable;
  if (e & (EPOLLHUP | EPOLLRDHUP)) js |= kHangup;
  if (e & EPOLLERR) js |= kError;
  return js;
}

// Runs on the JS thread for each queued event (env null: Node is tearing the
// function down, the event is dropped). Throws nothing: an exception of the
// callback becomes 'uncaughtException', or is dropped while Node is stopping.
void Deliver(Napi::Env env, Napi::Function cb, std::nullptr_t*, Event* ev) noexcept {
  std::unique_ptr<Event> e(ev);
  if (env == nullptr || cb.IsEmpty() || !e) return;
  CallIntoJs(env, [&] { cb.Call({Napi::Number::New(env, e->fd), Napi::Number::New(env, e->events), Napi::Number::New(env, e->token)}); });
}

using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, Event, Deliver>;

// new Poller((fd, events, token) => void). Every watch is one-shot: after an
// event the fd is quiet until `arm` is called again.
class Poller : public Napi::ObjectWrap<Poller> {
 public:
  static Napi::Function Class(Napi::Env env) {
    return DefineClass(env, "Poller",
                       {InstanceMethod("add", &Poller::Add), InstanceMethod("arm", &Poller::Arm), InstanceMethod("remove", &Poller::Remove),
                        InstanceMethod("close", &Poller::Close), InstanceMethod("ref", &Poller::Ref), InstanceMethod("unref", &Poller::Unref)});
  }

  explicit Poller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Poller>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(env, "Poller: expected a callback (fd, events, token)");
    epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) throw Error(env, "epoll_create1", "create an epoll instance");
    stop_ = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop_) throw Error(env, "eventfd", "create an eventfd");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kStop;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, stop_.get(), &ev) < 0) throw Error(env, "epoll_ctl", "watch the stop eventfd");
    tsfn_ = Tsfn::New(env, info[0].As<Napi::Function>(), "netfd poller", 0, 1);
    thread_ = std::thread([this] { Loop(); });
  }

  ~Poller() override { Stop(); }

 private:
  Napi::Error Error(Napi::Env env, const char* syscall, const std::string& what) {
    SysError e;
    e.err = errno;
    e.syscall = syscall;
    e.message = what + ": " + strerror(errno);
    return MakeError(env, e);
  }

  void Loop() {
    epoll_event evs[64];
    for (;;) {
      int n = ::epoll_wait(epoll_.get(), evs, 64, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (int i = 0; i < n; i++) {
        if (evs[i].data.u64 == kStop) {
          tsfn_.Release();
          return;
        }
        // Owned by Deliver once queued; dropped when it cannot be (Node is closing the function).
        auto* e = new (std::nothrow) Event{int(uint32_t(evs[i].data.u64)), FromEpoll(evs[i].events), uint32_t(evs[i].data.u64 >> 32)};
        if (e == nullptr) continue;
        if (tsfn_.NonBlockingCall(e) != napi_ok) delete e;
      }
    }
    tsfn_.Release();
  }

  // Ends the thread (once); events already queued are still delivered.
  void Stop() {
    if (!thread_.joinable()) return;
    uint64_t one = 1;
    ssize_t w = ::write(stop_.get(), &one, sizeof one);
    (void)w;
    thread_.join();
  }

  int FdArg(const Napi::CallbackInfo& info, const char* fn) {
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": fd must be a number");
    double d = info[0].As<Napi::Number>().DoubleValue();
    if (d < 0 || d > INT32_MAX || d != double(int(d))) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": fd must be a non-negative integer");
    return int(d);
  }

  uint32_t U32Arg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what) {
    if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + what + " must be a number");
    double d = info[i].As<Napi::Number>().DoubleValue();
    if (d < 0 || d > UINT32_MAX || d != double(uint32_t(d))) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + what + " must be an unsigned 32-bit integer");
    return uint32_t(d);
  }

  Napi::Value Ctl(const Napi::CallbackInfo& info, int op, const char* fn) {
    Napi::Env env = info.Env();
    if (!thread_.joinable()) throw Napi::Error::New(env, std::string(fn) + ": the poller is closed");
    int fd = FdArg(info, fn);
    uint32_t events = U32Arg(info, 1, fn, "events");
    if (events & ~(kReadable | kWritable)) throw Napi::TypeError::New(env, std::string(fn) + ": events must combine 1 (readable) and 2 (writable)");
    uint32_t token = U32Arg(info, 2, fn, "token");
    epoll_event ev{};
    ev.events = ToEpoll(events);
    ev.data.u64 = (uint64_t(token) << 32) | uint32_t(fd);
    if (::epoll_ctl(epoll_.get(), op, fd, &ev) < 0) throw Error(env, "epoll_ctl", std::string(fn) + " fd " + std::to_string(fd));
    return env.Undefined();
  }

  Napi::Value Add(const Napi::CallbackInfo& info) { return Ctl(info, EPOLL_CTL_ADD, "Poller.add"); }
  Napi::Value Arm(const Napi::CallbackInfo& info) { return Ctl(info, EPOLL_CTL_MOD, "Poller.arm"); }

  Napi::Value Remove(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = FdArg(info, "Poller.remove");
    if (thread_.joinable() && ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr) < 0 && errno != ENOENT && errno != EBADF)
      throw Error(env, "epoll_ctl", "Poller.remove fd " + std::to_string(fd));
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    epoll_.reset();
    stop_.reset();
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (thread_.joinable()) tsfn_.Ref(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (thread_.joinable()) tsfn_.Unref(info.Env());
    return info.Env().Undefined();
  }

  Fd epoll_;
  Fd stop_;
  Tsfn tsfn_;
  std::thread thread_;
};

}  // namespace

void InitPoller(Napi::Env env, Napi::Object exports) { exports.Set("Poller", Poller::Class(env)); }

}  // namespace netfd
