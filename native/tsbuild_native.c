// tsbuild's native helpers, as a Node-API addon (built by `make build` with the system's C compiler).
//
// What Node cannot do cheaply itself:
//  - mount(2) and umount2(2): spawning util-linux's mount/umount cost 3-5 ms each (fork of a large
//    process, exec, libmount) where the system call takes 0.2-0.5 ms; a RUN or COPY step does two.
//  - extended attributes (llistxattr, lgetxattr, lsetxattr: never following a symlink), which spared
//    loading a second addon package on every build that writes a layer (6 ms and a module lookup);
//  - scanning a folder with the stat of every entry in one call: lstatSync per file is a round trip
//    into C++ and a dozen BigInts per file, most of a 20,000-file context's no-op rebuild;
//  - copying many files with their owner, mode and times, each checked against its copy in the
//    previous build (COPY's fast path), off the main thread: one call per batch of files;
//  - sha256 and random bytes without node:crypto, whose load (3-4 ms, two dozen internal modules) was
//    a share of every command's start: the hash is OpenSSL's, found in the node binary by dlsym (Node
//    exports it for addons); where it is not found, sha256Available() says so and JS uses node:crypto;
//  - hashing a folder's files and reading many small ones for a layer tar in one call (fastfiles.c);
//  - making a layer's entries as it is unpacked, in batches on the thread pool, each parent reached
//    from the root with openat(O_NOFOLLOW) so that nothing is followed out of it (unpack.c);
//  - a container's pseudo-terminal (`run -t`, `exec -t`): runc creates the pty inside the container and
//    sends its master over a unix socket (--console-socket) as SCM_RIGHTS, which Node's net module
//    cannot receive; TIOCSWINSZ to size it; and, since `runc run --detach` leaves the container's
//    process an orphan, PR_SET_CHILD_SUBREAPER and waitpid(2) to take its exit status, as conmon does;
//    and the user's terminal in raw mode as Docker's CLI sets it (cfmakeraw), which setRawMode is not.
// Errors come back as JS Errors with `code` (the errno name, as Node's fs errors) and `errno`.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <dirent.h>
#include <dlfcn.h>
#include <sys/random.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <stdbool.h>
#include <unistd.h>

#define CHECK(call)                                                    \
  do {                                                                 \
    if ((call) != napi_ok) {                                           \
      napi_throw_error(env, NULL, "tsbuild native: N-API call failed"); \
      return NULL;                                                     \
    }                                                                  \
  } while (0)

// Declares argc/argv and fetches up to n arguments of the call.
#define ARGS(n)         \
  size_t argc = (n);    \
  napi_value argv[(n)]; \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL))

// Throws a TypeError with `message` and returns when `cond` does not hold.
#define EXPECT(cond, message)                        \
  do {                                               \
    if (!(cond)) {                                   \
      napi_throw_type_error(env, NULL, message);     \
      return NULL;                                   \
    }                                                \
  } while (0)

static const char* errno_name(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENOTDIR: return "ENOTDIR";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ELOOP: return "ELOOP";
    case ENODEV: return "ENODEV";
    case ENOTBLK: return "ENOTBLK";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENODATA: return "ENODATA";
    case ENOTSUP: return "ENOTSUP";
    case ERANGE: return "ERANGE";
    case E2BIG: return "E2BIG";
    case ECANCELED: return "ECANCELED";
    case EDQUOT: return "EDQUOT";
    case ECHILD: return "ECHILD";
    case ECONNRESET: return "ECONNRESET";
    case ENOTTY: return "ENOTTY";
    default: return "EUNKNOWN";
  }
}

// The error Node's fs would give: message `<syscall> <path>: <strerror>`, code and errno set.
static napi_value errno_error(napi_env env, int e, const char* syscall, const char* path) {
  char message[4200];
  snprintf(message, sizeof message, "%s %s: %s", syscall, path, strerror(e));
  napi_value msg, code, err, num;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_error(env, code, msg, &err) != napi_ok || napi_create_int32(env, -e, &num) != napi_ok ||
      napi_set_named_property(env, err, "errno", num) != napi_ok ||
      napi_set_named_property(env, err, "code", code) != napi_ok)
    return NULL;
  return err;
}

static void throw_errno(napi_env env, int e, const char* syscall, const char* path) {
  napi_value err = errno_error(env, e, syscall, path);
  if (err != NULL) napi_throw(env, err);
}

// A string argument copied into a malloc'd buffer (NULL for JS null/undefined when optional).
static char* string_arg(napi_env env, napi_value v, int optional, int* failed) {
  napi_valuetype t;
  *failed = 0;
  if (napi_typeof(env, v, &t) != napi_ok) goto bad;
  if (optional && (t == napi_null || t == napi_undefined)) return NULL;
  if (t != napi_string) goto bad;
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) goto bad;
  char* s = malloc(len + 1);
  if (s == NULL) goto bad;
  if (napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) {
    free(s);
    goto bad;
  }
  return s;
bad:
  *failed = 1;
  napi_throw_type_error(env, NULL, "tsbuild native: expected a string argument");
  return NULL;
}

struct mount_call {
  const char *source, *target, *fstype, *data, *cwd;
  unsigned long flags;
  int result_errno;
};

// Runs on its own thread: unshare(CLONE_FS) gives the thread a private working directory, so the
// chdir that lets overlay's lowerdir paths be short and relative never moves Node's own.
static void* mount_thread(void* arg) {
  struct mount_call* c = arg;
  c->result_errno = 0;
  if (c->cwd != NULL) {
    if (unshare(CLONE_FS) != 0 || chdir(c->cwd) != 0) {
      c->result_errno = errno;
      return NULL;
    }
  }
  if (mount(c->source, c->target, c->fstype, c->flags, c->data) != 0) c->result_errno = errno;
  return NULL;
}

// mount(source, target, fstype, flags, data, cwd | null)
static napi_value js_mount(napi_env env, napi_callback_info info) {
  ARGS(6);
  EXPECT(argc >= 6, "mount: 6 arguments expected");
  int failed = 0;
  char* strings[5] = {NULL, NULL, NULL, NULL, NULL};
  const int slots[5] = {0, 1, 2, 4, 5};
  for (int i = 0; i < 5 && !failed; i++) strings[i] = string_arg(env, argv[slots[i]], slots[i] == 5, &failed);
  double flags = 0;
  if (!failed && napi_get_value_double(env, argv[3], &flags) != napi_ok) {
    napi_throw_type_error(env, NULL, "mount: flags must be a number");
    failed = 1;
  }
  if (!failed) {
    struct mount_call c = {strings[0], strings[1], strings[2], strings[3], strings[4], (unsigned long)flags, 0};
    pthread_t thread;
    int e = pthread_create(&thread, NULL, mount_thread, &c);
    if (e == 0) e = pthread_join(thread, NULL);
    if (e == 0) e = c.result_errno;
    if (e != 0) throw_errno(env, e, "mount", strings[1]);
  }
  for (int i = 0; i < 5; i++) free(strings[i]);
  return NULL;
}

// A system-call job run on libuv's thread pool, settled as a promise on the main thread. Each kind
// of job embeds this first and fills in the three functions.
struct task {
  napi_async_work work;
  napi_deferred deferred;
  void (*execute)(struct task* t);              // thread pool: no N-API calls; sets error on failure
  napi_value (*resolve)(napi_env env, struct task* t); // main thread: the value (NULL: out of memory)
  void (*destroy)(struct task* t);
  int error;               // errno of the failure, 0 if none
  const char* syscall;     // for the message of a failure
  char* path;              // ditto; owned by the task
};

static void task_execute(napi_env env, void* data) {
  (void)env;
  struct task* t = data;
  t->execute(t);
}

static void task_complete(napi_env env, napi_status status, void* data) {
  struct task* t = data;
  napi_value value = NULL;
  int failed = 1;
  if (status == napi_cancelled) {
    value = errno_error(env, ECANCELED, t->syscall, t->path);
  } else if (t->error != 0) {
    value = errno_error(env, t->error, t->syscall, t->path);
  } else {
    value = t->resolve(env, t);
    failed = value == NULL;
    if (value == NULL) value = errno_error(env, ENOMEM, t->syscall, t->path);
  }
  if (value != NULL) {
    if (failed) napi_reject_deferred(env, t->deferred, value);
    else napi_resolve_deferred(env, t->deferred, value);
  }
  napi_delete_async_work(env, t->work);
  free(t->path);
  t->destroy(t);
}

// Queues the task and returns its promise; on failure destroys it and throws.
static napi_value task_start(napi_env env, struct task* t) {
  napi_value promise, name;
  if (napi_create_promise(env, &t->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, t->syscall, NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, task_execute, task_complete, t, &t->work) != napi_ok) {
    free(t->path);
    t->destroy(t);
    napi_throw_error(env, NULL, "tsbuild native: cannot start a background task");
    return NULL;
  }
  if (napi_queue_async_work(env, t->work) != napi_ok) {
    napi_delete_async_work(env, t->work);
    free(t->path);
    t->destroy(t);
    napi_throw_error(env, NULL, "tsbuild native: cannot queue a background task");
    return NULL;
  }
  return promise;
}

static void free_plain(struct task* t) { free(t); }

static napi_value resolve_undefined(napi_env env, struct task* t) {
  (void)t;
  napi_value v;
  return napi_get_undefined(env, &v) == napi_ok ? v : NULL;
}

// umount(target, flags) -> Promise<void>: on the thread pool, since unmounting an overlay that took
// thousands of files can take tens of milliseconds (the layer tar is written meanwhile).
struct umount_task {
  struct task t;
  int flags;
};

static void umount_execute(struct task* t) {
  struct umount_task* u = (struct umount_task*)t;
  if (umount2(t->path, u->flags) != 0) t->error = errno;
}

static napi_value js_umount(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t flags = 0;
  EXPECT(argc >= 2 && napi_get_value_int32(env, argv[1], &flags) == napi_ok, "umount: a target and flags expected");
  int failed = 0;
  char* target = string_arg(env, argv[0], 0, &failed);
  if (failed) return NULL;
  struct umount_task* u = calloc(1, sizeof *u);
  if (u == NULL) {
    free(target);
    napi_throw_error(env, NULL, "umount: out of memory");
    return NULL;
  }
  u->flags = flags;
  u->t = (struct task){.execute = umount_execute, .resolve = resolve_undefined, .destroy = free_plain,
                       .syscall = "umount", .path = target};
  return task_start(env, &u->t);
}

// scanDir(path) -> Promise<{ names: string[], modes: Uint32Array, keys: string[] }>
// Every entry of the folder (not . and ..) in readdir order, with its st_mode and, for a regular file,
// the digest cache's stat key "dev:ino:size:mtimeNs:ctimeNs" (cache/digestcache.ts statKey) or "" for
// anything else. An entry that vanished between readdir and stat is left out. The system calls run on
// libuv's thread pool, so a walk scans the next folders while JavaScript digests this one; the JS
// strings are made on the main thread when the scan completes.

// A growable byte buffer of NUL-terminated strings.
struct strings {
  char* data;
  size_t len, cap;
};

static int strings_add(struct strings* b, const char* s) {
  size_t n = strlen(s) + 1;
  if (b->len + n > b->cap) {
    size_t cap = b->cap == 0 ? 4096 : b->cap;
    while (b->len + n > cap) cap *= 2;
    char* grown = realloc(b->data, cap);
    if (grown == NULL) return -1;
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  return 0;
}

struct scan {
  struct task t;
  struct strings names, keys;
  uint32_t* modes;
  size_t count, cap;
};

static void scan_destroy(struct task* t) {
  struct scan* sc = (struct scan*)t;
  free(sc->names.data);
  free(sc->keys.data);
  free(sc->modes);
  free(sc);
}

static void scan_execute(struct task* t) {
  struct scan* sc = (struct scan*)t;
  int fd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* dir = fd < 0 ? NULL : fdopendir(fd);
  if (dir == NULL) {
    t->error = errno;
    if (fd >= 0) close(fd);
    return;
  }
  for (;;) {
    errno = 0;
    struct dirent* d = readdir(dir);
    if (d == NULL) {
      t->error = errno;
      break;
    }
    if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0) continue;
    struct stat st;
    if (fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      t->error = errno;
      break;
    }
    if (sc->count == sc->cap) {
      size_t cap = sc->cap == 0 ? 64 : sc->cap * 2;
      uint32_t* grown = realloc(sc->modes, cap * sizeof *grown);
      if (grown == NULL) {
        t->error = ENOMEM;
        break;
      }
      sc->modes = grown;
      sc->cap = cap;
    }
    char key[128] = "";
    if (S_ISREG(st.st_mode)) {
      snprintf(key, sizeof key, "%llu:%llu:%lld:%llu:%llu", (unsigned long long)st.st_dev,
               (unsigned long long)st.st_ino, (long long)st.st_size,
               (unsigned long long)st.st_mtim.tv_sec * 1000000000ULL + (unsigned long long)st.st_mtim.tv_nsec,
               (unsigned long long)st.st_ctim.tv_sec * 1000000000ULL + (unsigned long long)st.st_ctim.tv_nsec);
    }
    if (strings_add(&sc->names, d->d_name) != 0 || strings_add(&sc->keys, key) != 0) {
      t->error = ENOMEM;
      break;
    }
    sc->modes[sc->count++] = st.st_mode;
  }
  closedir(dir);
}

// A JS array of the NUL-terminated strings in b (count of them).
static napi_value strings_to_array(napi_env env, const struct strings* b, size_t count) {
  napi_value array, s;
  if (napi_create_array_with_length(env, count, &array) != napi_ok) return NULL;
  size_t at = 0;
  for (size_t i = 0; i < count; i++) {
    size_t n = strlen(b->data + at);
    if (napi_create_string_utf8(env, b->data + at, n, &s) != napi_ok ||
        napi_set_element(env, array, (uint32_t)i, s) != napi_ok)
      return NULL;
    at += n + 1;
  }
  return array;
}

static napi_value scan_resolve(napi_env env, struct task* t) {
  struct scan* sc = (struct scan*)t;
  napi_value names = strings_to_array(env, &sc->names, sc->count);
  napi_value keys = strings_to_array(env, &sc->keys, sc->count);
  napi_value result, buffer, modes;
  void* data = NULL;
  if (names == NULL || keys == NULL ||
      napi_create_arraybuffer(env, sc->count * sizeof(uint32_t), &data, &buffer) != napi_ok)
    return NULL;
  if (sc->count > 0) memcpy(data, sc->modes, sc->count * sizeof(uint32_t));
  if (napi_create_typedarray(env, napi_uint32_array, sc->count, buffer, 0, &modes) != napi_ok ||
      napi_create_object(env, &result) != napi_ok ||
      napi_set_named_property(env, result, "names", names) != napi_ok ||
      napi_set_named_property(env, result, "modes", modes) != napi_ok ||
      napi_set_named_property(env, result, "keys", keys) != napi_ok)
    return NULL;
  return result;
}

static napi_value js_scan_dir(napi_env env, napi_callback_info info) {
  ARGS(1);
  EXPECT(argc >= 1, "scanDir: a path expected");
  int failed = 0;
  char* path = string_arg(env, argv[0], 0, &failed);
  if (failed) return NULL;
  struct scan* sc = calloc(1, sizeof *sc);
  if (sc == NULL) {
    free(path);
    napi_throw_error(env, NULL, "scanDir: out of memory");
    return NULL;
  }
  sc->t = (struct task){.execute = scan_execute, .resolve = scan_resolve, .destroy = scan_destroy,
                        .syscall = "scandir", .path = path};
  return task_start(env, &sc->t);
}

// copyFiles(sources: string[], targets: string[], meta: Float64Array, donors?: string[]) -> Promise<Int32Array>
// Copies each regular file to a new file (O_EXCL: never over an existing entry), a reflink where the
// filesystem has them, else copy_file_range, then sets owner, mode and times in the order a COPY does
// (chown before chmod, which chown may clear setuid for). meta holds five numbers per file: uid, gid,
// mode, atime ms, mtime ms. With donors (COPY's files the previous build left unchanged, whose layer
// members are reused), a file is only copied if its donor, the previous build's copy, is a regular file
// with the same size, mode, owner and mtime (ms), and neither has extended attributes (overlay's own
// aside): else its result is NOT_REUSABLE and nothing is written. The result holds each file's errno
// (0: copied); a failed copy leaves no target behind. One call per batch instead of several promises
// or synchronous calls per file in JavaScript.
#define NOT_REUSABLE (-1)
struct copy_task {
  struct task t;
  size_t count;
  char** sources;
  char** targets;
  char** donors; // NULL: no donor checks
  double* meta;
  int32_t* results;
};

static void copy_destroy(struct task* t) {
  struct copy_task* c = (struct copy_task*)t;
  for (size_t i = 0; i < c->count; i++) {
    if (c->sources != NULL) free(c->sources[i]);
    if (c->targets != NULL) free(c->targets[i]);
    if (c->donors != NULL) free(c->donors[i]);
  }
  free(c->sources);
  free(c->targets);
  free(c->donors);
  free(c->meta);
  free(c->results);
  free(c);
}

static struct timespec ms_to_timespec(double ms) {
  long long whole = (long long)ms;
  if ((double)whole > ms) whole--; // floor for times before 1970
  struct timespec ts = {.tv_sec = (time_t)(whole / 1000), .tv_nsec = (long)((whole % 1000) * 1000000)};
  if (ts.tv_nsec < 0) {
    ts.tv_sec--;
    ts.tv_nsec += 1000000000L;
  }
  return ts;
}

// The bytes of in appended to out until in's end.
static int copy_bytes(int in, int out) {
  for (;;) {
    ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
    if (n == 0) return 0;
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP) return errno;
    break; // not between these filesystems: read and write
  }
  char buf[65536];
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n == 0) return 0;
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(out, buf + done, (size_t)(n - done));
      if (w < 0) {
        if (errno == EINTR) continue;
        return errno;
      }
      done += w;
    }
  }
}

// 1 if the entry has an extended attribute other than overlayfs's own, 0 if not, -errno on failure.
static int has_xattrs(const char* path) {
  char names[4096];
  ssize_t len = llistxattr(path, names, sizeof names);
  if (len < 0) {
    if (errno == ENOTSUP) return 0;
    if (errno == ERANGE) return 1; // more names than fit: certainly some
    return -errno;
  }
  for (ssize_t at = 0; at < len;) {
    size_t n = strnlen(names + at, (size_t)(len - at));
    if (strncmp(names + at, "trusted.overlay.", 16) != 0) return 1;
    at += (ssize_t)n + 1;
  }
  return 0;
}

// Whether the donor is an identical earlier copy of the open source file (see copyFiles).
static int donor_matches(const char* source, int in, const char* donor, const double* meta) {
  struct stat src, d;
  if (fstat(in, &src) != 0 || lstat(donor, &d) != 0) return 0;
  if (!S_ISREG(d.st_mode) || d.st_size != src.st_size || (d.st_mode & 07777) != (mode_t)meta[2]) return 0;
  if (d.st_uid != (uid_t)meta[0] || d.st_gid != (gid_t)meta[1]) return 0;
  double donor_ms = (double)d.st_mtim.tv_sec * 1000.0 + (double)d.st_mtim.tv_nsec / 1e6;
  if (llround(donor_ms) != (long long)meta[4]) return 0;
  return has_xattrs(source) == 0 && has_xattrs(donor) == 0;
}

static int copy_one(const char* source, const char* target, const double* meta, const char* donor) {
  int in = open(source, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0) return errno;
  if (donor != NULL && !donor_matches(source, in, donor, meta)) {
    close(in);
    return NOT_REUSABLE;
  }
  int out = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) {
    int e = errno;
    close(in);
    return e;
  }
  int e = 0;
  if (ioctl(out, FICLONE, in) != 0) e = copy_bytes(in, out);
  struct timespec times[2] = {ms_to_timespec(meta[3]), ms_to_timespec(meta[4])};
  if (e == 0 && fchown(out, (uid_t)meta[0], (gid_t)meta[1]) != 0) e = errno;
  if (e == 0 && fchmod(out, (mode_t)meta[2]) != 0) e = errno;
  if (e == 0 && futimens(out, times) != 0) e = errno;
  if (close(out) != 0 && e == 0) e = errno;
  close(in);
  if (e != 0) unlink(target);
  return e;
}

static void copy_execute(struct task* t) {
  struct copy_task* c = (struct copy_task*)t;
  for (size_t i = 0; i < c->count; i++) {
    c->results[i] = copy_one(c->sources[i], c->targets[i], c->meta + 5 * i, c->donors == NULL ? NULL : c->donors[i]);
  }
}

static napi_value copy_resolve(napi_env env, struct task* t) {
  struct copy_task* c = (struct copy_task*)t;
  napi_value buffer, array;
  void* data = NULL;
  if (napi_create_arraybuffer(env, c->count * sizeof(int32_t), &data, &buffer) != napi_ok) return NULL;
  if (c->count > 0) memcpy(data, c->results, c->count * sizeof(int32_t));
  if (napi_create_typedarray(env, napi_int32_array, c->count, buffer, 0, &array) != napi_ok) return NULL;
  return array;
}

// The strings of a JS array, malloc'd (NULL and a thrown error on failure).
static char** string_array_arg(napi_env env, napi_value v, size_t count) {
  char** out = calloc(count == 0 ? 1 : count, sizeof *out);
  if (out == NULL) {
    napi_throw_error(env, NULL, "copyFiles: out of memory");
    return NULL;
  }
  for (size_t i = 0; i < count; i++) {
    napi_value item;
    int failed = 0;
    if (napi_get_element(env, v, (uint32_t)i, &item) != napi_ok) failed = 1;
    if (!failed) out[i] = string_arg(env, item, 0, &failed);
    if (failed) {
      for (size_t j = 0; j < i; j++) free(out[j]);
      free(out);
      return NULL;
    }
  }
  return out;
}

// The argument check and task of copyFiles and copyPlainFiles (fastfiles.c): sources, targets, the
// Float64Array of 5 numbers per file, and for copyFiles the donors; `execute` is what runs per batch.
static napi_value start_copy_task(napi_env env, napi_value* argv, size_t argc, int with_donors,
                                  void (*execute)(struct task*), const char* name) {
  uint32_t n_sources = 0, n_targets = 0, n_donors = 0;
  bool is_typed = false;
  napi_typedarray_type type;
  size_t meta_len = 0;
  void* meta_data = NULL;
  if (argc < 3 || napi_get_array_length(env, argv[0], &n_sources) != napi_ok ||
      napi_get_array_length(env, argv[1], &n_targets) != napi_ok || n_sources != n_targets ||
      napi_is_typedarray(env, argv[2], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[2], &type, &meta_len, &meta_data, NULL, NULL) != napi_ok ||
      type != napi_float64_array || meta_len != 5 * (size_t)n_sources ||
      (with_donors && (napi_get_array_length(env, argv[3], &n_donors) != napi_ok || n_donors != n_sources))) {
    char message[160];
    snprintf(message, sizeof message, "%s: sources, targets,%s as many, and a Float64Array of 5 numbers each expected",
             name, with_donors ? " donors," : "");
    napi_throw_type_error(env, NULL, message);
    return NULL;
  }
  struct copy_task* c = calloc(1, sizeof *c);
  if (c == NULL) {
    napi_throw_error(env, NULL, "copy: out of memory");
    return NULL;
  }
  c->t = (struct task){.execute = execute, .resolve = copy_resolve, .destroy = copy_destroy,
                       .syscall = "copy", .path = NULL};
  c->sources = string_array_arg(env, argv[0], n_sources);
  if (c->sources != NULL) {
    c->count = n_sources; // from here destroy frees the sources' strings
    c->targets = string_array_arg(env, argv[1], n_sources);
  }
  if (c->targets != NULL && with_donors) {
    c->donors = string_array_arg(env, argv[3], n_sources);
    if (c->donors == NULL) {
      copy_destroy(&c->t);
      return NULL;
    }
  }
  if (c->targets == NULL) { // an error is thrown already
    copy_destroy(&c->t);
    return NULL;
  }
  c->meta = malloc(meta_len * sizeof(double) + 1);
  c->results = calloc(n_sources == 0 ? 1 : n_sources, sizeof(int32_t));
  c->t.path = strdup("files");
  if (c->meta == NULL || c->results == NULL || c->t.path == NULL) {
    free(c->t.path);
    c->t.path = NULL; // not freed again by destroy
    copy_destroy(&c->t);
    napi_throw_error(env, NULL, "copy: out of memory");
    return NULL;
  }
  memcpy(c->meta, meta_data, meta_len * sizeof(double));
  return task_start(env, &c->t);
}

static napi_value js_copy_files(napi_env env, napi_callback_info info) {
  ARGS(4);
  napi_valuetype donors_type = napi_undefined;
  if (argc >= 4 && napi_typeof(env, argv[3], &donors_type) != napi_ok) donors_type = napi_undefined;
  int with_donors = donors_type != napi_undefined && donors_type != napi_null;
  return start_copy_task(env, argv, argc, with_donors, copy_execute, "copyFiles");
}

// listXattrs(path) -> string[]: the names of the entry's extended attributes (the link's own for a symlink).
static napi_value js_list_xattrs(napi_env env, napi_callback_info info) {
  ARGS(1);
  int failed = 0;
  char* path = argc < 1 ? NULL : string_arg(env, argv[0], 0, &failed);
  if (path == NULL) {
    if (!failed) napi_throw_type_error(env, NULL, "listXattrs: a path expected");
    return NULL;
  }
  char* list = NULL;
  ssize_t len;
  // The list may grow between the size query and the read: ask again on ERANGE.
  for (;;) {
    len = llistxattr(path, NULL, 0);
    if (len <= 0) break;
    char* grown = realloc(list, (size_t)len);
    if (grown == NULL) {
      len = -1;
      errno = ENOMEM;
      break;
    }
    list = grown;
    ssize_t got = llistxattr(path, list, (size_t)len);
    if (got >= 0) {
      len = got;
      break;
    }
    if (errno != ERANGE) {
      len = -1;
      break;
    }
  }
  napi_value result = NULL;
  if (len < 0) {
    throw_errno(env, errno, "llistxattr", path);
  } else if (napi_create_array(env, &result) == napi_ok) {
    uint32_t i = 0;
    for (ssize_t at = 0; at < len;) {
      size_t n = strnlen(list + at, (size_t)(len - at));
      napi_value name;
      if (napi_create_string_utf8(env, list + at, n, &name) != napi_ok ||
          napi_set_element(env, result, i++, name) != napi_ok) {
        result = NULL;
        break;
      }
      at += (ssize_t)n + 1;
    }
  }
  free(list);
  free(path);
  return result;
}

// getXattr(path, name) -> Buffer | null (null: no attribute of that name).
static napi_value js_get_xattr(napi_env env, napi_callback_info info) {
  ARGS(2);
  EXPECT(argc >= 2, "getXattr: a path and a name expected");
  int failed = 0;
  char* path = string_arg(env, argv[0], 0, &failed);
  if (failed) return NULL;
  char* name = string_arg(env, argv[1], 0, &failed);
  if (failed) {
    free(path);
    return NULL;
  }
  napi_value result = NULL;
  char* value = NULL;
  ssize_t len;
  for (;;) {
    len = lgetxattr(path, name, NULL, 0);
    if (len < 0) break;
    char* grown = realloc(value, len == 0 ? 1 : (size_t)len);
    if (grown == NULL) {
      len = -1;
      errno = ENOMEM;
      break;
    }
    value = grown;
    ssize_t got = lgetxattr(path, name, value, (size_t)len);
    if (got >= 0) {
      len = got;
      break;
    }
    if (errno != ERANGE) {
      len = -1;
      break;
    }
  }
  if (len < 0) {
    if (errno == ENODATA) napi_get_null(env, &result);
    else throw_errno(env, errno, "lgetxattr", path);
  } else {
    void* data;
    if (napi_create_buffer_copy(env, (size_t)len, value, &data, &result) != napi_ok) result = NULL;
  }
  free(value);
  free(name);
  free(path);
  return result;
}

// setXattr(path, name, value: Buffer)
static napi_value js_set_xattr(napi_env env, napi_callback_info info) {
  ARGS(3);
  bool is_buffer = false;
  EXPECT(argc >= 3 && napi_is_buffer(env, argv[2], &is_buffer) == napi_ok && is_buffer, "setXattr: a path, a name and a Buffer expected");
  void* value;
  size_t len;
  CHECK(napi_get_buffer_info(env, argv[2], &value, &len));
  int failed = 0;
  char* path = string_arg(env, argv[0], 0, &failed);
  if (failed) return NULL;
  char* name = string_arg(env, argv[1], 0, &failed);
  if (failed) {
    free(path);
    return NULL;
  }
  if (lsetxattr(path, name, value, len, 0) != 0) throw_errno(env, errno, "lsetxattr", path);
  free(name);
  free(path);
  return NULL;
}

// ---- sha256 through the OpenSSL that Node carries ----------------------------------------------

typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct evp_md_st EVP_MD;

static struct {
  int tried;
  int ok;
  EVP_MD_CTX* (*ctx_new)(void);
  void (*ctx_free)(EVP_MD_CTX*);
  const EVP_MD* (*sha256)(void);
  int (*init)(EVP_MD_CTX*, const EVP_MD*, void*);
  int (*update)(EVP_MD_CTX*, const void*, size_t);
  int (*final)(EVP_MD_CTX*, unsigned char*, unsigned int*);
} evp;

// Looks the functions up once (the idiom below: ISO C has no cast from void* to a function pointer).
static int evp_ready(void) {
  if (evp.tried) return evp.ok;
  evp.tried = 1;
  *(void**)(&evp.ctx_new) = dlsym(RTLD_DEFAULT, "EVP_MD_CTX_new");
  *(void**)(&evp.ctx_free) = dlsym(RTLD_DEFAULT, "EVP_MD_CTX_free");
  *(void**)(&evp.sha256) = dlsym(RTLD_DEFAULT, "EVP_sha256");
  *(void**)(&evp.init) = dlsym(RTLD_DEFAULT, "EVP_DigestInit_ex");
  *(void**)(&evp.update) = dlsym(RTLD_DEFAULT, "EVP_DigestUpdate");
  *(void**)(&evp.final) = dlsym(RTLD_DEFAULT, "EVP_DigestFinal_ex");
  evp.ok = evp.ctx_new && evp.ctx_free && evp.sha256 && evp.init && evp.update && evp.final;
  return evp.ok;
}

// `n` bytes (n <= 256) as a JS string of 2n lowercase hex digits.
static napi_value hex_string(napi_env env, const unsigned char* bytes, size_t n) {
  static const char hexdigits[] = "0123456789abcdef";
  char hex[512];
  for (size_t i = 0; i < n; i++) {
    hex[2 * i] = hexdigits[bytes[i] >> 4];
    hex[2 * i + 1] = hexdigits[bytes[i] & 15];
  }
  napi_value result;
  CHECK(napi_create_string_latin1(env, hex, 2 * n, &result));
  return result;
}

struct sha256_state {
  EVP_MD_CTX* ctx;
  int done;
};

static void sha256_finalize(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  struct sha256_state* st = data;
  evp.ctx_free(st->ctx);
  free(st);
}

// sha256Available() -> boolean
static napi_value js_sha256_available(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  CHECK(napi_get_boolean(env, evp_ready(), &result));
  return result;
}

// sha256New() -> an opaque handle for sha256Update and sha256Digest
static napi_value js_sha256_new(napi_env env, napi_callback_info info) {
  (void)info;
  if (!evp_ready()) {
    napi_throw_error(env, NULL, "sha256New: OpenSSL's EVP functions are not in this process");
    return NULL;
  }
  struct sha256_state* st = calloc(1, sizeof *st);
  if (st != NULL) st->ctx = evp.ctx_new();
  if (st == NULL || st->ctx == NULL || evp.init(st->ctx, evp.sha256(), NULL) != 1) {
    if (st != NULL && st->ctx != NULL) evp.ctx_free(st->ctx);
    free(st);
    napi_throw_error(env, NULL, "sha256New: cannot start a digest");
    return NULL;
  }
  napi_value handle;
  if (napi_create_external(env, st, sha256_finalize, NULL, &handle) != napi_ok) {
    evp.ctx_free(st->ctx);
    free(st);
    napi_throw_error(env, NULL, "sha256New: N-API call failed");
    return NULL;
  }
  return handle;
}

static struct sha256_state* sha256_arg(napi_env env, napi_value v, const char* fn) {
  void* data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, fn);
    return NULL;
  }
  struct sha256_state* st = data;
  if (st->done) {
    napi_throw_error(env, NULL, "sha256: digest already called");
    return NULL;
  }
  return st;
}

// sha256Update(handle, data: Buffer | Uint8Array | string (utf-8))
static napi_value js_sha256_update(napi_env env, napi_callback_info info) {
  ARGS(2);
  EXPECT(argc >= 2, "sha256Update: a handle and data expected");
  struct sha256_state* st = sha256_arg(env, argv[0], "sha256Update: a handle from sha256New expected");
  if (st == NULL) return NULL;
  bool is_typed = false;
  CHECK(napi_is_typedarray(env, argv[1], &is_typed));
  if (is_typed) {
    napi_typedarray_type type;
    size_t length, offset;
    void* data;
    napi_value buffer;
    CHECK(napi_get_typedarray_info(env, argv[1], &type, &length, &data, &buffer, &offset));
    if (type != napi_uint8_array) {
      napi_throw_type_error(env, NULL, "sha256Update: bytes (Uint8Array) or a string expected");
      return NULL;
    }
    if (length > 0 && evp.update(st->ctx, data, length) != 1) napi_throw_error(env, NULL, "sha256Update failed");
    return NULL;
  }
  int failed = 0;
  size_t len = 0;
  CHECK(napi_get_value_string_utf8(env, argv[1], NULL, 0, &len));
  char* text = string_arg(env, argv[1], 0, &failed);
  if (failed) return NULL;
  if (len > 0 && evp.update(st->ctx, text, len) != 1) napi_throw_error(env, NULL, "sha256Update failed");
  free(text);
  return NULL;
}

// sha256Digest(handle) -> 64 hex digits; the handle takes no more data
static napi_value js_sha256_digest(napi_env env, napi_callback_info info) {
  ARGS(1);
  EXPECT(argc >= 1, "sha256Digest: a handle expected");
  struct sha256_state* st = sha256_arg(env, argv[0], "sha256Digest: a handle from sha256New expected");
  if (st == NULL) return NULL;
  unsigned char md[32];
  unsigned int n = 0;
  st->done = 1;
  if (evp.final(st->ctx, md, &n) != 1 || n != 32) {
    napi_throw_error(env, NULL, "sha256Digest failed");
    return NULL;
  }
  return hex_string(env, md, 32);
}

// randomHex(bytes) -> 2*bytes hex digits from getrandom(2) (temporary names, container ids)
static napi_value js_random_hex(napi_env env, napi_callback_info info) {
  ARGS(1);
  uint32_t n = 0;
  EXPECT(argc >= 1 && napi_get_value_uint32(env, argv[0], &n) == napi_ok && n >= 1 && n <= 256, "randomHex: a byte count from 1 to 256 expected");
  unsigned char bytes[256];
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(bytes + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_errno(env, errno, "getrandom", "");
      return NULL;
    }
    got += (size_t)r;
  }
  return hex_string(env, bytes, n);
}

// ---- a container's pseudo-terminal ----

static int int_arg(napi_env env, napi_value v, int32_t* out) { return napi_get_value_int32(env, v, out) == napi_ok; }

static napi_value int_value(napi_env env, int32_t n) {
  napi_value v;
  return napi_create_int32(env, n, &v) == napi_ok ? v : NULL;
}

// listenUnix(path) -> fd: a non-blocking listening unix socket at path (runc's --console-socket)
static napi_value js_listen_unix(napi_env env, napi_callback_info info) {
  ARGS(1);
  EXPECT(argc >= 1, "listenUnix: a path expected");
  int failed = 0;
  char* path = string_arg(env, argv[0], 0, &failed);
  if (failed) return NULL;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) {
    throw_errno(env, ENAMETOOLONG, "bind", path);
    free(path);
    return NULL;
  }
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(fd, 4) != 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    throw_errno(env, e, fd < 0 ? "socket" : "bind", path);
    free(path);
    return NULL;
  }
  free(path);
  return int_value(env, fd);
}

// acceptUnix(listenFd) -> fd of a connection, or -1 when none is waiting (never blocks)
static napi_value js_accept_unix(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd = -1;
  EXPECT(argc >= 1 && int_arg(env, argv[0], &fd), "acceptUnix: a listening socket's fd expected");
  int conn = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (conn < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return int_value(env, -1);
    throw_errno(env, errno, "accept", "console socket");
    return NULL;
  }
  return int_value(env, conn);
}

// recvFd(connFd) -> the fd sent over the connection (SCM_RIGHTS), or -1 when nothing came yet (never
// blocks); throws ECONNRESET when the peer closed without sending one.
static napi_value js_recv_fd(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd = -1;
  EXPECT(argc >= 1 && int_arg(env, argv[0], &fd), "recvFd: a connected socket's fd expected");
  char byte[256]; // runc sends the pty's name as the data
  struct iovec iov = {.iov_base = byte, .iov_len = sizeof byte};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return int_value(env, -1);
    throw_errno(env, errno, "recvmsg", "console socket");
    return NULL;
  }
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int received;
      memcpy(&received, CMSG_DATA(c), sizeof received);
      return int_value(env, received);
    }
  }
  throw_errno(env, ECONNRESET, "recvmsg", n == 0 ? "console socket (closed without a terminal)" : "console socket (no fd in the message)");
  return NULL;
}

// setWinsize(fd, rows, cols): TIOCSWINSZ on a terminal
static napi_value js_set_winsize(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t fd = -1, rows = 0, cols = 0;
  EXPECT(argc >= 3 && int_arg(env, argv[0], &fd) && int_arg(env, argv[1], &rows) && int_arg(env, argv[2], &cols) &&
             rows >= 0 && rows <= 65535 && cols >= 0 && cols <= 65535,
         "setWinsize: fd, rows and cols expected");
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  if (ioctl(fd, TIOCSWINSZ, &ws) != 0) throw_errno(env, errno, "ioctl TIOCSWINSZ", "terminal");
  return NULL;
}

// setSubreaper(): orphaned descendants (a detached runc's container process) become this process's children
static napi_value js_set_subreaper(napi_env env, napi_callback_info info) {
  (void)info;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) throw_errno(env, errno, "prctl", "PR_SET_CHILD_SUBREAPER");
  return NULL;
}

// waitPid(pid) -> Promise<exit code> (128 + signal number for a killed process), on the thread pool.
// Only for a process libuv does not know (an adopted orphan): libuv reaps its own children itself.
struct wait_task {
  struct task t;
  pid_t pid;
  int code;
};

static void wait_execute(struct task* t) {
  struct wait_task* w = (struct wait_task*)t;
  int status = 0;
  pid_t r;
  do r = waitpid(w->pid, &status, 0);
  while (r < 0 && errno == EINTR);
  if (r < 0) t->error = errno;
  else w->code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
}

static napi_value resolve_wait(napi_env env, struct task* t) { return int_value(env, ((struct wait_task*)t)->code); }

static napi_value js_wait_pid(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t pid = 0;
  EXPECT(argc >= 1 && int_arg(env, argv[0], &pid) && pid > 0, "waitPid: a pid expected");
  struct wait_task* w = calloc(1, sizeof *w);
  char* label = malloc(32);
  if (w == NULL || label == NULL) {
    free(w);
    free(label);
    napi_throw_error(env, NULL, "waitPid: out of memory");
    return NULL;
  }
  snprintf(label, 32, "pid %d", (int)pid);
  w->pid = pid;
  w->t = (struct task){.execute = wait_execute, .resolve = resolve_wait, .destroy = free_plain, .syscall = "waitpid", .path = label};
  return task_start(env, &w->t);
}

// makeRaw(fd) -> the terminal's settings before (a Buffer for restoreTerminal): cfmakeraw(3), as the
// Docker CLI's moby/term MakeRaw (output post-processing off too, which Node's setRawMode keeps on: a
// container's "\r\n" would reach the screen as "\r\r\n")
static napi_value js_make_raw(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd = -1;
  EXPECT(argc >= 1 && int_arg(env, argv[0], &fd), "makeRaw: a terminal's fd expected");
  struct termios before, raw;
  if (tcgetattr(fd, &before) != 0) {
    throw_errno(env, errno, "tcgetattr", "terminal");
    return NULL;
  }
  raw = before;
  cfmakeraw(&raw);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  if (tcsetattr(fd, TCSANOW, &raw) != 0) {
    throw_errno(env, errno, "tcsetattr", "terminal");
    return NULL;
  }
  napi_value saved;
  void* data;
  CHECK(napi_create_buffer_copy(env, sizeof before, &before, &data, &saved));
  return saved;
}

// restoreTerminal(fd, saved): the settings makeRaw returned
static napi_value js_restore_terminal(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd = -1;
  bool is_buffer = false;
  EXPECT(argc >= 2 && int_arg(env, argv[0], &fd) && napi_is_buffer(env, argv[1], &is_buffer) == napi_ok && is_buffer, "restoreTerminal: fd and saved settings expected");
  void* data;
  size_t len;
  CHECK(napi_get_buffer_info(env, argv[1], &data, &len));
  EXPECT(len == sizeof(struct termios), "restoreTerminal: settings from makeRaw expected");
  struct termios saved;
  memcpy(&saved, data, sizeof saved);
  if (tcsetattr(fd, TCSANOW, &saved) != 0) throw_errno(env, errno, "tcsetattr", "terminal");
  return NULL;
}

// markHierarchyTop(path) -> whether the folder now has ext4's "top of a hierarchy" flag (FS_TOPDIR_FL,
// `chattr +T`): the Orlov allocator then places each folder made in it in a block group with free
// inodes and blocks to spare, as it does for folders made at the root, instead of in its parent's group.
// False where the filesystem has no such flag (or it may not be set): it is a placement hint only.
static napi_value js_mark_hierarchy_top(napi_env env, napi_callback_info info) {
  ARGS(1);
  EXPECT(argc >= 1, "markHierarchyTop: a path expected");
  int failed = 0;
  char* path = string_arg(env, argv[0], 0, &failed);
  if (failed) return NULL;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    throw_errno(env, errno, "open", path);
    free(path);
    return NULL;
  }
  int flags = 0;  // an int whatever the macro's type says: the kernel reads and writes an int
  int e = 0;
  const char* call = "ioctl FS_IOC_GETFLAGS";
  if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) e = errno;
  else if ((flags & FS_TOPDIR_FL) == 0) {
    flags |= FS_TOPDIR_FL;
    call = "ioctl FS_IOC_SETFLAGS";
    if (ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0) e = errno;
  }
  close(fd);
  napi_value result = NULL;
  // no flags here, this one refused, or no right to set it (a read-only store fails at its first write)
  if (e == 0 || e == ENOTTY || e == EOPNOTSUPP || e == ENOSYS || e == EINVAL || e == EPERM || e == EACCES || e == EROFS) {
    if (napi_get_boolean(env, e == 0, &result) != napi_ok) result = NULL;
  } else {
    throw_errno(env, e, call, path);
  }
  free(path);
  return result;
}

// Unpacking a layer: its own file, in this translation unit (it uses the task helpers above).
#include "unpack.c"

// Batched copies and content hashes (COPY, the digest walk): their own file, in this translation unit.
#include "fastfiles.c"

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"mount", NULL, js_mount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"umount", NULL, js_umount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"scanDir", NULL, js_scan_dir, NULL, NULL, NULL, napi_enumerable, NULL},
      {"copyFiles", NULL, js_copy_files, NULL, NULL, NULL, napi_enumerable, NULL},
      {"copyPlainFiles", NULL, js_copy_plain_files, NULL, NULL, NULL, napi_enumerable, NULL},
      {"hashFiles", NULL, js_hash_files, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layerScanDir", NULL, js_layer_scan_dir, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readFilesInto", NULL, js_read_files_into, NULL, NULL, NULL, napi_enumerable, NULL},
      {"listXattrs", NULL, js_list_xattrs, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getXattr", NULL, js_get_xattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setXattr", NULL, js_set_xattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256Available", NULL, js_sha256_available, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256New", NULL, js_sha256_new, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256Update", NULL, js_sha256_update, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256Digest", NULL, js_sha256_digest, NULL, NULL, NULL, napi_enumerable, NULL},
      {"randomHex", NULL, js_random_hex, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unpackOpen", NULL, js_unpack_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unpackBatch", NULL, js_unpack_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unpackClose", NULL, js_unpack_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"listenUnix", NULL, js_listen_unix, NULL, NULL, NULL, napi_enumerable, NULL},
      {"acceptUnix", NULL, js_accept_unix, NULL, NULL, NULL, napi_enumerable, NULL},
      {"recvFd", NULL, js_recv_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setWinsize", NULL, js_set_winsize, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setSubreaper", NULL, js_set_subreaper, NULL, NULL, NULL, napi_enumerable, NULL},
      {"waitPid", NULL, js_wait_pid, NULL, NULL, NULL, napi_enumerable, NULL},
      {"makeRaw", NULL, js_make_raw, NULL, NULL, NULL, napi_enumerable, NULL},
      {"restoreTerminal", NULL, js_restore_terminal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"markHierarchyTop", NULL, js_mark_hierarchy_top, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
