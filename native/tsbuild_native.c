// tsbuild's native helpers, as a Node-API addon (built by `make build` with the system's C compiler).
//
// Two things Node cannot do cheaply itself:
//  - mount(2) and umount2(2): spawning util-linux's mount/umount cost 3-5 ms each (fork of a large
//    process, exec, libmount) where the system call takes 0.2-0.5 ms; a RUN or COPY step does two.
//  - extended attributes (llistxattr, lgetxattr, lsetxattr: never following a symlink), which spared
//    loading a second addon package on every build that writes a layer (6 ms and a module lookup);
//  - scanning a folder with the stat of every entry in one call: lstatSync per file is a round trip
//    into C++ and a dozen BigInts per file, most of a 20,000-file context's no-op rebuild.
// Errors come back as JS Errors with `code` (the errno name, as Node's fs errors) and `errno`.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
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
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) {
    napi_throw_type_error(env, NULL, "mount: 6 arguments expected");
    return NULL;
  }
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

// umount(target, flags)
static napi_value js_umount(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "umount: 2 arguments expected");
    return NULL;
  }
  int failed = 0;
  char* target = string_arg(env, argv[0], 0, &failed);
  if (failed) return NULL;
  int32_t flags = 0;
  if (napi_get_value_int32(env, argv[1], &flags) != napi_ok) {
    free(target);
    napi_throw_type_error(env, NULL, "umount: flags must be a number");
    return NULL;
  }
  if (umount2(target, flags) != 0) throw_errno(env, errno, "umount", target);
  free(target);
  return NULL;
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
  napi_async_work work;
  napi_deferred deferred;
  char* path;
  struct strings names, keys;
  uint32_t* modes;
  size_t count, cap;
  int error; // errno of the failure, 0 if none
};

static void scan_free(struct scan* sc) {
  free(sc->path);
  free(sc->names.data);
  free(sc->keys.data);
  free(sc->modes);
  free(sc);
}

// Runs on a thread-pool thread: no N-API calls here.
static void scan_execute(napi_env env, void* data) {
  (void)env;
  struct scan* sc = data;
  int fd = open(sc->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* dir = fd < 0 ? NULL : fdopendir(fd);
  if (dir == NULL) {
    sc->error = errno;
    if (fd >= 0) close(fd);
    return;
  }
  for (;;) {
    errno = 0;
    struct dirent* d = readdir(dir);
    if (d == NULL) {
      sc->error = errno;
      break;
    }
    if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0) continue;
    struct stat st;
    if (fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      sc->error = errno;
      break;
    }
    if (sc->count == sc->cap) {
      size_t cap = sc->cap == 0 ? 64 : sc->cap * 2;
      uint32_t* grown = realloc(sc->modes, cap * sizeof *grown);
      if (grown == NULL) {
        sc->error = ENOMEM;
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
      sc->error = ENOMEM;
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

static napi_value scan_result(napi_env env, const struct scan* sc) {
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

static void scan_complete(napi_env env, napi_status status, void* data) {
  struct scan* sc = data;
  napi_value value = NULL;
  int failed = 1;
  if (status == napi_cancelled) {
    value = errno_error(env, ECANCELED, "scandir", sc->path);
  } else if (sc->error != 0) {
    value = errno_error(env, sc->error, "scandir", sc->path);
  } else {
    value = scan_result(env, sc);
    failed = value == NULL;
    if (value == NULL) value = errno_error(env, ENOMEM, "scandir", sc->path);
  }
  if (value != NULL) {
    if (failed) napi_reject_deferred(env, sc->deferred, value);
    else napi_resolve_deferred(env, sc->deferred, value);
  }
  napi_delete_async_work(env, sc->work);
  scan_free(sc);
}

static napi_value js_scan_dir(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "scanDir: a path expected");
    return NULL;
  }
  struct scan* sc = calloc(1, sizeof *sc);
  if (sc == NULL) {
    napi_throw_error(env, NULL, "scanDir: out of memory");
    return NULL;
  }
  int failed = 0;
  sc->path = string_arg(env, argv[0], 0, &failed);
  if (failed) {
    scan_free(sc);
    return NULL;
  }
  napi_value promise, name;
  if (napi_create_promise(env, &sc->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "tsbuild.scanDir", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, scan_execute, scan_complete, sc, &sc->work) != napi_ok) {
    scan_free(sc);
    napi_throw_error(env, NULL, "scanDir: cannot start the scan");
    return NULL;
  }
  if (napi_queue_async_work(env, sc->work) != napi_ok) {
    napi_delete_async_work(env, sc->work);
    scan_free(sc);
    napi_throw_error(env, NULL, "scanDir: cannot queue the scan");
    return NULL;
  }
  return promise;
}

// listXattrs(path) -> string[]: the names of the entry's extended attributes (the link's own for a symlink).
static napi_value js_list_xattrs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
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
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "getXattr: a path and a name expected");
    return NULL;
  }
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
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is_buffer = false;
  if (argc < 3 || napi_is_buffer(env, argv[2], &is_buffer) != napi_ok || !is_buffer) {
    napi_throw_type_error(env, NULL, "setXattr: a path, a name and a Buffer expected");
    return NULL;
  }
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

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"mount", NULL, js_mount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"umount", NULL, js_umount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"scanDir", NULL, js_scan_dir, NULL, NULL, NULL, napi_enumerable, NULL},
      {"listXattrs", NULL, js_list_xattrs, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getXattr", NULL, js_get_xattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setXattr", NULL, js_set_xattr, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
