// Opens the socket file a worker listens on as the worker sees it, for the
// OpenAPI fetch to connect to. /proc/net/unix gives the path the worker bound,
// which names a file in the worker's mount namespace and root, not perfd's;
// and perfd connects as root, so a path the worker controls must not lead it
// anywhere else: no symlink is followed, at any component.
//
// How: openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
// on the worker's /proc/<pid>/root gives an O_PATH descriptor of the very
// socket inode (".." cannot climb out of the worker's root, a symlink anywhere
// fails with ELOOP), then connect() goes through /proc/self/fd/<that fd>,
// which the kernel resolves to that inode: nothing is looked up twice, so the
// worker cannot swap the file between the check and the connect. The short
// /proc/self/fd path also fits sun_path where /proc/<pid>/root/<path> may not.
#pragma once

#include <string>

namespace perfd {

// An O_PATH descriptor of the socket file `path` resolved inside the
// directory `root` (absolute paths from root, relative ones too: the bind-time
// cwd is unknown), or -1 with *error saying why. *refused (if given) tells a
// refusal — a symlink on the way, a file that is not a socket: the worker's
// doing, it stays so — from a failure (missing, not bound yet, ...). The
// caller closes the descriptor.
int OpenSocketInRoot(const std::string& root, const std::string& path, std::string* error,
                     bool* refused = nullptr);

// connect() of the unix stream socket `sock` to the socket file behind the
// O_PATH descriptor `path_fd`. Returns connect()'s result, errno set.
int ConnectThroughPathFd(int sock, int path_fd);

}  // namespace perfd
