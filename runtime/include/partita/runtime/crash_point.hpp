#pragma once
/// Named crash points for fault tests: PARTITA_CRASH_AT=<name>[@rank][:N] SIGKILLs the process there; stall points
/// (PARTITA_STALL_AT=<name>[@rank]=<seconds>) sleep there once.

#include <functional>
#include <string_view>

namespace partita {

/// If a crash point is armed with this name (optionally "@R" to pick the world rank R, and ":N" to fire
/// on the N-th time the point is reached), kill this process with SIGKILL, right here. Armed from the
/// environment variable PARTITA_CRASH_AT at the first call, or by arm_crash_point. Thread-safe; costs one
/// atomic load when not armed.
void crash_point(std::string_view name);

/// Arms `spec` (the PARTITA_CRASH_AT syntax) in place of whatever was armed; "" disarms. `before_kill`,
/// if given, runs once right before the SIGKILL (e.g. to record the failure); it must not throw. Call it
/// before the threads that reach crash points start.
void arm_crash_point(std::string_view spec, std::function<void()> before_kill = {});

/// If a stall point is armed with this name (PARTITA_STALL_AT=<name>[@rank]=<seconds>), sleep that long the first
/// time it is reached: fault tests make a slow phase (a checkpoint that takes long to read) without a slow disk.
/// Thread-safe; costs one atomic load when not armed.
void stall_point(std::string_view name);

}  // namespace partita
