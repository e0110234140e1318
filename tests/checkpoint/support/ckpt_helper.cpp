// A child process for fault tests: writes epochs of make_image() alone (MPI_COMM_SELF), so that the test can
// kill it at a crash point (PARTITA_CRASH_AT) or limit its file size.
//
//   ckpt_helper <dir> <job> <first_epoch> <last_epoch> [bytes_per_partition] [fsize_limit_after_first]
//
// Exit codes: 0 all written; 3 a checkpoint_error (message on stderr); 2 usage; 4 another error.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <partita/checkpoint.hpp>
#include <partita/runtime/session.hpp>

#include "ckpt_test_util.hpp"

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s dir job first_epoch last_epoch [bytes_per_partition] [fsize_limit]\n", argv[0]);
    return 2;
  }
  partita::session_options opts;
  opts.catch_signals = false;
  partita::session s(argc, argv, opts);
  const std::string dir = argv[1], job = argv[2];
  const auto first = std::strtoull(argv[3], nullptr, 10), last = std::strtoull(argv[4], nullptr, 10);
  const std::size_t bytes = argc > 5 ? std::strtoull(argv[5], nullptr, 10) : 1000;
  const long long limit = argc > 6 ? std::strtoll(argv[6], nullptr, 10) : 0;
  try {
    for (auto e = first; e <= last; ++e) {
      if (e > first && limit > 0) {
        // A file-size limit like a full disk: write() fails with EFBIG instead of raising SIGXFSZ.
        ::signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl {
          static_cast<rlim_t>(limit), static_cast<rlim_t>(limit)
        };
        if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) {
          std::perror("setrlimit");
          return 4;
        }
      }
      auto r = partita::testing::write_epoch(dir, job, e, 3, bytes);
      std::printf("committed %s (%llu bytes)\n", r.file.c_str(), static_cast<unsigned long long>(r.bytes));
    }
  } catch (const partita::checkpoint_error& e) {
    std::fprintf(stderr, "checkpoint_error: %s\n", e.what());
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 4;
  }
  return 0;
}
