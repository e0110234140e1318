# `cmake --install` produces a tree that another project consumes with find_package(partita).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

get_property(_layers GLOBAL PROPERTY PARTITA_LAYERS)
install(TARGETS ${_layers} partita partita_hdf5 EXPORT partitaTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT partitaTargets NAMESPACE partita:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/partita)

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/partitaConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/partitaConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/partita)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/partitaConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/partitaConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/partitaConfigVersion.cmake
        ${CMAKE_CURRENT_LIST_DIR}/PartitaDependencies.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/partita)

# What operators run: the launcher as `partita-launch` next to `partita`, and the batch templates (which find both on
# PATH when they are not submitted from a source tree with a build/; docs: README, "Running under Slurm").
install(PROGRAMS ${PROJECT_SOURCE_DIR}/slurm/partita-launch.sh DESTINATION ${CMAKE_INSTALL_BINDIR} RENAME partita-launch)
install(FILES ${PROJECT_SOURCE_DIR}/slurm/partita.sbatch ${PROJECT_SOURCE_DIR}/slurm/partita-sweep.sbatch
        DESTINATION ${CMAKE_INSTALL_DATADIR}/partita/slurm)
