#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cformer/error.h"
#include "train/report.h"

namespace cf::train {
namespace {

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(Report, MetricsAppendOneLinePerRecord) {
  const std::string p = ::testing::TempDir() + "/metrics.jsonl";
  {
    MetricsLog m(p, false);
    m.write(R"({"step":1})");
  }
  {
    MetricsLog m(p, true);
    m.write(R"({"step":2})");
  }
  EXPECT_EQ(slurp(p), "{\"step\":1}\n{\"step\":2}\n");
  EXPECT_THROW(MetricsLog("/nonexistent-dir/x.jsonl", false), IoError);
}

TEST(Report, ProgressLineAndDurations) {
  EXPECT_EQ(format_duration(65), "1m05s");
  EXPECT_EQ(format_duration(3725), "1h2m");
  const std::string line = progress_line(12, 100, 2.5, 9000, 65, 300);
  EXPECT_NE(line.find("step 12/100"), std::string::npos);
  EXPECT_NE(line.find("loss 2.5000"), std::string::npos);
  EXPECT_NE(line.find("ETA 5m00s"), std::string::npos);
}

TEST(Report, LossCurveIsAnSvgWithBothSeries) {
  const std::string p = ::testing::TempDir() + "/loss.svg";
  write_loss_curve_svg(p, {{1, 4.0}, {2, 3.0}, {3, 2.5}}, {{3, 2.7}}, "GPT");
  const std::string s = slurp(p);
  EXPECT_EQ(s.rfind("<svg", 0), 0u);
  EXPECT_NE(s.find("train loss"), std::string::npos);
  EXPECT_NE(s.find("validation loss"), std::string::npos);
  EXPECT_NE(s.find("</svg>"), std::string::npos);
}

}  // namespace
}  // namespace cf::train
