// Many small files in one call: COPY's files into a folder it has just made, and the digest walk's
// content hashes. Both did several promises (thread-pool round trips) per file in JavaScript, which
// cost more than the system calls themselves on a 20,000-file COPY --from (an npm install's output).
// Included by tsbuild_native.c: it uses the task helpers, copy_bytes, string_array_arg, strings and the
// EVP functions defined there.

// The timespec Node's fs.lutimes(path, date) sets for a Date of `ms` milliseconds: ms / 1000 as a
// double seconds value, split by libuv (uv__fs_to_timespec: whole seconds, then the fraction times 1e9,
// cut to microseconds). A copy made here then has exactly the times builder/copy/metadata.ts gives.
static struct timespec node_date_timespec(double ms) {
  double time = ms / 1000;
  struct timespec ts;
  ts.tv_sec = (time_t)time;
  ts.tv_nsec = (long)((time - (double)ts.tv_sec) * 1e9);
  ts.tv_nsec -= ts.tv_nsec % 1000;
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000L;
    ts.tv_sec -= 1;
  }
  return ts;
}

// The source's extended attributes set on out, in the source's order (overlayfs's own aside; a name
// the target's filesystem cannot hold is skipped, as metadata.ts's writeXattrs does). 0 or an errno.
static int copy_xattrs(int in, int out) {
  ssize_t len = flistxattr(in, NULL, 0);
  if (len < 0) return errno == ENOTSUP ? 0 : errno;
  if (len == 0) return 0;
  char* names = malloc((size_t)len);
  if (names == NULL) return ENOMEM;
  len = flistxattr(in, names, (size_t)len);
  int e = len < 0 ? errno : 0; // ERANGE: one was added meanwhile; the JavaScript path takes the file
  char* value = NULL;
  for (ssize_t at = 0; e == 0 && at < len;) {
    const char* name = names + at;
    at += (ssize_t)strnlen(name, (size_t)(len - at)) + 1;
    if (strncmp(name, "trusted.overlay.", 16) == 0) continue;
    ssize_t vlen = fgetxattr(in, name, NULL, 0);
    if (vlen < 0) {
      if (errno != ENODATA) e = errno; // ENODATA: removed meanwhile
      continue;
    }
    char* grown = realloc(value, (size_t)vlen + 1);
    if (grown == NULL) {
      e = ENOMEM;
      break;
    }
    value = grown;
    vlen = fgetxattr(in, name, value, (size_t)vlen);
    if (vlen < 0) {
      if (errno != ENODATA) e = errno;
      continue;
    }
    if (fsetxattr(out, name, value, (size_t)vlen, 0) != 0 && errno != ENOTSUP) e = errno;
  }
  free(value);
  free(names);
  return e;
}

static int copy_plain_one(const char* source, const char* target, const double* meta) {
  int in = open(source, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0) return errno;
  int out = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) {
    int e = errno;
    close(in);
    return e;
  }
  int e = 0;
  if (ioctl(out, FICLONE, in) != 0) e = copy_bytes(in, out);
  if (e == 0) e = copy_xattrs(in, out);
  struct timespec times[2] = {node_date_timespec(meta[3]), node_date_timespec(meta[4])};
  if (e == 0 && fchown(out, (uid_t)meta[0], (gid_t)meta[1]) != 0) e = errno;
  if (e == 0 && fchmod(out, (mode_t)meta[2]) != 0) e = errno;
  if (e == 0 && futimens(out, times) != 0) e = errno;
  if (close(out) != 0 && e == 0) e = errno;
  close(in);
  if (e != 0) unlink(target);
  return e;
}

static void copy_plain_execute(struct task* t) {
  struct copy_task* c = (struct copy_task*)t;
  for (size_t i = 0; i < c->count; i++) c->results[i] = copy_plain_one(c->sources[i], c->targets[i], c->meta + 5 * i);
}

// copyPlainFiles(sources: string[], targets: string[], meta: Float64Array) -> Promise<Int32Array>
// Each regular file to a new file (O_EXCL: never over an existing entry), a reflink where the
// filesystem has them, else copy_file_range; then its extended attributes, owner, mode and times, in
// metadata.ts's order (chown drops security.capability as it does there; chmod after chown, which may
// clear setuid), the times as Node sets a Date's (node_date_timespec). meta: uid, gid, mode, atime ms,
// mtime ms per file. The result holds each file's errno (0: copied); a failed copy leaves no target.
static napi_value js_copy_plain_files(napi_env env, napi_callback_info info) {
  ARGS(3);
  return start_copy_task(env, argv, argc, 0, copy_plain_execute, "copyPlainFiles");
}

// hashFiles(paths: string[]) -> Promise<{ hex: string[], keys: string[], status: Int32Array }>
// The sha256 of each regular file's bytes (opened O_NOFOLLOW: a symlink swapped in is not followed),
// with the digest cache's stat key of the file before the read ("dev:ino:size:mtimeNs:ctimeNs", as
// scanDir makes it). status: 0 the stat was the same after the read (the hash belongs to that key),
// -1 it changed meanwhile (use the hash, do not remember it), else the errno (hex and key are "").
struct hash_task {
  struct task t;
  size_t count;
  char** paths;
  struct strings hex, keys;
  int32_t* status;
};

static void hash_destroy(struct task* t) {
  struct hash_task* h = (struct hash_task*)t;
  for (size_t i = 0; i < h->count; i++) free(h->paths[i]);
  free(h->paths);
  free(h->hex.data);
  free(h->keys.data);
  free(h->status);
  free(h);
}

static void stat_key(const struct stat* st, char* key, size_t size) {
  snprintf(key, size, "%llu:%llu:%lld:%llu:%llu", (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
           (long long)st->st_size,
           (unsigned long long)st->st_mtim.tv_sec * 1000000000ULL + (unsigned long long)st->st_mtim.tv_nsec,
           (unsigned long long)st->st_ctim.tv_sec * 1000000000ULL + (unsigned long long)st->st_ctim.tv_nsec);
}

// One file's digest into hex (65 bytes) and key; the status as hashFiles gives it.
static int hash_one(const char* path, EVP_MD_CTX* ctx, unsigned char* buf, size_t bufsize, char* hex, char* key, size_t keysize) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat before, after;
  int e = 0;
  if (fstat(fd, &before) != 0) e = errno;
  if (e == 0 && evp.init(ctx, evp.sha256(), NULL) != 1) e = EIO;
  while (e == 0) {
    ssize_t n = read(fd, buf, bufsize);
    if (n == 0) break;
    if (n < 0) {
      if (errno != EINTR) e = errno;
      continue;
    }
    if (evp.update(ctx, buf, (size_t)n) != 1) e = EIO;
  }
  unsigned char md[32];
  unsigned int mdlen = 0;
  if (e == 0 && (evp.final(ctx, md, &mdlen) != 1 || mdlen != 32)) e = EIO;
  if (e == 0 && fstat(fd, &after) != 0) e = errno;
  close(fd);
  if (e != 0) return e;
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    hex[2 * i] = digits[md[i] >> 4];
    hex[2 * i + 1] = digits[md[i] & 15];
  }
  hex[64] = '\0';
  char again[128];
  stat_key(&before, key, keysize);
  stat_key(&after, again, sizeof again);
  return strcmp(key, again) == 0 ? 0 : -1;
}

static void hash_execute(struct task* t) {
  struct hash_task* h = (struct hash_task*)t;
  size_t bufsize = 1 << 16;
  unsigned char* buf = malloc(bufsize);
  EVP_MD_CTX* ctx = evp.ctx_new();
  if (buf == NULL || ctx == NULL) {
    t->error = ENOMEM;
  } else {
    for (size_t i = 0; i < h->count && t->error == 0; i++) {
      char hex[65] = "", key[128] = "";
      h->status[i] = hash_one(h->paths[i], ctx, buf, bufsize, hex, key, sizeof key);
      if (h->status[i] > 0) hex[0] = key[0] = '\0';
      if (strings_add(&h->hex, hex) != 0 || strings_add(&h->keys, key) != 0) t->error = ENOMEM;
    }
  }
  if (ctx != NULL) evp.ctx_free(ctx);
  free(buf);
}

static napi_value hash_resolve(napi_env env, struct task* t) {
  struct hash_task* h = (struct hash_task*)t;
  napi_value hex = strings_to_array(env, &h->hex, h->count);
  napi_value keys = strings_to_array(env, &h->keys, h->count);
  napi_value result, buffer, status;
  void* data = NULL;
  if (hex == NULL || keys == NULL || napi_create_arraybuffer(env, h->count * sizeof(int32_t), &data, &buffer) != napi_ok) return NULL;
  if (h->count > 0) memcpy(data, h->status, h->count * sizeof(int32_t));
  if (napi_create_typedarray(env, napi_int32_array, h->count, buffer, 0, &status) != napi_ok ||
      napi_create_object(env, &result) != napi_ok || napi_set_named_property(env, result, "hex", hex) != napi_ok ||
      napi_set_named_property(env, result, "keys", keys) != napi_ok ||
      napi_set_named_property(env, result, "status", status) != napi_ok)
    return NULL;
  return result;
}

static napi_value js_hash_files(napi_env env, napi_callback_info info) {
  ARGS(1);
  uint32_t n = 0;
  EXPECT(argc >= 1 && napi_get_array_length(env, argv[0], &n) == napi_ok, "hashFiles: an array of paths expected");
  if (!evp_ready()) {
    napi_throw_error(env, NULL, "hashFiles: OpenSSL's EVP functions are not in this process");
    return NULL;
  }
  struct hash_task* h = calloc(1, sizeof *h);
  if (h == NULL) {
    napi_throw_error(env, NULL, "hashFiles: out of memory");
    return NULL;
  }
  h->t = (struct task){.execute = hash_execute, .resolve = hash_resolve, .destroy = hash_destroy, .syscall = "hash", .path = NULL};
  h->paths = string_array_arg(env, argv[0], n);
  if (h->paths == NULL) { // an error is thrown already
    free(h);
    return NULL;
  }
  h->count = n;
  h->status = calloc(n == 0 ? 1 : n, sizeof(int32_t));
  h->t.path = strdup("files");
  if (h->status == NULL || h->t.path == NULL) {
    free(h->t.path);
    h->t.path = NULL;
    hash_destroy(&h->t);
    napi_throw_error(env, NULL, "hashFiles: out of memory");
    return NULL;
  }
  return task_start(env, &h->t);
}

// layerScanDir(path) -> { names: string[], meta: Float64Array }
// A layer writer's look at one folder of an upper dir (runtime/layer/scan.ts), synchronously: every
// entry (not . and ..) in readdir order with LAYER_FIELDS numbers each: st_mode, uid, gid, size, mtime
// in whole seconds (truncated toward zero, as write.ts divides a BigInt of nanoseconds), nlink, dev,
// ino, rdev, and flags: 1 the entry has an extended attribute other than overlayfs's own, 2 it is a
// folder whose trusted.overlay.opaque is "y". An entry that vanished between readdir and lstat is left out.
#define LAYER_FIELDS 10
static napi_value js_layer_scan_dir(napi_env env, napi_callback_info info) {
  ARGS(1);
  EXPECT(argc >= 1, "layerScanDir: a path expected");
  int failed = 0;
  char* path = string_arg(env, argv[0], 0, &failed);
  if (failed) return NULL;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* dir = fd < 0 ? NULL : fdopendir(fd);
  if (dir == NULL) {
    int e = errno;
    if (fd >= 0) close(fd);
    throw_errno(env, e, "scandir", path);
    free(path);
    return NULL;
  }
  struct strings names = {0};
  double* meta = NULL;
  size_t count = 0, cap = 0;
  int e = 0;
  const char* call = "scandir";
  char* full = NULL;
  size_t base = strlen(path);
  for (;;) {
    errno = 0;
    struct dirent* d = readdir(dir);
    if (d == NULL) {
      e = errno;
      break;
    }
    if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0) continue;
    struct stat st;
    if (fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      e = errno;
      call = "lstat";
      break;
    }
    char* grown = realloc(full, base + strlen(d->d_name) + 2);
    if (grown == NULL) {
      e = ENOMEM;
      break;
    }
    full = grown;
    sprintf(full, "%s/%s", path, d->d_name);
    double flags = 0;
    int x = has_xattrs(full);
    if (x < 0) {
      e = -x;
      call = "llistxattr";
      break;
    }
    if (x > 0) flags += 1;
    if (S_ISDIR(st.st_mode)) {
      char v[2];
      ssize_t n = lgetxattr(full, "trusted.overlay.opaque", v, sizeof v);
      if (n == 1 && v[0] == 'y') flags += 2;
    }
    if (count == cap) {
      size_t ncap = cap == 0 ? 64 : cap * 2;
      double* more = realloc(meta, ncap * LAYER_FIELDS * sizeof *more);
      if (more == NULL) {
        e = ENOMEM;
        break;
      }
      meta = more;
      cap = ncap;
    }
    long long sec = (long long)st.st_mtim.tv_sec;
    if (sec < 0 && st.st_mtim.tv_nsec > 0) sec += 1; // toward zero, as BigInt division
    double* m = meta + count * LAYER_FIELDS;
    m[0] = st.st_mode;
    m[1] = st.st_uid;
    m[2] = st.st_gid;
    m[3] = (double)st.st_size;
    m[4] = (double)sec;
    m[5] = (double)st.st_nlink;
    m[6] = (double)st.st_dev;
    m[7] = (double)st.st_ino;
    m[8] = (double)st.st_rdev;
    m[9] = flags;
    if (strings_add(&names, d->d_name) != 0) {
      e = ENOMEM;
      break;
    }
    count++;
  }
  closedir(dir);
  free(full);
  napi_value result = NULL, buffer, array, js_names;
  void* data = NULL;
  if (e != 0) {
    throw_errno(env, e, call, path);
  } else if ((js_names = strings_to_array(env, &names, count)) == NULL ||
             napi_create_arraybuffer(env, count * LAYER_FIELDS * sizeof(double), &data, &buffer) != napi_ok ||
             napi_create_typedarray(env, napi_float64_array, count * LAYER_FIELDS, buffer, 0, &array) != napi_ok ||
             napi_create_object(env, &result) != napi_ok || napi_set_named_property(env, result, "names", js_names) != napi_ok ||
             napi_set_named_property(env, result, "meta", array) != napi_ok) {
    result = NULL;
    napi_throw_error(env, NULL, "layerScanDir: out of memory");
  } else if (count > 0) {
    memcpy(data, meta, count * LAYER_FIELDS * sizeof(double));
  }
  free(meta);
  free(names.data);
  free(path);
  return result;
}

// readFilesInto(paths: string[], sizes: Float64Array) -> Buffer
// The bytes of each regular file (O_NOFOLLOW), one after another, synchronously: the layer writer's
// small files, read in one call instead of four per file. Throws if a file cannot be read or does not
// hold exactly its size (it changed since the scan: the caller then reads it the usual way).
static napi_value js_read_files_into(napi_env env, napi_callback_info info) {
  ARGS(2);
  uint32_t n = 0;
  bool is_typed = false;
  napi_typedarray_type type;
  size_t len = 0;
  void* sizes_data = NULL;
  EXPECT(argc >= 2 && napi_get_array_length(env, argv[0], &n) == napi_ok && napi_is_typedarray(env, argv[1], &is_typed) == napi_ok &&
             is_typed && napi_get_typedarray_info(env, argv[1], &type, &len, &sizes_data, NULL, NULL) == napi_ok &&
             type == napi_float64_array && len == n,
         "readFilesInto: paths and a Float64Array of as many sizes expected");
  const double* sizes = sizes_data;
  double total = 0;
  for (uint32_t i = 0; i < n; i++) total += sizes[i];
  EXPECT(total <= (double)(1 << 30), "readFilesInto: at most 1 GiB at once");
  napi_value out;
  void* bytes = NULL;
  CHECK(napi_create_buffer(env, (size_t)total, &bytes, &out));
  size_t at = 0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    int failed = 0;
    CHECK(napi_get_element(env, argv[0], i, &item));
    char* path = string_arg(env, item, 0, &failed);
    if (failed) return NULL;
    size_t want = (size_t)sizes[i];
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int e = fd < 0 ? errno : 0;
    size_t got = 0;
    while (e == 0 && got < want) {
      ssize_t r = read(fd, (char*)bytes + at + got, want - got);
      if (r < 0) {
        if (errno != EINTR) e = errno;
      } else if (r == 0) {
        e = EIO; // shorter than its size
      } else {
        got += (size_t)r;
      }
    }
    char probe;
    if (e == 0 && read(fd, &probe, 1) != 0) e = EIO; // longer than its size (or unreadable)
    if (fd >= 0) close(fd);
    if (e != 0) {
      throw_errno(env, e, "read", path);
      free(path);
      return NULL;
    }
    free(path);
    at += want;
  }
  return out;
}
