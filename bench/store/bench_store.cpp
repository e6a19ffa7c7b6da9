// SPDX-License-Identifier: Apache-2.0
// bench_store: the state store at size: the queries behind `credrotctl status` and `history`
// on a database holding a million rotations.
//
// Usage: bench_store [--rows N] [--profiles P] [--repeat R] [--db PATH [--reuse]] [--keep]
// Builds a state database with the store's own schema (Store::open), fills it with N finished
// rotations spread evenly over P profiles, each with the key rows a real rotation leaves (the
// key it created, retired by the next rotation), then times, R times each:
// - Store::open (what the daemon does at start: WAL, quick_check, migrations);
// - the status of one profile and of all of them, as the engine builds it for credrotctl
//   status / the D-Bus API (Engine::status: keys, profile state, history(2), outcome counts);
// - history(profile, 20) (credrotctl history's default) and history(profile, 1000).
// Prints the median and the maximum of each. Results go to docs/PERFORMANCE.md.
#include "store/store.hpp"

#include <CLI/CLI.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

namespace store = credrotd::store;
namespace core = credrotd::core;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point start)
{
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string hex_id(std::mt19937_64& rng)
{
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (auto& c : out) {
    c = k_digits[rng() & 15];
  }
  return out;
}

void check_sqlite(int rc, sqlite3* db, const char* what)
{
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "bench_store: %s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

// Fills the database the way years of rotations would: per profile, rotations in time order,
// each succeeded rotation creating a key and retiring the previous one; one in 50 rolled back,
// one in 200 failed (their keys are gone or never made).
void fill(const std::filesystem::path& path, long rows, int profiles)
{
  sqlite3* db = nullptr;
  check_sqlite(sqlite3_open(path.c_str(), &db), db, "open");
  check_sqlite(sqlite3_exec(db, "PRAGMA synchronous=OFF; BEGIN", nullptr, nullptr, nullptr), db,
               "begin");
  sqlite3_stmt* rot = nullptr;
  check_sqlite(sqlite3_prepare_v2(
                   db,
                   "INSERT INTO rotations (profile, phase, outcome, method, old_access, "
                   "new_access, started_at, phase_since, finished_at, error_code, error, "
                   "note) VALUES (?1, ?2, ?3, 'credentials', ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10)",
                   -1, &rot, nullptr),
               db, "prepare rotations");
  sqlite3_stmt* key = nullptr;
  check_sqlite(sqlite3_prepare_v2(db,
                                  "INSERT INTO keys (profile, access, state, origin, rotation_id, "
                                  "created_at, retired_at) VALUES (?1, ?2, ?3, 'created', ?4, ?5, "
                                  "?6) ON CONFLICT (profile, access) DO UPDATE SET state = "
                                  "excluded.state, retired_at = excluded.retired_at",
                                  -1, &key, nullptr),
               db, "prepare keys");
  sqlite3_stmt* prof = nullptr;
  check_sqlite(sqlite3_prepare_v2(db,
                                  "INSERT INTO profiles (name, next_due, last_rotation_id, "
                                  "last_success_at) VALUES (?1, ?2, ?3, ?4)",
                                  -1, &prof, nullptr),
               db, "prepare profiles");

  std::mt19937_64 rng(42);
  std::vector<std::string> current(static_cast<std::size_t>(profiles));
  std::vector<std::int64_t> last_id(static_cast<std::size_t>(profiles));
  std::vector<std::int64_t> last_success(static_cast<std::size_t>(profiles));
  const std::int64_t start_ms = 1'500'000'000'000;
  for (long i = 0; i < rows; ++i) {
    const auto p = static_cast<std::size_t>(i % profiles);
    const std::string name = "profile-" + std::to_string(p);
    const std::int64_t at = start_ms + i * 60'000;
    const bool failed = i % 200 == 199;
    const bool rolled_back = !failed && i % 50 == 49;
    const std::string new_access = hex_id(rng);
    sqlite3_bind_text(rot, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(rot, 2,
                      failed        ? "failed"
                      : rolled_back ? "rolled_back"
                                    : "done",
                      -1, SQLITE_STATIC);
    sqlite3_bind_text(rot, 3,
                      failed        ? "failed"
                      : rolled_back ? "rolled_back"
                                    : "succeeded",
                      -1, SQLITE_STATIC);
    if (current[p].empty()) {
      sqlite3_bind_null(rot, 4);
    } else {
      sqlite3_bind_text(rot, 4, current[p].c_str(), -1, SQLITE_TRANSIENT);
    }
    sqlite3_bind_text(rot, 5, new_access.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(rot, 6, at);
    sqlite3_bind_int64(rot, 7, at + 900);
    if (failed) {
      sqlite3_bind_text(rot, 8, "transient", -1, SQLITE_STATIC);
      sqlite3_bind_text(rot, 9,
                        "cannot create an EC2 credential with Keystone: https://keystone:5000/v3/"
                        "credentials: connection refused",
                        -1, SQLITE_STATIC);
      sqlite3_bind_text(rot, 10, "", -1, SQLITE_STATIC);
    } else if (rolled_back) {
      sqlite3_bind_text(rot, 8, "auth_rejected", -1, SQLITE_STATIC);
      sqlite3_bind_text(rot, 9,
                        "new key not verified within 120 s: rejected: SigV4 ListBuckets: 403 "
                        "SignatureDoesNotMatch",
                        -1, SQLITE_STATIC);
      sqlite3_bind_text(rot, 10, "", -1, SQLITE_STATIC);
    } else {
      sqlite3_bind_null(rot, 8);
      sqlite3_bind_text(rot, 9, "", -1, SQLITE_STATIC);
      const std::string note = current[p].empty()
                                   ? std::string("no old key to delete")
                                   : "old key " + current[p] + " deleted and refused by S3";
      sqlite3_bind_text(rot, 10, note.c_str(), -1, SQLITE_TRANSIENT);
    }
    check_sqlite(sqlite3_step(rot), db, "insert rotation");
    sqlite3_reset(rot);
    const std::int64_t id = sqlite3_last_insert_rowid(db);
    last_id[p] = id;
    if (!failed && !rolled_back) {
      // The new key becomes current, the old one retired.
      const auto set_key = [&](const std::string& access, const char* state, bool retired) {
        sqlite3_bind_text(key, 1, name.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(key, 2, access.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(key, 3, state, -1, SQLITE_STATIC);
        sqlite3_bind_int64(key, 4, id);
        sqlite3_bind_int64(key, 5, at);
        if (retired) {
          sqlite3_bind_int64(key, 6, at + 900);
        } else {
          sqlite3_bind_null(key, 6);
        }
        check_sqlite(sqlite3_step(key), db, "insert key");
        sqlite3_reset(key);
      };
      set_key(new_access, "current", false);
      if (!current[p].empty()) {
        set_key(current[p], "retired", true);
      }
      current[p] = new_access;
      last_success[p] = at + 900;
    }
  }
  for (int p = 0; p < profiles; ++p) {
    const std::string name = "profile-" + std::to_string(p);
    sqlite3_bind_text(prof, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(prof, 2, start_ms + rows * 60'000 + 86'400'000);
    sqlite3_bind_int64(prof, 3, last_id[static_cast<std::size_t>(p)]);
    sqlite3_bind_int64(prof, 4, last_success[static_cast<std::size_t>(p)]);
    check_sqlite(sqlite3_step(prof), db, "insert profile");
    sqlite3_reset(prof);
  }
  sqlite3_finalize(rot);
  sqlite3_finalize(key);
  sqlite3_finalize(prof);
  check_sqlite(
      sqlite3_exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr), db,
      "commit");
  sqlite3_close(db);
}

// The status of one profile as Engine::status() builds it from the store (the engine adds the
// rotation running in memory, if any).
std::size_t status_of(const store::Store& s, const std::string& name)
{
  std::size_t work = 0;
  auto keys = s.live_keys(name);
  for (const auto& k : keys.value()) {
    work += k.state == core::KeyState::current ? 1 : 0;
  }
  auto profile = s.profile(name);
  work += profile.value() ? 1 : 0;
  work += s.history(name, 2).value().size();
  work += static_cast<std::size_t>(s.outcome_counts(name).value().succeeded);
  return work;
}

struct Timing {
  std::vector<double> ms;
  void add(double v) { ms.push_back(v); }
  double median()
  {
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  }
  double max() const { return *std::max_element(ms.begin(), ms.end()); }
};

void report(const char* what, Timing t, double target)
{
  const double median = t.median();
  std::printf("  %-44s median %9.3f ms   max %9.3f ms", what, median, t.max());
  if (target > 0) {
    std::printf("   (target <= %.0f ms: %s)", target, median <= target ? "met" : "MISSED");
  }
  std::printf("\n");
}

} // namespace

int main(int argc, char** argv)
{
  long rows = 1'000'000;
  int profiles = 100;
  int repeat = 50;
  std::string db_arg;
  bool keep = false;
  bool reuse = false;
  CLI::App app{"bench_store: status and history queries on a state database at size"};
  app.add_option("--rows", rows, "Finished rotations in the database (default 1,000,000)");
  app.add_option("--profiles", profiles, "Profiles they are spread over (default 100)");
  app.add_option("--repeat", repeat, "Times each query is run (default 50)");
  app.add_option("--db", db_arg, "Database file to create (default: in a temporary directory)");
  app.add_flag("--keep", keep, "Keep the database file");
  app.add_flag("--reuse", reuse,
               "With --db: use the database file as it is if it exists (made by --keep before "
               "with the same --rows and --profiles)");
  CLI11_PARSE(app, argc, argv);
  if (rows < 1 || profiles < 1 || repeat < 1) {
    std::fprintf(stderr, "bench_store: --rows, --profiles and --repeat must be positive\n");
    return 64;
  }

  std::filesystem::path dir;
  std::filesystem::path path;
  if (db_arg.empty()) {
    char pattern[] = "/tmp/credrotd-bench-store-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = pattern;
    path = dir / "state.db";
  } else {
    path = db_arg;
  }

  const bool fresh = !(reuse && std::filesystem::exists(path));
  {
    auto created = store::Store::open(path);
    if (!created) {
      std::fprintf(stderr, "bench_store: %s\n", created.error().message.c_str());
      return 1;
    }
  }
  auto t0 = Clock::now();
  if (fresh) {
    fill(path, rows, profiles);
  }
  const double fill_s = ms_since(t0) / 1000;
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(path, ec);
  std::printf("bench_store: %ld rotations over %d profile(s), %.1f MiB, %s in %.1f s\n", rows,
              profiles, static_cast<double>(bytes) / (1024 * 1024),
              fresh ? "filled" : "reused (opened)", fill_s);

  Timing open_t;
  for (int i = 0; i < std::min(repeat, 5); ++i) {
    t0 = Clock::now();
    auto s = store::Store::open(path);
    open_t.add(ms_since(t0));
    if (!s) {
      std::fprintf(stderr, "bench_store: %s\n", s.error().message.c_str());
      return 1;
    }
  }
  auto opened = store::Store::open(path);
  const store::Store& s = *opened;

  const std::string one = "profile-" + std::to_string(profiles / 2);
  Timing status_one;
  Timing status_all;
  Timing history_20;
  Timing history_1000;
  Timing keys_one;
  Timing live_keys_one;
  Timing counts_one;
  std::size_t sink = 0;
  for (int i = 0; i < repeat; ++i) {
    t0 = Clock::now();
    sink += status_of(s, one);
    status_one.add(ms_since(t0));

    t0 = Clock::now();
    for (const auto& p : s.profiles().value()) {
      sink += status_of(s, p.name);
    }
    status_all.add(ms_since(t0));

    t0 = Clock::now();
    sink += s.history(one, 20).value().size();
    history_20.add(ms_since(t0));

    t0 = Clock::now();
    sink += s.history(one, 1000).value().size();
    history_1000.add(ms_since(t0));

    t0 = Clock::now();
    sink += s.keys(one).value().size();
    keys_one.add(ms_since(t0));

    t0 = Clock::now();
    sink += s.live_keys(one).value().size();
    live_keys_one.add(ms_since(t0));

    t0 = Clock::now();
    sink += static_cast<std::size_t>(s.outcome_counts(one).value().failed);
    counts_one.add(ms_since(t0));
  }
  std::printf("  (%zu rows read)\n", sink);
  report("Store::open (daemon start)", open_t, 0);
  report("status of one profile", status_one, 10);
  report(("status of all " + std::to_string(profiles) + " profiles").c_str(), status_all, 10);
  report("history(profile, 20)", history_20, 10);
  report("history(profile, 1000)", history_1000, 0);
  std::printf("  parts of a profile's status:\n");
  report("  live_keys(profile)", live_keys_one, 0);
  report("  outcome_counts(profile)", counts_one, 0);
  std::printf("  not part of it:\n");
  report("  keys(profile), every key ever (credrotctl keys)", keys_one, 0);

  if (!keep) {
    std::filesystem::remove(path, ec);
    std::filesystem::remove(path.string() + "-wal", ec);
    std::filesystem::remove(path.string() + "-shm", ec);
    if (!dir.empty()) {
      std::filesystem::remove(dir, ec);
    }
  } else {
    std::printf("database kept: %s\n", path.c_str());
  }
  return 0;
}
