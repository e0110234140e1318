#pragma once
/// How a map/reduce job's per-partition output blocks reach the file (docs/design.md, "Map/reduce data path").

namespace partita {

/// How the ranks write their output blocks. Both make every block durable (fdatasync) before its partition commits.
enum class output_io {
  direct,     ///< O_DIRECT where the file system takes it and the block's place and buffer are page aligned (no
              ///< copy into the page cache); through the page cache otherwise: the default
  page_cache  ///< always through the page cache (pwrite), e.g. for a file system whose O_DIRECT is slow
};

}  // namespace partita
