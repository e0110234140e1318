# -DPARTITA_FUZZ=ON: compile every Partita target with libFuzzer's coverage instrumentation plus ASan and
# UBSan, so that tests/fuzz can link its fuzz targets with -fsanitize=fuzzer. Needs clang (Debian: clang and
# libclang-rt-dev, which holds libFuzzer); use a build directory of its own (tools/bootstrap.sh: build-fuzz/).
if(NOT PARTITA_FUZZ)
  return()
endif()
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "PARTITA_FUZZ needs clang (libFuzzer), not ${CMAKE_CXX_COMPILER_ID}: configure a build dir of "
                      "its own with -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ (Debian: apt-get install "
                      "clang libclang-rt-dev)")
endif()
if(PARTITA_SANITIZE)
  message(FATAL_ERROR "PARTITA_FUZZ already builds with ASan and UBSan; drop -DPARTITA_SANITIZE=ON")
endif()
include(CheckCXXSourceCompiles)
set(CMAKE_REQUIRED_FLAGS -fsanitize=fuzzer)
check_cxx_source_compiles("
#include <cstddef>
#include <cstdint>
extern \"C\" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }" PARTITA_HAVE_LIBFUZZER)
unset(CMAKE_REQUIRED_FLAGS)
if(NOT PARTITA_HAVE_LIBFUZZER)
  message(FATAL_ERROR "clang cannot link -fsanitize=fuzzer: libFuzzer is missing (Debian: apt-get install "
                      "libclang-rt-dev, or libclang-rt-<clang major>-dev)")
endif()
# Every Partita library is instrumented (coverage feedback comes from the reader and the decoders); the
# third-party libraries (HDF5, MPI) are Debian's, uninstrumented.
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                    -fno-sanitize-recover=undefined)
add_link_options(-fsanitize=address,undefined)
