#pragma once
/// A set of partition ids kept as disjoint ranges: its memory grows with the number of gaps, not of ids.

#include <cstdint>
#include <limits>
#include <map>
#include <vector>

namespace partita {

/// Half-open range of partition ids [begin, end).
struct id_range {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  std::uint64_t size() const noexcept { return end - begin; }
  friend bool operator==(const id_range&, const id_range&) = default;
};

/// Ordered set of uint64 ids as disjoint, non-adjacent half-open ranges (begin → end in a std::map). The done set
/// of a job with 10^9 partitions is a handful of ranges when work is handed out in id order: its size is the
/// number of holes (partitions outstanding, lost, or done out of order), about 48 bytes each.
/// Cost: O(log ranges) per operation; O(1) for an id that extends the range touched last (results of a chunk
/// arrive in order). Value type.
class id_set {
 public:
  static constexpr std::uint64_t none = std::numeric_limits<std::uint64_t>::max();

  /// Adds [r.begin, r.end); returns how many ids were not in the set before.
  std::uint64_t insert(id_range r);
  /// Adds `id`; true if it was not in the set.
  bool insert(std::uint64_t id);
  /// Removes [r.begin, r.end); returns how many ids were in the set.
  std::uint64_t erase(id_range r);
  bool contains(std::uint64_t id) const;
  /// The first id >= `from` that is in the set (`none` if there is none).
  std::uint64_t next_present(std::uint64_t from) const;
  /// The first id >= `from` that is not in the set.
  std::uint64_t next_absent(std::uint64_t from) const;
  /// Removes and returns the first up to `max` ids of the first range (empty range if the set is empty).
  id_range pop_front(std::uint64_t max);

  std::uint64_t count() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  std::size_t range_count() const noexcept { return ranges_.size(); }
  std::vector<id_range> ranges() const;
  void clear() noexcept {
    ranges_.clear();
    count_ = 0;
    last_ = ranges_.end();
  }
  friend bool operator==(const id_set& a, const id_set& b) { return a.ranges_ == b.ranges_; }

  id_set() = default;
  id_set(const id_set& o) : ranges_(o.ranges_), count_(o.count_) {}
  id_set(id_set&& o) noexcept : ranges_(std::move(o.ranges_)), count_(o.count_) { o.clear(); }
  id_set& operator=(const id_set& o) {
    if (this != &o) {
      ranges_ = o.ranges_;
      count_ = o.count_;
      last_ = ranges_.end();
    }
    return *this;
  }
  id_set& operator=(id_set&& o) noexcept {
    if (this != &o) {
      ranges_ = std::move(o.ranges_);
      count_ = o.count_;
      last_ = ranges_.end();
      o.clear();
    }
    return *this;
  }

 private:
  using map = std::map<std::uint64_t, std::uint64_t>;
  map ranges_;
  std::uint64_t count_ = 0;
  map::iterator last_ = ranges_.end();  // the range the last insert touched (fast path)
};

}  // namespace partita
