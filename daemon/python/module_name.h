// Turns a code object's co_filename into a dotted module name, without
// touching the filesystem (the file lives in another process's mount
// namespace, possibly a container image). Heuristics, in order:
//  - "<frozen importlib._bootstrap>" -> "importlib._bootstrap"; other
//    "<...>" pseudo files ("<string>", "<stdin>") are returned unchanged.
//  - after the LAST "site-packages" / "dist-packages" / "lib[64]/pythonX.Y" /
//    "*.zip" component, every component counts: ".../site-packages/a/b/c.py"
//    -> "a.b.c" (these are sys.path roots).
//  - other absolute paths (the app, whose sys.path root is unknown): keep at
//    most 3 trailing components, stopping early at a component that cannot
//    be a package (not an identifier, e.g. ".venv", "my-app"), at a usual
//    container root ("src", "srv", "home"...) and never including the
//    top-level directory: "/app/main.py" -> "main" (Docker WORKDIR /app),
//    "/code/app/main.py" -> "app.main".
//  - relative paths are relative to the working directory, which is
//    normally sys.path[0]: "app/main.py" -> "app.main".
//  - ".py" (and Cython's ".pyx") is dropped; "pkg/__init__.py" -> "pkg".
#pragma once

#include <string>
#include <string_view>

namespace perfd::python {

std::string ModuleNameForFile(std::string_view filename);

// True for the interpreter's own standard library: under lib/pythonX.Y but
// not in its site-packages, or a frozen module. The classifier lets such
// frames that match no rule inherit the category of their caller (typing,
// re, copy... called by pydantic are validation, called by the app are app).
bool IsStdlibFile(std::string_view filename);

}  // namespace perfd::python
