#pragma once
/// Byte buffers aligned to a page, for data blocks that may be written with O_DIRECT (docs/design.md, "Map/reduce
/// data path").

#include <cstddef>
#include <new>
#include <vector>

namespace partita {

/// The alignment of a block_bytes buffer: a page, and a multiple of the logical block size of the disks O_DIRECT
/// writes to (512 or 4096 bytes).
inline constexpr std::size_t block_alignment = 4096;

/// A standard allocator whose memory starts at a multiple of block_alignment. Stateless: every instance is equal.
/// Costs what an aligned operator new costs (at most one page more than asked for, in address space).
template <class T>
struct page_allocator {
  using value_type = T;
  page_allocator() noexcept = default;
  template <class U>
  page_allocator(const page_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{block_alignment}));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete (p, std::align_val_t{block_alignment}); }
  template <class U>
  bool operator==(const page_allocator<U>&) const noexcept {
    return true;
  }
};

/// A block's bytes: a byte vector whose data() is page aligned (block_alignment). Value type (copies copy).
using block_bytes = std::vector<std::byte, page_allocator<std::byte>>;

}  // namespace partita
