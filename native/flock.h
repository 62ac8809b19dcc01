// flock(2) locks on lock files (STATE/NAME.lock): the kernel drops a dead
// holder's lock, so there is no staleness to judge and nothing to poll.
#pragma once

#include <string>

#include "common.h"

namespace netfd {

// flock(fd, op | LOCK_NB) for op LOCK_EX or LOCK_SH, or flock(fd, LOCK_UN):
// false when another open file holds a conflicting lock (EWOULDBLOCK).
bool Flock(int fd, int op);

// Opens `path` (O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode 0644) and
// takes an exclusive (or shared) flock on it, waiting up to `timeoutMs`
// (-1: forever; 0: not at all, a LOCK_NB try that never blocks, fit for the
// JS thread). A wait blocks in flock(2) and is cut short at the deadline by
// a timer signal to the waiting thread, so give a timeout only on a thread of
// the addon's own (ThreadJob). The lock taken is on the file at `path` at
// that moment: when a holder removed the file meanwhile (UnlockFile), the new
// one is opened and waited for. A non-empty `note` (who holds it; exclusive
// locks only) replaces the file's text once the lock is taken. An invalid Fd
// when the time ran out; the lock lasts as long as the returned fd.
Fd LockFile(const std::string& path, bool shared, int timeoutMs, const std::string& note = "");

// Releases a lock LockFile took: when this fd is the file's only holder
// (an exclusive lock, or a shared one no one else shares), `path` is removed
// while the lock is still held, so no other process ever holds a removed
// file; then `fd` is closed. Waiters on the removed file open `path` anew.
// `exclusive`: the lock is known to be exclusive (no flock to find out).
void UnlockFile(Fd fd, const std::string& path, bool exclusive = false);

}  // namespace netfd
