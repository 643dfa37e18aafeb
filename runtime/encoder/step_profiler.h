// Times forward-pass steps into storage reserved once, so recording never allocates.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "encore/profile.h"

namespace encore::internal {

class StepProfiler {
 public:
  // Turns recording on, with room for `max_records` steps per run.
  void enable(size_t max_records) {
    enabled_ = true;
    records_.reserve(max_records);
  }
  bool enabled() const { return enabled_; }
  const std::vector<ProfileRecord>& records() const { return records_; }

  void begin_run() {
    if (!enabled_) return;
    records_.clear();  // keeps the capacity
    run_start_ = now();
  }

  // Records the time from construction to destruction of the returned scope; does nothing
  // (not even read the clock) when profiling is off.
  class Scope {
   public:
    Scope(StepProfiler* p, ProfileRecord r) : p_(p), r_(r) {
      if (p_) r_.start_ns = now() - p_->run_start_;
    }
    ~Scope() {
      if (!p_ || p_->records_.size() == p_->records_.capacity()) return;
      r_.duration_ns = now() - p_->run_start_ - r_.start_ns;
      p_->records_.push_back(r_);
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    StepProfiler* p_;
    ProfileRecord r_;
  };

  Scope step(int layer, ProfileStep step, const char* kernel, uint64_t operations, uint64_t bytes) {
    return Scope(enabled_ ? this : nullptr, ProfileRecord{layer, step, kernel, 0, 0, operations, bytes});
  }

 private:
  static uint64_t now() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
  }
  bool enabled_ = false;
  uint64_t run_start_ = 0;
  std::vector<ProfileRecord> records_;
};

}  // namespace encore::internal
