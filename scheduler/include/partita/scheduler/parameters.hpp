#pragma once
/// A job's parameters: `--param key=value` pairs, with typed reads that name the problem and the fix.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace partita {

/// String key/value pairs with typed getters. Value type; cheap to copy for the handful of parameters a job has.
/// Reads are const and thread-safe. A bad value throws usage_error naming the key, the value and what is expected.
class parameters {
 public:
  parameters() = default;

  /// Parses "key=value" items (as given to --param). Throws usage_error on an item without '='.
  static parameters parse(const std::vector<std::string>& items);

  void set(const std::string& key, const std::string& value) { values_[key] = value; }
  bool has(const std::string& key) const { return values_.count(key) > 0; }

  std::string get_string(const std::string& key, const std::string& fallback) const;
  std::int64_t get_int(const std::string& key, std::int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  /// One of `choices`; anything else throws usage_error listing them.
  std::string get_choice(const std::string& key, const std::string& fallback,
                         const std::vector<std::string>& choices) const;

  const std::map<std::string, std::string>& items() const noexcept { return values_; }

  /// A stable 64-bit hash of the sorted pairs (FNV-1a); equal parameters give equal hashes on every platform.
  std::uint64_t hash() const noexcept;

 private:
  std::map<std::string, std::string> values_;
};

namespace detail {
/// `params` as checkpoints store them (/iterative/params, /scheduler/params): "key=value" lines in key order.
std::string params_text(const parameters& params);
/// The inputs (parameters named "<name>.identity": file, dataset, shape, size, mtime) whose identity differs
/// between `saved` (params_text of a checkpoint) and `now`, as one phrase; "" if none changed.
std::string changed_identities(const std::string& saved, const parameters& now);
}  // namespace detail

}  // namespace partita
