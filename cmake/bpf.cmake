# bpf_object(<name> <src.bpf.c>): compiles a CO-RE BPF object with clang and
# generates its libbpf skeleton with bpftool. Produces an INTERFACE target
# <name>_skel whose include directory holds <name>.skel.h.
find_program(CLANG_BPF NAMES clang-14 clang REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

set(PERFD_BPF_GEN_DIR ${CMAKE_BINARY_DIR}/bpf_gen)
file(MAKE_DIRECTORY ${PERFD_BPF_GEN_DIR})

# vmlinux.h comes from the build machine's BTF; CO-RE relocates field offsets
# at load time, so the object runs on other kernels with BTF too.
set(PERFD_VMLINUX_H ${PERFD_BPF_GEN_DIR}/vmlinux.h)
add_custom_command(
  OUTPUT ${PERFD_VMLINUX_H}
  COMMAND ${BPFTOOL} btf dump file /sys/kernel/btf/vmlinux format c > ${PERFD_VMLINUX_H}
  COMMENT "Generating vmlinux.h from /sys/kernel/btf/vmlinux"
  VERBATIM)
add_custom_target(perfd_vmlinux_h DEPENDS ${PERFD_VMLINUX_H})

function(bpf_object name src)
  set(obj ${PERFD_BPF_GEN_DIR}/${name}.bpf.o)
  set(skel ${PERFD_BPF_GEN_DIR}/${name}.skel.h)
  file(GLOB bpf_headers ${CMAKE_SOURCE_DIR}/bpf/*.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CLANG_BPF} -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror
            -I${PERFD_BPF_GEN_DIR} -I${CMAKE_SOURCE_DIR}/bpf
            -idirafter /usr/include/x86_64-linux-gnu
            -c ${CMAKE_CURRENT_SOURCE_DIR}/${src} -o ${obj}
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${src} ${bpf_headers} perfd_vmlinux_h
    COMMENT "BPF ${src}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "Skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_dependencies(${name}_skel_gen perfd_vmlinux_h)
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${PERFD_BPF_GEN_DIR} ${CMAKE_SOURCE_DIR}/bpf)
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
endfunction()
