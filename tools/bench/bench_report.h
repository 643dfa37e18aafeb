// What encore-bench measures and how it reports it: timing statistics, the per-layer x
// per-step profile table, and the JSON / Chrome trace-event documents. Kept apart from the
// command line so tests can check the documents' structure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "encore/profile.h"

namespace encore::bench {

struct TimingStats {
  size_t runs = 0;
  double median_ms = 0, p90_ms = 0, p99_ms = 0, min_ms = 0, max_ms = 0, mean_ms = 0;
};
// Percentiles by nearest rank on the sorted samples.
TimingStats summarize(std::vector<double> samples_ms);

// Median duration of each (layer, step) over several profiled runs. Layer -1 holds the
// embeddings, pooler and classifier. Quantize steps of one layer are summed per run.
struct ProfileCell {
  int layer = -1;
  ProfileStep step = ProfileStep::kEmbeddings;
  std::string kernel;
  double median_ms = 0;
  uint64_t operations = 0, bytes = 0;  // per run
};
struct ProfileSummary {
  std::vector<ProfileCell> cells;  // in execution order of first appearance
  double steps_total_ms = 0;       // sum of the cells' medians
  double run_median_ms = 0;        // median end-to-end time of the profiled runs
  double linear_ms = 0;            // time in the linear layers (GEMMs)
};
ProfileSummary summarize_profile(const std::vector<std::vector<ProfileRecord>>& runs,
                                 const std::vector<double>& run_ms);

// Text tables: layers (rows) x steps (columns) in ms with each row's share of the total,
// then per-step totals across layers with GOPS for the GEMMs.
std::string profile_table(const ProfileSummary& p);

// Chrome / Perfetto trace-event document ("traceEvents", complete "X" events in
// microseconds) for one run's records.
nlohmann::json trace_events(const std::vector<ProfileRecord>& run, const std::string& label);

nlohmann::json to_json(const TimingStats& t);
nlohmann::json to_json(const ProfileSummary& p);

}  // namespace encore::bench
