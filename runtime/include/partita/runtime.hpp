#pragma once
/// Everything the runtime layer offers: session, transport, election, launch environment, logging.

#include <partita/runtime/crash_point.hpp>
#include <partita/runtime/election.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/ids.hpp>
#include <partita/runtime/launch_env.hpp>
#include <partita/runtime/log.hpp>
#include <partita/runtime/node_map.hpp>
#include <partita/runtime/serialize.hpp>
#include <partita/runtime/session.hpp>
#include <partita/runtime/signals.hpp>
#include <partita/runtime/transport.hpp>
