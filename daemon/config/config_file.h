// Reading a file the configuration names (the config itself, TLS
// certificates and keys): the whole file or a ConfigError naming the key.
// POSIX read() rather than ifstream: ifstream reads a directory as an empty
// file, which would silently mean "all defaults" (or "no certificate").
#pragma once

#include <cstddef>
#include <string>

namespace perfd {

// The file's bytes. Throws ConfigError(key, "cannot open|read <path>: <why>")
// and, past max_bytes, ConfigError(key, "<path> is larger than N bytes").
// wipe: the read buffer is zeroed before returning or throwing (private keys).
std::string ReadConfiguredFile(const std::string& key, const std::string& path, size_t max_bytes,
                               bool wipe = false);

}  // namespace perfd
