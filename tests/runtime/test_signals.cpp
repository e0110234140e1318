// Unit tests of the signal flags: a caught signal is recorded, the first one wins, clear forgets it.
#include <partita/runtime/signals.hpp>

#include <gtest/gtest.h>

#include <csignal>

namespace {

class Runtime_Signals : public ::testing::Test {
 protected:
  void SetUp() override {
    partita::install_signal_flags();
    partita::clear_pending_signal();
  }
  void TearDown() override {
    partita::clear_pending_signal();
    partita::restore_signal_handlers();
  }
};

TEST_F(Runtime_Signals, NothingPendingAtFirst) { EXPECT_EQ(partita::pending_signal(), partita::stop_signal::none); }

TEST_F(Runtime_Signals, Usr1IsRecorded) {
  ASSERT_EQ(std::raise(SIGUSR1), 0);
  EXPECT_EQ(partita::pending_signal(), partita::stop_signal::usr1);
}

TEST_F(Runtime_Signals, EachSignalMapsToItsFlag) {
  for (auto [sig, flag] :
       {std::pair{SIGTERM, partita::stop_signal::term}, std::pair{SIGUSR1, partita::stop_signal::usr1},
        std::pair{SIGUSR2, partita::stop_signal::usr2}}) {
    partita::clear_pending_signal();
    ASSERT_EQ(std::raise(sig), 0);  // with the flag handler installed this does not kill the test
    EXPECT_EQ(partita::pending_signal(), flag) << "signal " << sig;
  }
}

TEST_F(Runtime_Signals, FirstSignalWins) {
  ASSERT_EQ(std::raise(SIGUSR2), 0);
  ASSERT_EQ(std::raise(SIGTERM), 0);
  ASSERT_EQ(std::raise(SIGUSR1), 0);
  EXPECT_EQ(partita::pending_signal(), partita::stop_signal::usr2);
}

TEST_F(Runtime_Signals, ClearForgets) {
  ASSERT_EQ(std::raise(SIGUSR1), 0);
  partita::clear_pending_signal();
  EXPECT_EQ(partita::pending_signal(), partita::stop_signal::none);
  ASSERT_EQ(std::raise(SIGTERM), 0);
  EXPECT_EQ(partita::pending_signal(), partita::stop_signal::term);
}

TEST_F(Runtime_Signals, InstallIsIdempotentAndRestoreBringsBackThePreviousHandler) {
  partita::restore_signal_handlers();
  struct sigaction mine {};
  mine.sa_handler = SIG_IGN;
  sigemptyset(&mine.sa_mask);
  struct sigaction before {};
  ASSERT_EQ(sigaction(SIGUSR2, &mine, &before), 0);

  partita::install_signal_flags();
  partita::install_signal_flags();  // twice: must not record its own handler as "previous"
  struct sigaction now {};
  ASSERT_EQ(sigaction(SIGUSR2, nullptr, &now), 0);
  EXPECT_NE(now.sa_handler, SIG_IGN);

  partita::restore_signal_handlers();
  ASSERT_EQ(sigaction(SIGUSR2, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, SIG_IGN);

  ASSERT_EQ(sigaction(SIGUSR2, &before, nullptr), 0);
  partita::install_signal_flags();  // TearDown restores again
}

}  // namespace
