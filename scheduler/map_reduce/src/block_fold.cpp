#include <partita/scheduler/map_reduce/detail/block_fold.hpp>

#include <algorithm>
#include <utility>

#include <partita/scheduler/map_reduce/job_model.hpp>

namespace partita::detail {

fold_ops fold_ops_of(map_job_model& job) {
  return fold_ops{[&job](std::span<const std::byte> r) { job.fold(r); },
                  [&job](std::span<const std::byte> v) { job.fold_value(v); }, [&job] { return job.accumulator(); },
                  [&job](std::span<const std::byte> a) { job.restore(a); }, [&job] { return job.swap_accumulator(); }};
}

block_fold::block_fold(std::uint64_t partitions, fold_ops ops)
    : total_(partitions), block_(fold_block_size(partitions)), ops_(std::move(ops)) {
  // Swapped twice, a model with a second accumulator is as it was; it keeps the prefix there from start() on.
  if (ops_.swap && ops_.swap()) {
    ops_.swap();
    prefix_kept_ = kept::second;
  }
}

bytes block_fold::prefix() {
  switch (prefix_kept_) {
    case kept::as_bytes: return prefix_;
    case kept::first: return ops_.get();
    case kept::second: {
      ops_.swap();
      auto value = ops_.get();
      ops_.swap();
      return value;
    }
  }
  return {};
}

std::uint64_t block_fold::block_end(std::uint64_t k) const noexcept { return std::min(total_, (k + 1) * block_); }

void block_fold::start(bytes prefix, bytes partial, std::uint64_t folded, const std::map<std::uint64_t, bytes>& held,
                       std::map<std::uint64_t, bytes> held_blocks) {
  folded_ = folded;
  // The live accumulator holds the current block's partial fold; once everything is folded, the job's value.
  if (prefix_kept_ == kept::as_bytes) {
    prefix_ = std::move(prefix);
    ops_.set(folded_ == total_ ? std::span<const std::byte>(prefix_) : std::span<const std::byte>(partial));
  } else {
    ops_.set(prefix);
    ops_.swap();
    ops_.set(folded_ == total_ ? std::span<const std::byte>() : std::span<const std::byte>(partial));
  }
  held_.add(held);
  blocks_ = std::move(held_blocks);
  advance();
}

void block_fold::add_result(std::uint64_t id, std::span<const std::byte> result) {
  if (id != folded_) {
    held_.append(id, result);
    return;
  }
  held_.close();  // the fold may reach the open run
  fold_one(result);
  advance();
}

void block_fold::add_block(std::uint64_t k, std::span<const std::byte> value) {
  const auto begin = block_begin(k), end = block_end(k);
  if (end <= folded_) return;  // folded already (from its results)
  if (begin > folded_) {
    blocks_.emplace(k, bytes(value.begin(), value.end()));
    return;
  }
  held_.close();
  ops_.set({});  // the current block's partial fold is replaced by the block's value
  fold_into_prefix(value);
  folded_ = end;
  held_.discard_below(folded_);
  advance();
}

void block_fold::fold_one(std::span<const std::byte> r) {
  ops_.result(r);
  ++folded_;
  if (folded_ % block_ != 0 && folded_ != total_) return;
  const bytes block = ops_.get();
  fold_into_prefix(block);
}

void block_fold::fold_into_prefix(std::span<const std::byte> v) {
  if (prefix_kept_ == kept::second) {
    // The prefix is live in the second accumulator: swapped in for one fold, at the cost of `v` alone.
    ops_.swap();
    ops_.value(v);
    ops_.swap();
    ops_.set({});
    return;
  }
  // The live accumulator is the current block's: lend it to the prefix for one fold, then clear it for the next
  // block (advance() leaves the job's value in it once every block is folded).
  ops_.set(prefix_);
  ops_.value(v);
  prefix_ = ops_.get();
  ops_.set({});
}

void block_fold::advance() {
  while (folded_ < total_) {
    if (const auto it = blocks_.find(folded_ / block_); it != blocks_.end()) {
      ops_.set({});
      fold_into_prefix(it->second);
      folded_ = block_end(it->first);
      blocks_.erase(it);
      held_.discard_below(folded_);
      continue;
    }
    const auto before = folded_;
    held_.fold_from(folded_, [this](std::span<const std::byte> r) { fold_one(r); });
    if (folded_ == before) break;
  }
  // Block values whose ids were all folded from their results are not needed.
  while (!blocks_.empty() && block_end(blocks_.begin()->first) <= folded_) blocks_.erase(blocks_.begin());
  if (folded_ < total_) return;
  // The job's value goes where the model's accumulator is read.
  if (prefix_kept_ == kept::as_bytes) {
    ops_.set(prefix_);
  } else if (prefix_kept_ == kept::second) {
    ops_.set({});  // the current block's partial fold: empty, every block is in the prefix
    ops_.swap();
    prefix_kept_ = kept::first;
  }
}

}  // namespace partita::detail
