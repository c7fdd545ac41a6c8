# perfd_proto_library(<target> <file.proto>...): protobuf + gRPC C++ codegen.
# Debian's gRPC has no CMake package, so grpc_cpp_plugin is driven by hand.
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

function(perfd_proto_library target)
  set(gen_dir ${CMAKE_BINARY_DIR}/proto_gen)
  file(MAKE_DIRECTORY ${gen_dir})
  set(srcs)
  foreach(proto ${ARGN})
    get_filename_component(abs ${proto} ABSOLUTE)
    file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR}/proto ${abs})
    string(REGEX REPLACE "\\.proto$" "" base ${rel})
    set(out ${gen_dir}/${base}.pb.cc ${gen_dir}/${base}.pb.h
            ${gen_dir}/${base}.grpc.pb.cc ${gen_dir}/${base}.grpc.pb.h)
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${Protobuf_PROTOC_EXECUTABLE} -I${CMAKE_SOURCE_DIR}/proto
              --cpp_out=${gen_dir} --grpc_out=${gen_dir}
              --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN} ${abs}
      DEPENDS ${abs}
      COMMENT "protoc ${rel}"
      VERBATIM)
    list(APPEND srcs ${gen_dir}/${base}.pb.cc ${gen_dir}/${base}.grpc.pb.cc)
  endforeach()
  add_library(${target} STATIC ${srcs})
  # Generated code is not ours to keep warning-free.
  target_compile_options(${target} PRIVATE -w)
  target_include_directories(${target} PUBLIC ${gen_dir})
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf PkgConfig::GRPCPP)
endfunction()
