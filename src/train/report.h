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
/// The curves of a whole run (a resumed one too) from metrics.jsonl: the training curve from the
/// records with train_key at steps divisible by every, the validation curve from "val_loss". The
/// last record of a step wins (steps after a checkpoint are logged again after a resume); lines
/// that are not JSON objects with a "step" are skipped. A missing file gives empty curves.
void read_curves(const std::string& path, const std::string& train_key, int64_t every,
                 std::vector<CurvePoint>& train, std::vector<CurvePoint>& val);

}  // namespace cf::train
