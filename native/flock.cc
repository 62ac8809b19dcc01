#include "flock.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <mutex>

namespace netfd {

namespace {

using Clock = std::chrono::steady_clock;

// The signal that ends a timed wait. Node and libuv use no real-time signal.
int WakeSignal() { return SIGRTMIN + 4; }

void Wake(int) {}

// A handler without SA_RESTART, so that flock(2) returns EINTR. A handler
// someone else installed is kept (it interrupts the wait as well).
void InstallWakeHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    ::sigaction(WakeSignal(), nullptr, &old);
    if ((old.sa_flags & SA_SIGINFO) || (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN)) return;
    struct sigaction sa {};
    sa.sa_handler = Wake;
    sigemptyset(&sa.sa_mask);
    ::sigaction(WakeSignal(), &sa, nullptr);
  });
}

timespec Ms(long ms) { return timespec{ms / 1000, (ms % 1000) * 1000000}; }

// A timer that signals the calling thread at `ms` from now, and every 10 ms
// after that: a signal that lands just before flock(2) is entered cannot
// leave the wait unbounded. Only WakeSignal reaches the thread meanwhile.
class WakeTimer {
 public:
  explicit WakeTimer(long ms) {
    InstallWakeHandler();
    sigset_t only;
    sigfillset(&only);
    sigdelset(&only, WakeSignal());
    pthread_sigmask(SIG_SETMASK, &only, &mask_);
    sigevent sev{};
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = WakeSignal();
#ifdef sigev_notify_thread_id
    sev.sigev_notify_thread_id = ::gettid();
#else
    sev._sigev_un._tid = ::gettid();
#endif
    if (::timer_create(CLOCK_MONOTONIC, &sev, &timer_) < 0) {
      int err = errno;
      pthread_sigmask(SIG_SETMASK, &mask_, nullptr);
      ThrowErrno("timer_create", "create the timer of a lock wait", err);
    }
    itimerspec its{};
    its.it_value = Ms(ms > 0 ? ms : 1);
    its.it_interval = Ms(10);
    ::timer_settime(timer_, 0, &its, nullptr);
  }
  ~WakeTimer() {
    ::timer_delete(timer_);
    pthread_sigmask(SIG_SETMASK, &mask_, nullptr);
  }
  WakeTimer(const WakeTimer&) = delete;
  WakeTimer& operator=(const WakeTimer&) = delete;

 private:
  timer_t timer_{};
  sigset_t mask_{};
};

// flock(fd, op) waiting until `deadline` (none: forever); false when it passed.
bool FlockUntil(int fd, int op, const std::string& path, const Clock::time_point* deadline) {
  std::unique_ptr<WakeTimer> timer;
  if (deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count();
    if (left <= 0) return Flock(fd, op);
    timer = std::make_unique<WakeTimer>(long(left));
  }
  for (;;) {
    if (::flock(fd, op) == 0) return true;
    if (errno != EINTR) ThrowErrno("flock", "lock " + path);
    if (deadline && Clock::now() >= *deadline) return false;
  }
}

// Whether `fd` is the file now at `path` (not one a holder removed); its size in `size`.
bool IsAt(int fd, const std::string& path, off_t* size = nullptr) {
  struct stat a {}, b {};
  if (::fstat(fd, &a) < 0) ThrowErrno("fstat", "stat the lock file " + path);
  if (::lstat(path.c_str(), &b) < 0) {
    if (errno == ENOENT) return false;
    ThrowErrno("lstat", "stat " + path);
  }
  if (size) *size = a.st_size;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// Replaces the text of the file `fd` (now `size` bytes long) with `note`:
// one write when the file is no longer than the note (as a new one is).
void WriteNote(int fd, const std::string& path, const std::string& note, off_t size) {
  ssize_t n;
  do {
    n = ::pwrite(fd, note.data(), note.size(), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno("pwrite", "write the holder into " + path);
  if (size_t(n) != note.size()) ThrowErrno("pwrite", "write the holder into " + path, EIO);
  if (size > off_t(note.size()) && ::ftruncate(fd, off_t(note.size())) < 0) ThrowErrno("ftruncate", "truncate " + path);
}

}  // namespace

bool Flock(int fd, int op) {
  for (;;) {
    if (::flock(fd, op == LOCK_UN ? LOCK_UN : op | LOCK_NB) == 0) return true;
    if (errno == EWOULDBLOCK) return false;
    if (errno != EINTR) ThrowErrno("flock", "flock fd " + std::to_string(fd));
  }
}

Fd LockFile(const std::string& path, bool shared, int timeoutMs, const std::string& note) {
  const int op = shared ? LOCK_SH : LOCK_EX;
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeoutMs < 0 ? 0 : timeoutMs);
  for (;;) {
    int raw;
    do {
      raw = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    } while (raw < 0 && errno == EINTR);
    if (raw < 0) ThrowErrno("open", "open " + path);
    Fd fd(raw);
    bool got = FlockUntil(fd.get(), op, path, timeoutMs < 0 ? nullptr : &deadline);
    if (!got) return Fd();
    off_t size = 0;
    if (IsAt(fd.get(), path, &size)) {
      if (!note.empty()) {
        try {
          WriteNote(fd.get(), path, note, size);
        } catch (...) {
          ::unlink(path.c_str());  // held exclusively: as UnlockFile would
          throw;
        }
      }
      return fd;
    }
    // Its holder removed it while this one waited: the lock is on the new file.
  }
}

void UnlockFile(Fd fd, const std::string& path, bool exclusive) {
  // An exclusive holder is the only one already; a shared one is when it can take the lock exclusive.
  if ((exclusive || Flock(fd.get(), LOCK_EX)) && IsAt(fd.get(), path) && ::unlink(path.c_str()) < 0 && errno != ENOENT) ThrowErrno("unlink", "remove the lock file " + path);
}

}  // namespace netfd
