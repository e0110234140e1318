# Every third-party dependency is found here, once, so that the layers and the installed
# partitaConfig.cmake agree on what they need. All come from Debian packages (tools/bootstrap.sh).
find_package(MPI REQUIRED COMPONENTS C)
# Partita uses MPI's C API from C++. Without these, Open MPI's mpi.h pulls in the removed MPI-2 C++
# bindings, which then need libmpi_cxx at link time (unoptimised builds fail to link).
set_property(TARGET MPI::MPI_C APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS OMPI_SKIP_MPICXX=1 MPICH_SKIP_MPICXX=1)

# Debian ships the parallel HDF5 build under its own prefix; point CMake's FindHDF5 at it.
set(HDF5_PREFER_PARALLEL TRUE)
if(NOT HDF5_C_COMPILER_EXECUTABLE AND EXISTS /usr/bin/h5pcc.openmpi)
  set(HDF5_C_COMPILER_EXECUTABLE /usr/bin/h5pcc.openmpi)
endif()
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "Partita needs a parallel (MPI-IO) HDF5 build; on Debian install libhdf5-openmpi-dev")
endif()

find_package(TBB REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS serialization)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(Threads REQUIRED)
# --metrics-port (docs/metrics.md): cpp-httplib, a compiled library in Debian; pkg-config carries the flags it was
# built with (OpenSSL, zlib, brotli), which every includer must share.
find_package(PkgConfig REQUIRED)
if(NOT TARGET PkgConfig::cpp_httplib)
  pkg_check_modules(cpp_httplib REQUIRED IMPORTED_TARGET GLOBAL cpp-httplib)
endif()

# One imported target for HDF5 so the layers do not repeat the variable plumbing.
if(NOT TARGET partita_hdf5)
  add_library(partita_hdf5 INTERFACE)
  target_include_directories(partita_hdf5 SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
  target_link_libraries(partita_hdf5 INTERFACE ${HDF5_C_LIBRARIES} ${HDF5_LIBRARIES})
  target_compile_definitions(partita_hdf5 INTERFACE ${HDF5_C_DEFINITIONS} H5_USE_110_API)
endif()
