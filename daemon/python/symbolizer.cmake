# perfd_python_sym: CPython code objects -> names and lines, module names,
# category rules. Included by daemon/python/CMakeLists.txt (and, until that
# is wired, by the unit tests), so paths are relative to this file.
add_library(perfd_python_sym STATIC
  ${CMAKE_CURRENT_LIST_DIR}/linetable.cc
  ${CMAKE_CURRENT_LIST_DIR}/code_reader.cc
  ${CMAKE_CURRENT_LIST_DIR}/module_name.cc
  ${CMAKE_CURRENT_LIST_DIR}/symbolizer.cc
  ${CMAKE_CURRENT_LIST_DIR}/categories.cc)
target_include_directories(perfd_python_sym PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(perfd_python_sym PUBLIC spdlog::spdlog)
