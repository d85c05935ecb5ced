// Training reports: metrics appended as JSON lines, the live progress line, the loss curve.
#pragma once
#include <cstdio>
#include <string>
#include <vector>

namespace cf::train {

/// Appends one JSON object per line and flushes, so a crash loses at most the current line.
class MetricsLog {
 public:
  /// Opens path for appending (truncating first unless append). Throws IoError.
  MetricsLog(const std::string& path, bool append);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  void write(const std::string& json_object);

 private:
  FILE* f_ = nullptr;
  std::string path_;
};

/// "step 120/670 | loss 2.1345 | 8,912 tok/s | 1m05s elapsed | ETA 4m10s"
std::string progress_line(int64_t step, int64_t total_steps, double loss, double tokens_per_s,
                          double elapsed_s, double eta_s);
/// "1m05s" style durations.
std::string format_duration(double seconds);

struct CurvePoint {
  double step;
  double value;
};
/// Writes an SVG line chart of the training (and validation, if any) loss against the step.
/// Throws IoError.
void write_loss_curve_svg(const std::string& path, const std::vector<CurvePoint>& train,
                          const std::vector<CurvePoint>& val, const std::string& title);

}  // namespace cf::train
