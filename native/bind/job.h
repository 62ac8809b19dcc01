// The promise pattern of every async binding: the JS arguments are copied
// into a plain value on the JS thread, `exec` does only syscalls off it, and
// `convert` turns the result into JS (handing fds over) when the promise is
// settled; a SysError rejects it with the Node-style error (MakeError).
//
//   Job<R>        runs `exec` on a libuv worker: for calls that return soon.
//   ThreadJob<R>  runs `exec` on a thread of its own: for calls that may
//                 block for long (a flock wait), which must not hold one of
//                 libuv's few workers that netlink jobs and fs calls need.
#pragma once

#include <napi.h>

#include <functional>
#include <optional>
#include <thread>

#include "../common.h"
#include "../jscall.h"
#include "../jserror.h"

namespace netfd::js {

// What a job's `exec` produced: its value, or the error it threw.
template <typename R>
struct Outcome {
  std::optional<R> result;
  std::optional<SysError> error;

  template <typename Exec>
  void Run(Exec& exec) noexcept {
    try {
      result.emplace(exec());
    } catch (const SysError& e) {
      error = e;
    } catch (const std::exception& e) {
      SysError s;
      s.code = "ENATIVE";
      s.message = e.what();
      error = s;
    }
  }

  // Settling calls into JS, which fails once Node is stopping: CallIntoJs
  // keeps that failure from escaping (std::terminate); fds not yet handed to
  // JS are closed by their owner in `result`.
  template <typename Convert>
  void Settle(Napi::Env env, Napi::Promise::Deferred& deferred, Convert& convert) noexcept {
    CallIntoJs(env, [&] {
      Napi::HandleScope scope(env);
      if (error) {
        deferred.Reject(MakeError(env, *error).Value());
        return;
      }
      try {
        deferred.Resolve(convert(env, *result));
      } catch (const Napi::Error& e) {
        deferred.Reject(e.Value());
      }
    });
  }
};

// Runs `exec` on a libuv worker and settles a promise with `convert`'s value
// or the SysError thrown. R owns its fds until `convert` hands them to JS.
template <typename R>
class Job : public Napi::AsyncWorker {
 public:
  using Exec = std::function<R()>;
  using Convert = std::function<Napi::Value(Napi::Env, R&)>;
  static Napi::Value Start(Napi::Env env, Exec exec, Convert convert) {
    auto* job = new Job(env, std::move(exec), std::move(convert));
    Napi::Promise p = job->deferred_.Promise();
    job->Queue();
    return p;
  }

 protected:
  void Execute() override { outcome_.Run(exec_); }
  void OnOK() override { outcome_.Settle(Env(), deferred_, convert_); }

 private:
  Job(Napi::Env env, Exec exec, Convert convert)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), exec_(std::move(exec)), convert_(std::move(convert)) {}
  Napi::Promise::Deferred deferred_;
  Exec exec_;
  Convert convert_;
  Outcome<R> outcome_;
};

// Job's twin on a thread of its own, settled through a thread-safe function
// (which keeps the event loop alive until then). When Node tears the
// function down first, the outcome is dropped (its fds closed by their owner).
template <typename R>
class ThreadJob {
 public:
  using Exec = std::function<R()>;
  using Convert = std::function<Napi::Value(Napi::Env, R&)>;
  static Napi::Value Start(Napi::Env env, Exec exec, Convert convert) {
    auto* job = new ThreadJob(env, std::move(exec), std::move(convert));
    Napi::Promise p = job->deferred_.Promise();
    job->tsfn_ = Tsfn::New(env, "netfd thread job", 0, 1);
    try {
      std::thread([job] { job->Run(); }).detach();
    } catch (const std::system_error& e) {
      job->tsfn_.Release();
      delete job;
      throw Napi::Error::New(env, std::string("start a thread: ") + e.what());
    }
    return p;
  }

 private:
  ThreadJob(Napi::Env env, Exec exec, Convert convert) : deferred_(Napi::Promise::Deferred::New(env)), exec_(std::move(exec)), convert_(std::move(convert)) {}

  // Runs on the JS thread (env null: Node is tearing the function down).
  static void Finish(Napi::Env env, Napi::Function, std::nullptr_t*, ThreadJob* job) noexcept {
    if (env != nullptr) job->outcome_.Settle(env, job->deferred_, job->convert_);
    delete job;
  }
  using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, ThreadJob, Finish>;

  void Run() noexcept {
    outcome_.Run(exec_);
    Tsfn tsfn = tsfn_;  // `this` belongs to Finish once queued
    if (tsfn.BlockingCall(this) != napi_ok) delete this;
    tsfn.Release();
  }

  Napi::Promise::Deferred deferred_;
  Exec exec_;
  Convert convert_;
  Outcome<R> outcome_;
  Tsfn tsfn_;
};

// A `convert` for jobs whose promise resolves to undefined.
inline Napi::Value Done(Napi::Env env, bool&) { return env.Undefined(); }

}  // namespace netfd::js
