// SPDX-License-Identifier: Apache-2.0
// Text exposition format rendering of the daemon's metrics.
#include "service/metrics.hpp"

#include <cstdio>
#include <functional>

namespace credrotd::service {

namespace {

std::string seconds(double value)
{
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", value);
  return buf;
}

double epoch_seconds(core::TimePoint t)
{
  return static_cast<double>(t.time_since_epoch().count()) / 1000.0;
}

struct Family {
  const char* name;
  const char* type;
  const char* help;
};

} // namespace

std::string escape_label(std::string_view value)
{
  std::string out;
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string render_metrics(const std::vector<engine::ProfileStatus>& profiles, core::TimePoint now)
{
  std::string out;
  const auto family = [&](const Family& f,
                          const std::function<void(const engine::ProfileStatus&)>& each) {
    out += std::string("# HELP ") + f.name + " " + f.help + "\n";
    out += std::string("# TYPE ") + f.name + " " + f.type + "\n";
    for (const auto& p : profiles) {
      each(p);
    }
  };
  const auto sample = [&](const char* name, const engine::ProfileStatus& p,
                          const std::string& value, const std::string& extra_labels = {}) {
    out += std::string(name) + "{profile=\"" + escape_label(p.name) + "\"" + extra_labels + "} " +
           value + "\n";
  };

  out += "# HELP credrotd_info credrotd's version.\n# TYPE credrotd_info gauge\n";
  out += std::string("credrotd_info{version=\"") + escape_label(CREDROTD_VERSION) + "\"} 1\n";

  family({"credrotd_key_age_seconds", "gauge",
          "Seconds since the profile's current key was created or adopted."},
         [&](const engine::ProfileStatus& p) {
           if (p.current_since) {
             sample("credrotd_key_age_seconds", p,
                    seconds(epoch_seconds(now) - epoch_seconds(*p.current_since)));
           }
         });
  family({"credrotd_last_success_timestamp_seconds", "gauge",
          "When the profile's last successful rotation finished (Unix time)."},
         [&](const engine::ProfileStatus& p) {
           if (p.last_success_at) {
             sample("credrotd_last_success_timestamp_seconds", p,
                    seconds(epoch_seconds(*p.last_success_at)));
           }
         });
  family({"credrotd_next_due_timestamp_seconds", "gauge",
          "When the profile's next rotation is due (Unix time)."},
         [&](const engine::ProfileStatus& p) {
           if (p.next_due) {
             sample("credrotd_next_due_timestamp_seconds", p, seconds(epoch_seconds(*p.next_due)));
           }
         });
  family(
      {"credrotd_rotation_running", "gauge", "1 while a rotation of the profile is in progress."},
      [&](const engine::ProfileStatus& p) {
        sample("credrotd_rotation_running", p, p.running ? "1" : "0");
      });
  family({"credrotd_rotations_total", "counter", "Finished rotations of the profile by result."},
         [&](const engine::ProfileStatus& p) {
           sample("credrotd_rotations_total", p, std::to_string(p.counts.succeeded),
                  ",result=\"succeeded\"");
           sample("credrotd_rotations_total", p, std::to_string(p.counts.rolled_back),
                  ",result=\"rolled_back\"");
           sample("credrotd_rotations_total", p, std::to_string(p.counts.failed),
                  ",result=\"failed\"");
         });
  family({"credrotd_candidate_keys", "gauge",
          "Keys recorded during OS-EC2 creates of unknown outcome that may be the daemon's or "
          "another host's: never deleted or adopted, for the operator to check (credrotctl "
          "keys)."},
         [&](const engine::ProfileStatus& p) {
           sample("credrotd_candidate_keys", p, std::to_string(p.candidate_keys));
         });
  return out;
}

} // namespace credrotd::service
