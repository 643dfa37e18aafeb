#include "bench/bench_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>

namespace encore::bench {

TimingStats summarize(std::vector<double> s) {
  TimingStats t;
  t.runs = s.size();
  if (s.empty()) return t;
  std::sort(s.begin(), s.end());
  auto rank = [&](double q) { return s[std::min(s.size() - 1, static_cast<size_t>(std::ceil(q * s.size())) - (q > 0))]; };
  t.min_ms = s.front();
  t.max_ms = s.back();
  t.median_ms = s.size() % 2 ? s[s.size() / 2] : 0.5 * (s[s.size() / 2 - 1] + s[s.size() / 2]);
  t.p90_ms = rank(0.90);
  t.p99_ms = rank(0.99);
  t.mean_ms = std::accumulate(s.begin(), s.end(), 0.0) / double(s.size());
  return t;
}

namespace {
double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}
}  // namespace

ProfileSummary summarize_profile(const std::vector<std::vector<ProfileRecord>>& runs, const std::vector<double>& run_ms) {
  ProfileSummary p;
  std::map<std::pair<int, int>, size_t> index;  // (layer, step) -> cell
  std::vector<std::vector<double>> samples;
  for (const auto& run : runs) {
    std::vector<double> per_cell(p.cells.size(), 0.0);
    for (const ProfileRecord& r : run) {
      auto key = std::make_pair(r.layer, static_cast<int>(r.step));
      auto it = index.find(key);
      if (it == index.end()) {
        it = index.emplace(key, p.cells.size()).first;
        p.cells.push_back({r.layer, r.step, r.kernel, 0.0, 0, 0});
        samples.emplace_back();
        per_cell.push_back(0.0);
      }
      per_cell[it->second] += double(r.duration_ns) * 1e-6;
      if (&run == &runs.front()) {
        p.cells[it->second].operations += r.operations;
        p.cells[it->second].bytes += r.bytes;
      }
    }
    for (size_t i = 0; i < per_cell.size(); ++i) samples[i].push_back(per_cell[i]);
  }
  for (size_t i = 0; i < p.cells.size(); ++i) {
    p.cells[i].median_ms = median(samples[i]);
    p.steps_total_ms += p.cells[i].median_ms;
    if (profile_step_is_linear(p.cells[i].step)) p.linear_ms += p.cells[i].median_ms;
  }
  p.run_median_ms = median(run_ms);
  return p;
}

std::string profile_table(const ProfileSummary& p) {
  // Columns: the steps in the order they appear inside a layer.
  std::vector<ProfileStep> cols;
  for (const auto& c : p.cells) {
    if (c.layer >= 0 && std::find(cols.begin(), cols.end(), c.step) == cols.end()) cols.push_back(c.step);
  }
  std::map<int, std::map<int, double>> grid;
  for (const auto& c : p.cells) grid[c.layer][static_cast<int>(c.step)] += c.median_ms;
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-10s", "layer");
  out += buf;
  for (ProfileStep s : cols) {
    std::snprintf(buf, sizeof buf, " %13s", profile_step_name(s));
    out += buf;
  }
  out += "      total      %\n";
  const double total = p.steps_total_ms > 0 ? p.steps_total_ms : 1.0;
  for (const auto& [layer, steps] : grid) {
    if (layer < 0) continue;
    double row = 0;
    std::snprintf(buf, sizeof buf, "%-10d", layer);
    out += buf;
    for (ProfileStep s : cols) {
      auto it = steps.find(static_cast<int>(s));
      const double ms = it == steps.end() ? 0.0 : it->second;
      row += ms;
      std::snprintf(buf, sizeof buf, " %13.3f", ms);
      out += buf;
    }
    std::snprintf(buf, sizeof buf, " %10.3f %6.1f\n", row, 100.0 * row / total);
    out += buf;
  }
  for (const auto& c : p.cells) {
    if (c.layer >= 0) continue;
    std::snprintf(buf, sizeof buf, "%-10s %13.3f ms %6.1f%%  (%s)\n", profile_step_name(c.step), c.median_ms,
                  100.0 * c.median_ms / total, c.kernel.c_str());
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "steps total %.3f ms; profiled run median %.3f ms (steps cover %.1f%%)\n",
                p.steps_total_ms, p.run_median_ms, p.run_median_ms > 0 ? 100.0 * p.steps_total_ms / p.run_median_ms : 0.0);
  out += buf;

  out += "\nper step, all layers:\n";
  std::snprintf(buf, sizeof buf, "  %-14s %10s %7s %10s  %s\n", "step", "ms", "%", "GOPS", "kernel");
  out += buf;
  // A step whose kernel differs by layer (an int8 model's blocks kept in f32) lists each kernel
  // after the first with its layers: "encore qs8 gemm ...; layer 1: xnnpack f32 fully-connected".
  std::map<int, std::tuple<double, uint64_t, std::vector<std::pair<std::string, std::string>>>> per_step;
  for (const auto& c : p.cells) {
    auto& [ms, ops, kernels] = per_step[static_cast<int>(c.step)];
    ms += c.median_ms;
    ops += c.operations;
    auto it = std::find_if(kernels.begin(), kernels.end(), [&](const auto& k) { return k.first == c.kernel; });
    if (it == kernels.end()) {
      kernels.emplace_back(c.kernel, std::to_string(c.layer));
    } else if (it != kernels.begin()) {
      it->second += ", " + std::to_string(c.layer);
    }
  }
  for (const auto& [step, v] : per_step) {
    const auto& [ms, ops, kernels] = v;
    std::string kernel = kernels.empty() ? std::string() : kernels[0].first;
    for (size_t i = 1; i < kernels.size(); ++i) {
      kernel += "; layer" + std::string(kernels[i].second.find(',') == std::string::npos ? " " : "s ") +
                kernels[i].second + ": " + kernels[i].first;
    }
    const bool linear = profile_step_is_linear(static_cast<ProfileStep>(step));
    std::snprintf(buf, sizeof buf, "  %-14s %10.3f %6.1f%% %10s  ", profile_step_name(static_cast<ProfileStep>(step)),
                  ms, 100.0 * ms / total, linear && ms > 0 ? std::to_string(int(double(ops) / (ms * 1e6))).c_str() : "");
    out += buf + kernel + "\n";
  }
  std::snprintf(buf, sizeof buf, "time outside the linear layers: %.1f%%\n",
                100.0 * (p.steps_total_ms - p.linear_ms) / total);
  out += buf;
  return out;
}

nlohmann::json trace_events(const std::vector<ProfileRecord>& run, const std::string& label) {
  nlohmann::json events = nlohmann::json::array();
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", 1}, {"tid", 1}, {"args", {{"name", label}}}});
  for (const ProfileRecord& r : run) {
    std::string name = profile_step_name(r.step);
    if (r.layer >= 0) name = "layer " + std::to_string(r.layer) + " " + name;
    events.push_back({{"name", name},
                      {"cat", profile_step_is_linear(r.step) ? "linear" : "kernel"},
                      {"ph", "X"},
                      {"ts", double(r.start_ns) * 1e-3},
                      {"dur", double(r.duration_ns) * 1e-3},
                      {"pid", 1},
                      {"tid", 1},
                      {"args", {{"layer", r.layer}, {"kernel", r.kernel}, {"operations", r.operations}, {"bytes", r.bytes}}}});
  }
  return {{"traceEvents", events}, {"displayTimeUnit", "ms"}};
}

nlohmann::json to_json(const TimingStats& t) {
  return {{"runs", t.runs},       {"median_ms", t.median_ms}, {"p90_ms", t.p90_ms}, {"p99_ms", t.p99_ms},
          {"min_ms", t.min_ms},   {"max_ms", t.max_ms},       {"mean_ms", t.mean_ms}};
}

nlohmann::json to_json(const ProfileSummary& p) {
  nlohmann::json cells = nlohmann::json::array();
  for (const auto& c : p.cells) {
    cells.push_back({{"layer", c.layer},
                     {"step", profile_step_name(c.step)},
                     {"kernel", c.kernel},
                     {"median_ms", c.median_ms},
                     {"operations", c.operations},
                     {"bytes", c.bytes}});
  }
  return {{"steps", cells},
          {"steps_total_ms", p.steps_total_ms},
          {"profiled_run_median_ms", p.run_median_ms},
          {"linear_ms", p.linear_ms},
          {"outside_linear_fraction", p.steps_total_ms > 0 ? 1.0 - p.linear_ms / p.steps_total_ms : 0.0}};
}

}  // namespace encore::bench
