#pragma once
/// Measures the peak heap a fuzz target holds while it handles one input (every malloc and operator new,
/// HDF5's included), through the sanitizers' allocation hooks; a no-op build without ASan.

#include <atomic>
#include <cstddef>
#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
#define PARTITA_FUZZ_METER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PARTITA_FUZZ_METER 1
#endif
#endif

#ifdef PARTITA_FUZZ_METER
// From the sanitizers' allocator interface (sanitizer/allocator_interface.h, which gcc does not ship;
// libasan has the functions): declared here with the same signatures.
extern "C" {
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, std::size_t),
                                              void (*free_hook)(const volatile void*));
std::size_t __sanitizer_get_allocated_size(const volatile void* p);
}
#endif

namespace partita::fuzz {

/// Counts live heap bytes from construction on and remembers the peak. One at a time (not nested);
/// the hooks stay installed for the life of the process and count only while a meter exists.
/// Non-copyable. `available()` says whether this build can measure (ASan builds only); without it,
/// peak() is 0 and bounds are not checked.
class alloc_meter {
 public:
  alloc_meter() noexcept {
    install();
    live_.store(0, std::memory_order_relaxed);
    peak_.store(0, std::memory_order_relaxed);
    on_.store(true, std::memory_order_relaxed);
  }
  ~alloc_meter() { on_.store(false, std::memory_order_relaxed); }
  alloc_meter(const alloc_meter&) = delete;
  alloc_meter& operator=(const alloc_meter&) = delete;

  /// The most bytes allocated and not yet freed at any moment since construction (frees of older
  /// blocks lower the count, so this can understate by what was freed; it never overstates).
  std::int64_t peak() const noexcept { return peak_.load(std::memory_order_relaxed); }

  static constexpr bool available() noexcept {
#ifdef PARTITA_FUZZ_METER
    return true;
#else
    return false;
#endif
  }

 private:
#ifdef PARTITA_FUZZ_METER
  static void on_malloc(const volatile void*, std::size_t n) {
    if (!on_.load(std::memory_order_relaxed)) return;
    const auto now = live_.fetch_add(static_cast<std::int64_t>(n), std::memory_order_relaxed) +
                     static_cast<std::int64_t>(n);
    auto p = peak_.load(std::memory_order_relaxed);
    while (now > p && !peak_.compare_exchange_weak(p, now, std::memory_order_relaxed)) {
    }
  }
  static void on_free(const volatile void* ptr) {
    if (!on_.load(std::memory_order_relaxed) || ptr == nullptr) return;
    const auto n = __sanitizer_get_allocated_size(ptr);
    live_.fetch_sub(static_cast<std::int64_t>(n), std::memory_order_relaxed);
  }
  static void install() noexcept {
    static const bool installed = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) != 0;
    (void)installed;
  }
#else
  static void install() noexcept {}
#endif
  static inline std::atomic<bool> on_{false};
  static inline std::atomic<std::int64_t> live_{0};
  static inline std::atomic<std::int64_t> peak_{0};
};

}  // namespace partita::fuzz
