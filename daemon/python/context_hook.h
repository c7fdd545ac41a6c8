// Where to hook the creation of contextvars.Context objects in a CPython
// interpreter ELF, for request identity (bpf/python.h, docs/ARCHITECTURE.md
// "Request identity").
//
// Every copy of a context goes through the static context_new_from_vars(vars)
// in Python/context.c: PyContext_CopyCurrent (task creation, C futures,
// uvloop's call_soon), Context.copy() and contextvars.copy_context() (asyncio's
// Handle, anyio's worker-thread calls). It has no symbol in release builds,
// so it is found through the exported PyContext_CopyCurrent when that is
// compiled as `...; mov ctx_vars(%rax),%rdi; [pop]*; jmp context_new_from_vars`
// (Debian's LTO build) — the mov's displacement must equal the verified
// PyContext.ctx_vars offset, or the pattern is not trusted. Otherwise the
// hook is PyContext_CopyCurrent itself: every copy made through the C API
// (task creation, C futures, uvloop) and contextvars.copy_context() where
// that calls it (pyenv's builds tail-call it; tests/bpf/request_identity_test
// shows anyio-style worker-thread calls tagged on 3.10-3.13). A build that
// inlined the constructor into copy_context() without the decodable tail jump
// would leave worker-thread samples untagged: "(unattributed)", counted.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "daemon/python/elf_symbols.h"

namespace perfd::python {

enum class ContextHookKind {
  kAllCopies,   // context_new_from_vars: every context copy
  kCApiCopies,  // PyContext_CopyCurrent: copies made through it
};

struct ContextHook {
  ContextHookKind kind = ContextHookKind::kCApiCopies;
  uint64_t vaddr = 0;        // link-time address of the hooked function
  uint64_t file_offset = 0;  // what the uprobe is attached at
};

const char* ContextHookKindName(ContextHookKind k);

// Pure decoder over the machine code of PyContext_CopyCurrent (x86-64):
// the link-time target of its tail jump to context_new_from_vars, when the
// jump follows `mov <context_vars>(%rax),%rdi` and at most four pops.
// `code` starts at `vaddr`. Exposed for tests.
std::variant<uint64_t, std::string> DecodeCopyTailJump(std::string_view code, uint64_t vaddr,
                                                       uint16_t context_vars);

// The hook for an interpreter ELF (see above), or why there is none.
std::variant<ContextHook, std::string> FindContextHook(const ElfFile& elf, uint16_t context_vars);

}  // namespace perfd::python
