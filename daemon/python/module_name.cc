#include "daemon/python/module_name.h"

#include <cctype>
#include <vector>

namespace perfd::python {
namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// "python3.11", "python3.13t" (free-threaded), "python3.9".
bool IsPythonVersionDir(std::string_view c) {
  if (c.substr(0, 6) != "python") return false;
  c.remove_prefix(6);
  size_t i = 0;
  while (i < c.size() && std::isdigit(static_cast<unsigned char>(c[i]))) ++i;
  if (i == 0 || i >= c.size() || c[i] != '.') return false;
  size_t j = ++i;
  while (j < c.size() && std::isdigit(static_cast<unsigned char>(c[j]))) ++j;
  return j > i && (j == c.size() || c.substr(j) == "t");
}

// Index of the component after the last sys.path-like root, or -1.
int AfterSysPathRoot(const std::vector<std::string_view>& parts) {
  for (int i = static_cast<int>(parts.size()) - 2; i >= 0; --i) {
    const std::string_view c = parts[i];
    if (c == "site-packages" || c == "dist-packages" || EndsWith(c, ".zip") ||
        EndsWith(c, ".egg")) {
      return i + 1;
    }
    if (IsPythonVersionDir(c) && i > 0 && (parts[i - 1] == "lib" || parts[i - 1] == "lib64")) {
      return i + 1;
    }
  }
  return -1;
}

bool IsIdentifier(std::string_view c) {
  if (c.empty() || std::isdigit(static_cast<unsigned char>(c[0]))) return false;
  for (char ch : c) {
    // Bytes >= 0x80 are accepted: non-ASCII identifiers are legal.
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' ||
          static_cast<unsigned char>(ch) >= 0x80)) {
      return false;
    }
  }
  return true;
}

// Directories that hold applications rather than being packages themselves.
bool IsContainerRoot(std::string_view c) {
  static constexpr std::string_view kRoots[] = {"home", "usr",  "opt",       "srv",  "var", "tmp",
                                                "root", "src",  "workspace", "code", "lib", "bin",
                                                "mnt",  "data", "local",     "share"};
  for (auto r : kRoots) {
    if (c == r) return true;
  }
  return false;
}

std::string Join(const std::vector<std::string_view>& parts, size_t from) {
  std::string out;
  for (size_t i = from; i < parts.size(); ++i) {
    if (!out.empty()) out.push_back('.');
    out.append(parts[i]);
  }
  return out;
}

}  // namespace

std::string ModuleNameForFile(std::string_view filename) {
  if (filename.empty()) return "";
  if (filename.front() == '<') {
    constexpr std::string_view kFrozen = "<frozen ";
    if (filename.substr(0, kFrozen.size()) == kFrozen && filename.back() == '>') {
      return std::string(filename.substr(kFrozen.size(), filename.size() - kFrozen.size() - 1));
    }
    return std::string(filename);
  }
  std::vector<std::string_view> parts = SplitPath(filename);
  if (parts.empty()) return "";
  std::string_view& last = parts.back();
  if (EndsWith(last, ".py")) {
    last.remove_suffix(3);
  } else if (EndsWith(last, ".pyx")) {  // Cython modules report their source
    last.remove_suffix(4);
  }
  if (last == "__init__" && parts.size() > 1) parts.pop_back();

  const int root = AfterSysPathRoot(parts);
  if (root >= 0 && root < static_cast<int>(parts.size())) return Join(parts, root);

  const bool absolute = filename.front() == '/';
  // A top-level directory ("/app/main.py", Docker's usual WORKDIR) is where
  // the app is run from, not a package.
  const size_t min_from = absolute ? 1 : 0;
  size_t from = parts.size() - 1;
  while (from > min_from) {
    const std::string_view c = parts[from - 1];
    if (!IsIdentifier(c) || (absolute && IsContainerRoot(c))) break;
    if (absolute && parts.size() - from >= 3) break;
    --from;
  }
  // "." and ".." in relative paths are not identifiers: they stop the walk.
  return Join(parts, from);
}

bool IsStdlibFile(std::string_view filename) {
  if (filename.substr(0, 8) == "<frozen ") return true;
  const std::vector<std::string_view> parts = SplitPath(filename);
  bool in_stdlib = false;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const std::string_view c = parts[i];
    if (c == "site-packages" || c == "dist-packages") return false;
    if (i > 0 && IsPythonVersionDir(c) && (parts[i - 1] == "lib" || parts[i - 1] == "lib64")) {
      in_stdlib = true;
    }
  }
  return in_stdlib;
}

}  // namespace perfd::python
