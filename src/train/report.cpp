#include "train/report.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cformer/io.h"
#include "util/check.h"

namespace cf::train {

MetricsLog::MetricsLog(const std::string& path, bool append) : path_(path) {
  f_ = std::fopen(path.c_str(), append ? "a" : "w");
  CF_CHECK(f_ != nullptr, IoError, path, ": cannot open for writing: ", std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (f_) std::fclose(f_);
}

void MetricsLog::write(const std::string& json_object) {
  CF_CHECK(std::fputs(json_object.c_str(), f_) >= 0 && std::fputc('\n', f_) != EOF &&
               std::fflush(f_) == 0,
           IoError, path_, ": write failed");
}

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = static_cast<int64_t>(std::llround(s));
  std::ostringstream os;
  if (t >= 3600) os << t / 3600 << "h" << (t % 3600) / 60 << "m";
  else if (t >= 60) os << t / 60 << "m" << (t % 60 < 10 ? "0" : "") << t % 60 << "s";
  else os << t << "s";
  return os.str();
}

std::string progress_line(int64_t step, int64_t total_steps, double loss, double tokens_per_s,
                          double elapsed_s, double eta_s) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "step %lld/%lld | loss %.4f | %.0f tok/s | %s elapsed | ETA %s",
                static_cast<long long>(step), static_cast<long long>(total_steps), loss,
                tokens_per_s, format_duration(elapsed_s).c_str(), format_duration(eta_s).c_str());
  return buf;
}

void write_loss_curve_svg(const std::string& path, const std::vector<CurvePoint>& train,
                          const std::vector<CurvePoint>& val, const std::string& title) {
  const double W = 720, H = 420, L = 60, R = 20, T = 40, B = 50;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const auto* pts : {&train, &val})
    for (const CurvePoint& p : *pts) {
      if (!std::isfinite(p.value)) continue;
      x0 = std::min(x0, p.step);
      x1 = std::max(x1, p.step);
      y0 = std::min(y0, p.value);
      y1 = std::max(y1, p.value);
    }
  if (!(x0 < x1)) {
    x0 = 0;
    x1 = std::max(1.0, x1);
  }
  if (!(y0 < y1)) {
    y0 = std::isfinite(y0) ? y0 - 1 : 0;
    y1 = y0 + 2;
  }
  auto X = [&](double v) { return L + (v - x0) / (x1 - x0) * (W - L - R); };
  auto Y = [&](double v) { return H - B - (v - y0) / (y1 - y0) * (H - T - B); };
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << W / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << title
    << "</text>\n";
  for (int i = 0; i <= 5; ++i) {
    const double yv = y0 + (y1 - y0) * i / 5.0, xv = x0 + (x1 - x0) * i / 5.0;
    s << "<line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\"" << Y(yv) << "\" y2=\"" << Y(yv)
      << "\" stroke=\"#ddd\"/>\n<text x=\"" << L - 6 << "\" y=\"" << Y(yv) + 4
      << "\" text-anchor=\"end\">" << std::round(yv * 100) / 100 << "</text>\n<text x=\"" << X(xv)
      << "\" y=\"" << H - B + 18 << "\" text-anchor=\"middle\">" << std::llround(xv) << "</text>\n";
  }
  s << "<text x=\"" << W / 2 << "\" y=\"" << H - 10 << "\" text-anchor=\"middle\">step</text>\n"
    << "<text x=\"15\" y=\"" << H / 2 << "\" transform=\"rotate(-90 15 " << H / 2
    << ")\" text-anchor=\"middle\">loss (nats/token)</text>\n";
  auto polyline = [&](const std::vector<CurvePoint>& pts, const char* color, const char* label, int row) {
    if (pts.empty()) return;
    s << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.5\" points=\"";
    for (const CurvePoint& p : pts)
      if (std::isfinite(p.value)) s << X(p.step) << "," << Y(p.value) << " ";
    s << "\"/>\n<text x=\"" << W - R - 120 << "\" y=\"" << T + 16 * row << "\" fill=\"" << color
      << "\">" << label << "</text>\n";
  };
  polyline(train, "#1f77b4", "train loss", 1);
  polyline(val, "#d62728", "validation loss", 2);
  s << "</svg>\n";
  const std::string text = s.str();
  io::write_file_atomic(path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

void read_curves(const std::string& path, const std::string& train_key, int64_t every,
                 std::vector<CurvePoint>& train, std::vector<CurvePoint>& val) {
  std::map<int64_t, double> tl, vl;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    const nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
    if (!r.is_object() || !r.contains("step") || !r["step"].is_number_integer()) continue;
    const int64_t s = r["step"];
    if (r.contains(train_key) && r[train_key].is_number() && s % every == 0) tl[s] = r[train_key];
    if (r.contains("val_loss") && r["val_loss"].is_number()) vl[s] = r["val_loss"];
  }
  train.clear();
  val.clear();
  for (const auto& [s, v] : tl) train.push_back({static_cast<double>(s), v});
  for (const auto& [s, v] : vl) val.push_back({static_cast<double>(s), v});
}

}  // namespace cf::train
