# venom_add_plugin(TARGET t PACK name [SUBDIR skills] SOURCES ... [MANIFEST file]
#                  [FILES extra...] [LIBS libs...] [OUTDIR dir] [NOINSTALL])
#
# Builds one plugin shared object the way every venom plugin must be built:
# hidden visibility, -z defs (no undefined host symbols), one exported symbol.
# The .so (named <PACK>.so) and its manifest land in <OUTDIR>/<PACK>/, by
# default ${VENOM_PLUGIN_OUT}/<SUBDIR>/<PACK>/, which mirrors the install tree.
function(venom_add_plugin)
  cmake_parse_arguments(P "NOINSTALL" "TARGET;PACK;SUBDIR;MANIFEST;OUTDIR" "SOURCES;FILES;LIBS" ${ARGN})
  if(NOT P_SUBDIR)
    set(P_SUBDIR skills)
  endif()
  if(NOT P_OUTDIR)
    set(P_OUTDIR ${VENOM_PLUGIN_OUT}/${P_SUBDIR})
  endif()
  set(dir ${P_OUTDIR}/${P_PACK})
  if(P_SOURCES)
    add_library(${P_TARGET} MODULE ${P_SOURCES})
    set_target_properties(${P_TARGET} PROPERTIES
      PREFIX "" OUTPUT_NAME ${P_PACK}
      LIBRARY_OUTPUT_DIRECTORY ${dir}
      C_VISIBILITY_PRESET hidden)
    target_include_directories(${P_TARGET} PRIVATE ${PROJECT_SOURCE_DIR}/sdk/include)
    target_link_options(${P_TARGET} PRIVATE -Wl,-z,defs
      -Wl,--version-script=${PROJECT_SOURCE_DIR}/cmake/plugin.map)
    target_link_libraries(${P_TARGET} PRIVATE ${P_LIBS})
    set_property(GLOBAL APPEND PROPERTY VENOM_ALL_PLUGINS ${P_TARGET})
  else()
    add_custom_target(${P_TARGET} ALL)
  endif()
  foreach(f IN LISTS P_MANIFEST P_FILES)
    get_filename_component(base ${f} NAME)
    add_custom_command(TARGET ${P_TARGET} POST_BUILD
      COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
      COMMAND ${CMAKE_COMMAND} -E copy_if_different ${CMAKE_CURRENT_SOURCE_DIR}/${f} ${dir}/${base})
  endforeach()
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
