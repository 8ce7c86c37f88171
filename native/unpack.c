// Unpacking a layer: the file-system half of runtime/layer/fastapply.ts. Included by tsbuild_native.c
// (one translation unit: it uses that file's task and error helpers), not compiled on its own.
//
// JavaScript parses the tar and checks names (no ".." component); it hands over batches of operations
// packed in one buffer, and this file performs them on libuv's thread pool while JavaScript parses the
// next batch: one round trip per few thousand entries instead of five or six promises per file.
//
// Paths stay inside the root by construction: every entry's parent is reached from the root's fd one
// component at a time with openat(O_DIRECTORY | O_NOFOLLOW), so a symlink, a file or a device where a
// parent should be is refused (the layer's "not a directory" error), never followed; the entry itself
// is made relative to its parent's fd (O_EXCL / AT_SYMLINK_NOFOLLOW: never written through). The
// parent chain of the last entry is kept open, so the entries of one folder cost no walk at all.
//
// A record: u8 op, u8 flags, u16 0, u32 mode, u32 uid, u32 gid, f64 mtime (s), u32 major, u32 minor,
// u32 path bytes, u32 link bytes, u32 xattr bytes, u32 data bytes; then the path, the link, the
// xattrs (u32 name length, name, u32 value length, value; repeated) and the data. Little-endian.
//
// A layer unpacked from a stored (uncompressed) blob names that file at unpackOpen: a large file's
// bytes then go from the blob to the new file in the kernel (OP_COPY: copy_file_range), neither read
// into JavaScript nor copied into a batch (a 256 MiB file: 0.45 s that way, cp's 0.11 s this way).
#include <sys/sysmacros.h>

enum {
  OP_FILE = 1,     // a regular file: created (O_EXCL), data written; flags & FILE_OPEN: kept open for DATA
  OP_DATA = 2,     // more bytes of the open file
  OP_FINISH = 3,   // the open file's owner, mode, xattrs, times; closed
  OP_DIR = 4,      // a directory (an existing one is kept), owner, mode, xattrs; its time comes last (DIRTIME)
  OP_SYMLINK = 5,  // link = target, verbatim
  OP_HARDLINK = 6, // link = the archive path of an entry made earlier
  OP_NODE = 7,     // flags: 1 char, 2 block, 3 fifo (a whiteout is a 0:0 char device)
  OP_OPAQUE = 8,   // path = the opaque marker: its folder gets trusted.overlay.opaque=y
  OP_DIRTIME = 9,  // a directory's mtime, set after its contents (skipped if no longer a directory)
  OP_COPY = 10,    // more bytes of the open file, from the source: data = f64 offset, f64 length
};
#define FILE_OPEN 1
#define RECORD_HEAD 48
#define MAX_DEPTH 1024

// Why a batch stopped: a system call failed, a parent is not a real directory, or a hardlink target is missing.
enum { FAIL_ERRNO = 1, FAIL_NOT_DIR = 2, FAIL_NO_LINK_TARGET = 3 };

struct extractor {
  int root;              // the root folder, O_PATH-free plain fd
  int depth;             // how many components of the cached chain are open
  char* names[MAX_DEPTH];
  int fds[MAX_DEPTH];
  int file;              // an OP_FILE kept open for OP_DATA, or -1
  int source;            // the layer's blob, for OP_COPY, or -1
  int busy;              // a batch runs on the thread pool
  int closed;
};

struct record {
  uint8_t op, flags;
  uint32_t mode, uid, gid, major, minor;
  double mtime;
  const char* path;
  uint32_t path_len;
  const char* link;
  uint32_t link_len;
  const unsigned char* xattrs;
  uint32_t xattr_len;
  const unsigned char* data;
  uint32_t data_len;
};

struct failure {
  int kind, error;
  const char* syscall;
  uint32_t index;      // the record that failed
  uint32_t prefix_len; // FAIL_NOT_DIR: bytes of the path (or link) up to the component that is not a directory
  int in_link;         // FAIL_NOT_DIR: the prefix is of the hardlink's target
};

static void extractor_forget(struct extractor* x, int keep) {
  while (x->depth > keep) {
    x->depth--;
    close(x->fds[x->depth]);
    free(x->names[x->depth]);
  }
}

static void extractor_close(struct extractor* x) {
  if (x->closed) return;
  extractor_forget(x, 0);
  if (x->file >= 0) close(x->file);
  x->file = -1;
  if (x->source >= 0) close(x->source);
  x->source = -1;
  close(x->root);
  x->closed = 1;
}

static uint32_t read_u32(const unsigned char* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

// The time as libuv's utimes sets it (Node's fs.utimes: truncated to microseconds).
static struct timespec seconds_to_timespec(double t) {
  struct timespec ts;
  ts.tv_sec = (time_t)t;
  ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
  ts.tv_nsec -= ts.tv_nsec % 1000;
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000L;
    ts.tv_sec -= 1;
  }
  return ts;
}

static int fail_errno(struct failure* f, int e, const char* syscall) {
  f->kind = FAIL_ERRNO;
  f->error = e;
  f->syscall = syscall;
  return -1;
}

// The fd of the folder holding the last component of path (len bytes), walking from the root without
// following anything; missing folders are made (0755) when create. Returns the fd (owned by the
// chain, or the root) and the last component's offset in *last; -1 on failure.
static int walk_parent(struct extractor* x, const char* path, uint32_t len, int create, uint32_t* last, struct failure* f, int in_link) {
  uint32_t start = 0;
  int level = 0;
  int dir = x->root;
  for (;;) {
    const char* slash = memchr(path + start, '/', len - start);
    if (slash == NULL) break;
    uint32_t end = (uint32_t)(slash - path);
    uint32_t n = end - start;
    if (level < x->depth && strlen(x->names[level]) == n && memcmp(x->names[level], path + start, n) == 0) {
      dir = x->fds[level];
    } else {
      extractor_forget(x, level);
      if (level >= MAX_DEPTH) return fail_errno(f, ENAMETOOLONG, "open");
      char* name = strndup(path + start, n);
      if (name == NULL) return fail_errno(f, ENOMEM, "open");
      int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT && create) {
        if (mkdirat(dir, name, 0755) != 0 && errno != EEXIST) {
          free(name);
          return fail_errno(f, errno, "mkdir");
        }
        fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      }
      if (fd < 0) {
        int e = errno;
        free(name);
        if (e == ENOENT || e == ENOTDIR || e == ELOOP) {
          f->kind = FAIL_NOT_DIR;
          f->error = e;
          f->prefix_len = end;
          f->in_link = in_link;
          return -1;
        }
        return fail_errno(f, e, "open");
      }
      x->names[level] = name;
      x->fds[level] = fd;
      x->depth = level + 1;
      dir = fd;
    }
    level++;
    start = end + 1;
  }
  *last = start;
  return dir;
}

// Removes whatever is at dir/name, a folder with its contents; 0 or an errno (ENOENT: nothing there).
static int remove_at(int dir, const char* name) {
  if (unlinkat(dir, name, 0) == 0) return 0;
  if (errno != EISDIR && errno != EPERM) return errno;
  int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno == ENOTDIR ? EPERM : errno;
  DIR* d = fdopendir(fd);
  if (d == NULL) {
    int e = errno;
    close(fd);
    return e;
  }
  int e = 0;
  struct dirent* ent;
  while (e == 0 && (errno = 0, ent = readdir(d)) != NULL) {
    if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0) continue;
    e = remove_at(fd, ent->d_name);
  }
  if (e == 0 && errno != 0) e = errno;
  closedir(d);
  if (e != 0) return e;
  return unlinkat(dir, name, AT_REMOVEDIR) == 0 ? 0 : errno;
}

// Clears the way for a new entry at dir/name (an entry replaces what an earlier one made there); the
// cached chain below dir may have gone with it.
static int replace_at(struct extractor* x, int dir_level, int dir, const char* name, struct failure* f) {
  int e = remove_at(dir, name);
  if (e != 0 && e != ENOENT) return fail_errno(f, e, "rm");
  extractor_forget(x, dir_level);
  return 0;
}

// The level of the chain that dir is (0: the root), for replace_at.
static int level_of(struct extractor* x, int dir) {
  for (int i = x->depth - 1; i >= 0; i--)
    if (x->fds[i] == dir) return i + 1;
  return 0;
}

static int set_xattrs(int fd, int dir, const char* name, const struct record* r, struct failure* f) {
  char proc[64];
  if (r->xattr_len == 0) return 0;
  if (fd < 0) snprintf(proc, sizeof proc, "/proc/self/fd/%d/", dir);
  for (uint32_t at = 0; at + 4 <= r->xattr_len;) {
    uint32_t nlen = read_u32(r->xattrs + at);
    char attr[256];
    if (nlen >= sizeof attr || at + 4 + nlen + 4 > r->xattr_len) return fail_errno(f, ERANGE, "setxattr");
    memcpy(attr, r->xattrs + at + 4, nlen);
    attr[nlen] = 0;
    uint32_t vlen = read_u32(r->xattrs + at + 4 + nlen);
    const unsigned char* value = r->xattrs + at + 8 + nlen;
    if (at + 8 + nlen + vlen > r->xattr_len) return fail_errno(f, ERANGE, "setxattr");
    int rc;
    if (fd >= 0) {
      rc = fsetxattr(fd, attr, value, vlen, 0);
    } else {
      // a symlink or a device: not opened, named through its folder's fd (never followed: lsetxattr)
      char path[4200];
      snprintf(path, sizeof path, "%s%s", proc, name);
      rc = lsetxattr(path, attr, value, vlen, 0);
    }
    if (rc != 0) return fail_errno(f, errno, "setxattr");
    at += 8 + nlen + vlen;
  }
  return 0;
}

// Owner before mode (chown clears setuid) and both before xattrs (chown drops security.capability).
static int finish_file(int fd, const struct record* r, struct failure* f) {
  struct timespec times[2] = {seconds_to_timespec(r->mtime), seconds_to_timespec(r->mtime)};
  if (fchown(fd, r->uid, r->gid) != 0) return fail_errno(f, errno, "chown");
  if (fchmod(fd, r->mode) != 0) return fail_errno(f, errno, "chmod");
  if (set_xattrs(fd, -1, NULL, r, f) != 0) return -1;
  if (futimens(fd, times) != 0) return fail_errno(f, errno, "utime");
  return 0;
}

static int write_all(int fd, const unsigned char* data, uint32_t len, struct failure* f) {
  for (uint32_t done = 0; done < len;) {
    ssize_t w = write(fd, data + done, len - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail_errno(f, errno, "write");
    }
    done += (uint32_t)w;
  }
  return 0;
}

// Makes something at dir/name with make(); what an earlier entry left there is removed first.
#define MAKE_REPLACING(call)                                                     \
  do {                                                                           \
    if ((call) != 0) {                                                           \
      if (errno != EEXIST) return fail_errno(f, errno, syscall);                 \
      if (replace_at(x, level_of(x, dir), dir, name, f) != 0) return -1;         \
      if ((call) != 0) return fail_errno(f, errno, syscall);                     \
    }                                                                            \
  } while (0)

// len bytes of the source from offset, to the end of the open file: in the kernel where it can,
// else (another filesystem, an old kernel) through a buffer.
static int copy_range(struct extractor* x, double offset_s, double length_s, struct failure* f) {
  if (x->source < 0 || x->file < 0) return fail_errno(f, EBADF, "copy_file_range");
  if (!(offset_s >= 0 && length_s >= 0 && offset_s <= 9007199254740992.0 && length_s <= 9007199254740992.0)) return fail_errno(f, EINVAL, "copy_file_range");
  off_t off = (off_t)offset_s;
  uint64_t left = (uint64_t)length_s;
  int kernel = 1;
  while (left > 0) {
    if (kernel) {
      ssize_t n = copy_file_range(x->source, &off, x->file, NULL, left > (1u << 30) ? (1u << 30) : (size_t)left, 0);
      if (n > 0) {
        left -= (uint64_t)n;
        continue;
      }
      if (n == 0) return fail_errno(f, EIO, "copy_file_range"); // the blob is shorter than its tar says
      if (errno == EINTR) continue;
      if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP && errno != EPERM) return fail_errno(f, errno, "copy_file_range");
      kernel = 0;
    }
    unsigned char chunk[1 << 16];
    ssize_t r = pread(x->source, chunk, left > sizeof chunk ? sizeof chunk : (size_t)left, off);
    if (r < 0) {
      if (errno == EINTR) continue;
      return fail_errno(f, errno, "read");
    }
    if (r == 0) return fail_errno(f, EIO, "read");
    if (write_all(x->file, chunk, (uint32_t)r, f) != 0) return -1;
    off += r;
    left -= (uint64_t)r;
  }
  return 0;
}

static int do_record(struct extractor* x, const struct record* r, struct failure* f) {
  uint32_t last = 0;
  if (r->op == OP_DATA) {
    if (x->file < 0) return fail_errno(f, EBADF, "write");
    return write_all(x->file, r->data, r->data_len, f);
  }
  if (r->op == OP_COPY) {
    if (r->data_len != 16) return fail_errno(f, EINVAL, "copy_file_range");
    double at, len;
    memcpy(&at, r->data, 8);
    memcpy(&len, r->data + 8, 8);
    return copy_range(x, at, len, f);
  }
  if (r->op == OP_FINISH) {
    if (x->file < 0) return fail_errno(f, EBADF, "close");
    int rc = finish_file(x->file, r, f);
    if (close(x->file) != 0 && rc == 0) rc = fail_errno(f, errno, "close");
    x->file = -1;
    return rc;
  }
  char name[4097];
  int dir = walk_parent(x, r->path, r->path_len, r->op != OP_DIRTIME, &last, f, 0);
  if (dir < 0) {
    if (r->op != OP_DIRTIME || f->kind != FAIL_NOT_DIR) return -1;
    memset(f, 0, sizeof *f); // a parent replaced by a later entry: this time no longer applies
    return 0;
  }
  uint32_t nlen = r->path_len - last;
  if (nlen == 0 || nlen >= sizeof name) return fail_errno(f, nlen == 0 ? EINVAL : ENAMETOOLONG, "open");
  memcpy(name, r->path + last, nlen);
  name[nlen] = 0;
  struct timespec times[2] = {seconds_to_timespec(r->mtime), seconds_to_timespec(r->mtime)};
  struct stat st;
  switch (r->op) {
    case OP_FILE: {
      const char* syscall = "open";
      int fd;
      MAKE_REPLACING((fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ? -1 : 0);
      if (write_all(fd, r->data, r->data_len, f) != 0) {
        close(fd);
        return -1;
      }
      if (r->flags & FILE_OPEN) {
        x->file = fd;
        return 0;
      }
      int rc = finish_file(fd, r, f);
      if (close(fd) != 0 && rc == 0) rc = fail_errno(f, errno, "close");
      return rc;
    }
    case OP_DIR: {
      if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
        if (replace_at(x, level_of(x, dir), dir, name, f) != 0) return -1;
        if (mkdirat(dir, name, 0700) != 0) return fail_errno(f, errno, "mkdir");
      }
      int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) return fail_errno(f, errno, "open");
      int rc = 0;
      if (fchown(fd, r->uid, r->gid) != 0) rc = fail_errno(f, errno, "chown");
      else if (fchmod(fd, r->mode) != 0) rc = fail_errno(f, errno, "chmod");
      else rc = set_xattrs(fd, -1, NULL, r, f);
      close(fd);
      return rc;
    }
    case OP_SYMLINK: {
      const char* syscall = "symlink";
      char* target = strndup(r->link, r->link_len);
      if (target == NULL) return fail_errno(f, ENOMEM, syscall);
      int rc = symlinkat(target, dir, name);
      if (rc != 0 && errno == EEXIST) {
        if (replace_at(x, level_of(x, dir), dir, name, f) != 0) {
          free(target);
          return -1;
        }
        rc = symlinkat(target, dir, name);
      }
      free(target);
      if (rc != 0) return fail_errno(f, errno, syscall);
      if (fchownat(dir, name, r->uid, r->gid, AT_SYMLINK_NOFOLLOW) != 0) return fail_errno(f, errno, "lchown");
      if (set_xattrs(-1, dir, name, r, f) != 0) return -1;
      if (utimensat(dir, name, times, AT_SYMLINK_NOFOLLOW) != 0) return fail_errno(f, errno, "lutime");
      return 0;
    }
    case OP_HARDLINK: {
      // the entry's place is cleared first (as an entry replaces), then the target is looked up
      int to = dup(dir);
      if (to < 0) return fail_errno(f, errno, "dup");
      if (replace_at(x, level_of(x, dir), dir, name, f) != 0) {
        close(to);
        return -1;
      }
      uint32_t link_last = 0;
      int from = walk_parent(x, r->link, r->link_len, 0, &link_last, f, 1);
      char from_name[4097];
      uint32_t flen = r->link_len - link_last;
      int rc = -1;
      if (from >= 0 && (flen == 0 || flen >= sizeof from_name)) rc = fail_errno(f, flen == 0 ? EINVAL : ENAMETOOLONG, "link");
      else if (from >= 0) {
        memcpy(from_name, r->link + link_last, flen);
        from_name[flen] = 0;
        rc = linkat(from, from_name, to, name, 0);
        if (rc != 0) {
          if (errno == ENOENT) {
            f->kind = FAIL_NO_LINK_TARGET;
            f->error = ENOENT;
          } else {
            fail_errno(f, errno, "link");
          }
          rc = -1;
        }
      }
      close(to);
      return rc; // the inode has its metadata already, from the entry that made it
    }
    case OP_NODE: {
      const char* syscall = "mknod";
      mode_t type = r->flags == 1 ? S_IFCHR : r->flags == 2 ? S_IFBLK : S_IFIFO;
      dev_t dev = r->flags == 3 ? 0 : makedev(r->major, r->minor);
      MAKE_REPLACING(mknodat(dir, name, type | (r->mode & 07777), dev));
      if (fchownat(dir, name, r->uid, r->gid, AT_SYMLINK_NOFOLLOW) != 0) return fail_errno(f, errno, "lchown");
      if (fchmodat(dir, name, r->mode & 07777, 0) != 0) return fail_errno(f, errno, "chmod");
      if (set_xattrs(-1, dir, name, r, f) != 0) return -1;
      if (utimensat(dir, name, times, AT_SYMLINK_NOFOLLOW) != 0) return fail_errno(f, errno, "utime");
      return 0;
    }
    case OP_OPAQUE:
      if (fsetxattr(dir, "trusted.overlay.opaque", "y", 1, 0) != 0) return fail_errno(f, errno, "setxattr");
      return 0;
    case OP_DIRTIME:
      if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) return 0;
      if (utimensat(dir, name, times, AT_SYMLINK_NOFOLLOW) != 0) return fail_errno(f, errno, "utime");
      return 0;
    default:
      return fail_errno(f, EINVAL, "unpack");
  }
}

struct extract_task {
  struct task t;
  struct extractor* x;
  unsigned char* ops;
  size_t len;
  struct failure failure;
};

static void extract_execute(struct task* t) {
  struct extract_task* e = (struct extract_task*)t;
  size_t at = 0;
  for (uint32_t index = 0; at < e->len; index++) {
    struct record r;
    const unsigned char* p = e->ops + at;
    if (e->len - at < RECORD_HEAD) {
      fail_errno(&e->failure, EINVAL, "unpack");
      e->failure.index = index;
      return;
    }
    r.op = p[0];
    r.flags = p[1];
    r.mode = read_u32(p + 4);
    r.uid = read_u32(p + 8);
    r.gid = read_u32(p + 12);
    memcpy(&r.mtime, p + 16, 8);
    r.major = read_u32(p + 24);
    r.minor = read_u32(p + 28);
    r.path_len = read_u32(p + 32);
    r.link_len = read_u32(p + 36);
    r.xattr_len = read_u32(p + 40);
    r.data_len = read_u32(p + 44);
    size_t total = (size_t)RECORD_HEAD + r.path_len + r.link_len + r.xattr_len + r.data_len;
    if (total > e->len - at) {
      fail_errno(&e->failure, EINVAL, "unpack");
      e->failure.index = index;
      return;
    }
    r.path = (const char*)p + RECORD_HEAD;
    r.link = r.path + r.path_len;
    r.xattrs = (const unsigned char*)r.link + r.link_len;
    r.data = r.xattrs + r.xattr_len;
    if (do_record(e->x, &r, &e->failure) != 0) {
      e->failure.index = index;
      return;
    }
    at += total;
  }
}

static void extract_destroy(struct task* t) {
  struct extract_task* e = (struct extract_task*)t;
  e->x->busy = 0;
  free(e->ops);
  free(e);
}

// null when every record was done, else { index, kind: "errno" | "notDir" | "noLinkTarget", code,
// syscall, prefixLength, inLink }.
static napi_value extract_resolve(napi_env env, struct task* t) {
  struct extract_task* e = (struct extract_task*)t;
  napi_value out, v;
  if (e->failure.kind == 0) return napi_get_null(env, &out) == napi_ok ? out : NULL;
  const char* kind = e->failure.kind == FAIL_ERRNO ? "errno" : e->failure.kind == FAIL_NOT_DIR ? "notDir" : "noLinkTarget";
  if (napi_create_object(env, &out) != napi_ok) return NULL;
  if (napi_create_uint32(env, e->failure.index, &v) != napi_ok || napi_set_named_property(env, out, "index", v) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, kind, NAPI_AUTO_LENGTH, &v) != napi_ok || napi_set_named_property(env, out, "kind", v) != napi_ok) return NULL;
  if (e->failure.kind == FAIL_ERRNO) {
    napi_value err = errno_error(env, e->failure.error, e->failure.syscall, "(layer entry)");
    if (err == NULL || napi_create_string_utf8(env, e->failure.syscall, NAPI_AUTO_LENGTH, &v) != napi_ok ||
        napi_set_named_property(env, err, "syscall", v) != napi_ok || napi_set_named_property(env, out, "error", err) != napi_ok)
      return NULL;
  }
  if (napi_create_uint32(env, e->failure.prefix_len, &v) != napi_ok || napi_set_named_property(env, out, "prefixLength", v) != napi_ok) return NULL;
  if (napi_get_boolean(env, e->failure.in_link != 0, &v) != napi_ok || napi_set_named_property(env, out, "inLink", v) != napi_ok) return NULL;
  return out;
}

static void extractor_finalize(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  struct extractor* x = data;
  if (!x->busy) {
    extractor_close(x);
    free(x);
  } // else a batch still runs (a handle dropped mid-batch): leak it rather than free what it uses
}

static struct extractor* extractor_arg(napi_env env, napi_value v) {
  void* data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "unpack: an extractor handle expected");
    return NULL;
  }
  return data;
}

// unpackOpen(root, source?) -> handle: the root folder opened (a real folder, not followed if a
// symlink), and the blob OP_COPY reads from, if given.
static napi_value js_unpack_open(napi_env env, napi_callback_info info) {
  ARGS(2);
  EXPECT(argc >= 1, "unpackOpen: a folder expected");
  int failed = 0;
  char* root = string_arg(env, argv[0], 0, &failed);
  if (failed) return NULL;
  int source = -1;
  napi_valuetype second = napi_undefined;
  if (argc >= 2 && napi_typeof(env, argv[1], &second) == napi_ok && second == napi_string) {
    char* path = string_arg(env, argv[1], 0, &failed);
    if (failed) {
      free(root);
      return NULL;
    }
    source = open(path, O_RDONLY | O_CLOEXEC);
    if (source < 0) {
      throw_errno(env, errno, "open", path);
      free(path);
      free(root);
      return NULL;
    }
    free(path);
  }
  int fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    throw_errno(env, errno, "open", root);
    free(root);
    if (source >= 0) close(source);
    return NULL;
  }
  free(root);
  struct extractor* x = calloc(1, sizeof *x);
  napi_value handle;
  if (x == NULL) {
    close(fd);
    if (source >= 0) close(source);
    napi_throw_error(env, NULL, "unpackOpen: out of memory");
    return NULL;
  }
  x->root = fd;
  x->file = -1;
  x->source = source;
  if (napi_create_external(env, x, extractor_finalize, NULL, &handle) != napi_ok) {
    extractor_close(x);
    free(x);
    napi_throw_error(env, NULL, "unpackOpen: N-API call failed");
    return NULL;
  }
  return handle;
}

// unpackBatch(handle, ops: Uint8Array) -> Promise<null | failure>: the records, in order, on the thread
// pool; the first failure stops the batch. One batch at a time per handle.
static napi_value js_unpack_batch(napi_env env, napi_callback_info info) {
  ARGS(2);
  EXPECT(argc >= 2, "unpackBatch: a handle and a buffer expected");
  struct extractor* x = extractor_arg(env, argv[0]);
  if (x == NULL) return NULL;
  EXPECT(!x->busy && !x->closed, "unpackBatch: the extractor is busy or closed");
  bool is_typed = false;
  napi_typedarray_type type;
  size_t len = 0;
  void* data = NULL;
  EXPECT(napi_is_typedarray(env, argv[1], &is_typed) == napi_ok && is_typed &&
             napi_get_typedarray_info(env, argv[1], &type, &len, &data, NULL, NULL) == napi_ok && type == napi_uint8_array,
         "unpackBatch: a Uint8Array expected");
  struct extract_task* e = calloc(1, sizeof *e);
  unsigned char* ops = malloc(len == 0 ? 1 : len);
  char* label = strdup("layer");
  if (e == NULL || ops == NULL || label == NULL) {
    free(e);
    free(ops);
    free(label);
    napi_throw_error(env, NULL, "unpackBatch: out of memory");
    return NULL;
  }
  if (len > 0) memcpy(ops, data, len);
  e->x = x;
  e->ops = ops;
  e->len = len;
  x->busy = 1;
  e->t = (struct task){.execute = extract_execute, .resolve = extract_resolve, .destroy = extract_destroy, .syscall = "unpack", .path = label};
  return task_start(env, &e->t);
}

// unpackClose(handle): closes the fds it holds (an open file, the folder chain, the root).
static napi_value js_unpack_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  EXPECT(argc >= 1, "unpackClose: a handle expected");
  struct extractor* x = extractor_arg(env, argv[0]);
  if (x == NULL) return NULL;
  EXPECT(!x->busy, "unpackClose: a batch still runs");
  extractor_close(x);
  return NULL;
}
