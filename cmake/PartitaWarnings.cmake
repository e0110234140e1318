# Compiler flags shared by every Partita target: warnings on, optional sanitizers.
add_library(partita_warnings INTERFACE)
target_compile_options(partita_warnings INTERFACE -Wall -Wextra -Wpedantic)
if(PARTITA_WERROR)
  target_compile_options(partita_warnings INTERFACE -Werror)
endif()
if(PARTITA_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# partita_layer(NAME DEPENDS ...) declares one layer: a library built from NAME/src, its public headers
# in NAME/include, exported as partita::NAME.
function(partita_layer name)
  cmake_parse_arguments(L "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(partita_${name} ${L_SOURCES})
  add_library(partita::${name} ALIAS partita_${name})
  set_target_properties(partita_${name} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME partita_${name}
                        POSITION_INDEPENDENT_CODE ON)
  target_include_directories(partita_${name} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>)
  target_compile_features(partita_${name} PUBLIC cxx_std_20)
  target_link_libraries(partita_${name} PUBLIC ${L_PUBLIC_DEPS} PRIVATE ${L_PRIVATE_DEPS}
                        $<BUILD_INTERFACE:partita_warnings>)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/include)  # a layer may not have public headers yet
    install(DIRECTORY include/ DESTINATION include)
  endif()
  set_property(GLOBAL APPEND PROPERTY PARTITA_LAYERS partita_${name})
endfunction()
