# venom_add_plugin(TARGET t PACK name [SUBDIR skills] SOURCES ... [MANIFEST file]
#                  [FILES extra...] [LIBS libs...] [OUTDIR dir] [EXPORTS_MAP file]
#                  [NOINSTALL])
# EXPORTS_MAP replaces cmake/plugin.map, for packs whose typed skills must be
# dynamic symbols (tests/support/check_exports.sh checks them against the
# manifest).
#
# Builds one plugin shared object the way every venom plugin must be built:
# hidden visibility, -z defs (no undefined host symbols), one exported symbol.
# The .so (named <PACK>.so) and its manifest land in <OUTDIR>/<PACK>/, by
# default ${VENOM_PLUGIN_OUT}/<SUBDIR>/<PACK>/, which mirrors the install tree.
function(venom_add_plugin)
  cmake_parse_arguments(P "NOINSTALL" "TARGET;PACK;SUBDIR;MANIFEST;OUTDIR;EXPORTS_MAP" "SOURCES;FILES;LIBS" ${ARGN})
  if(NOT P_SUBDIR)
    set(P_SUBDIR skills)
  endif()
  if(NOT P_OUTDIR)
    set(P_OUTDIR ${VENOM_PLUGIN_OUT}/${P_SUBDIR})
  endif()
  set(dir ${P_OUTDIR}/${P_PACK})
  if(P_EXPORTS_MAP)
    set(map ${CMAKE_CURRENT_SOURCE_DIR}/${P_EXPORTS_MAP})
  else()
    set(map ${PROJECT_SOURCE_DIR}/cmake/plugin.map)
  endif()
  if(P_SOURCES)
    add_library(${P_TARGET} MODULE ${P_SOURCES})
    set_target_properties(${P_TARGET} PROPERTIES
      PREFIX "" OUTPUT_NAME ${P_PACK}
      LIBRARY_OUTPUT_DIRECTORY ${dir}
      C_VISIBILITY_PRESET hidden)
    target_include_directories(${P_TARGET} PRIVATE ${PROJECT_SOURCE_DIR}/sdk/include)
    # -z defs: no undefined host symbols. clang does not link the sanitizer
    # runtime into shared objects (the executable provides it), so sanitized
    # clang builds cannot use it.
    if((VENOM_SANITIZE OR VENOM_FUZZ) AND CMAKE_C_COMPILER_ID STREQUAL "Clang")
      set(zdefs "")
    else()
      set(zdefs -Wl,-z,defs)
    endif()
    target_link_options(${P_TARGET} PRIVATE ${zdefs} -Wl,--version-script=${map})
    set_target_properties(${P_TARGET} PROPERTIES LINK_DEPENDS ${map})
    target_link_libraries(${P_TARGET} PRIVATE ${P_LIBS})
    set_property(GLOBAL APPEND PROPERTY VENOM_ALL_PLUGINS ${P_TARGET})
  else()
    add_custom_target(${P_TARGET} ALL)
  endif()
  # Manifest and data files are copied whenever they change.
  set(copies "")
  foreach(f IN LISTS P_MANIFEST P_FILES)
    get_filename_component(base ${f} NAME)
    add_custom_command(OUTPUT ${dir}/${base}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
      COMMAND ${CMAKE_COMMAND} -E copy_if_different ${CMAKE_CURRENT_SOURCE_DIR}/${f} ${dir}/${base}
      DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${f})
    list(APPEND copies ${dir}/${base})
  endforeach()
  if(copies)
    add_custom_target(${P_TARGET}_files ALL DEPENDS ${copies})
    add_dependencies(${P_TARGET} ${P_TARGET}_files)
  endif()
  if(NOT P_NOINSTALL)
    set(idir ${VENOM_PLUGIN_INSTALL_DIR}/${P_SUBDIR}/${P_PACK})
    if(P_SOURCES)
      install(TARGETS ${P_TARGET} LIBRARY DESTINATION ${idir})
    endif()
    foreach(f IN LISTS P_MANIFEST P_FILES)
      install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/${f} DESTINATION ${idir})
    endforeach()
  endif()
endfunction()
