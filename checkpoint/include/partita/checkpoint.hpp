#pragma once
/// Everything the checkpoint layer offers: writing and committing, reading, restart selection,
/// verify/inspect, and the Young/Daly interval.

#include <partita/checkpoint/h5_check.hpp>
#include <partita/checkpoint/h5_lock.hpp>
#include <partita/checkpoint/image.hpp>
#include <partita/checkpoint/interval.hpp>
#include <partita/checkpoint/output_file.hpp>
#include <partita/checkpoint/reader.hpp>
#include <partita/checkpoint/restart.hpp>
#include <partita/checkpoint/verify.hpp>
#include <partita/checkpoint/writer.hpp>
