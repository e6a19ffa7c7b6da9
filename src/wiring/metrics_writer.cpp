// SPDX-License-Identifier: Apache-2.0
// Renders and atomically replaces the metrics textfile.
#include "wiring/metrics_writer.hpp"

#include "consumers/writer.hpp"
#include "wiring/metrics.hpp"

namespace credrotd::wiring {

void MetricsWriter::write()
{
  if (m_path.empty()) {
    return;
  }
  auto statuses = m_engine.status_all();
  if (!statuses) {
    m_logger.warning("metrics not written: " + statuses.error().describe());
    return;
  }
  const std::string text = wiring::render_metrics(
      *statuses, std::chrono::time_point_cast<std::chrono::milliseconds>(core::Clock::now()));
  // Same writer as the consumer files: temp file in the directory, fsync, rename; the
  // collector never reads a half-written file.
  const auto written = consumers::rewrite_file(
      m_path, consumers::WriteOptions{0644, 0, consumers::InPlace::no},
      [&](const consumers::CurrentFile&) -> core::Result<consumers::Content> {
        return consumers::Content(text.begin(), text.end());
      });
  if (!written) {
    m_logger.warning("metrics not written: " + written.error().describe());
  }
}

void MetricsWriter::refresh_every(boost::asio::any_io_executor executor,
                                  std::chrono::seconds period)
{
  m_timer = std::make_unique<boost::asio::steady_timer>(std::move(executor));
  m_period = period;
  arm();
}

void MetricsWriter::arm()
{
  m_timer->expires_after(m_period);
  m_timer->async_wait([this](boost::system::error_code ec) {
    if (ec) {
      return;
    }
    write();
    arm();
  });
}

} // namespace credrotd::wiring
