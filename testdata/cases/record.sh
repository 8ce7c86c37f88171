#!/bin/sh
# Records BuildKit's result for test cases as expected.json (needs the oracle: dockerd on
# /tmp/anchors/docker.sock with busybox:local, see /work/shared/oracle/README.md; the suite does not).
# usage: record.sh [CASE_DIR...]     default: every case folder beside this script
#        record.sh --public          the public cases (../shared/cases) into public-expected/NAME.json
# expected.json = imgtree.py's summary of the final image (after the whole sequence) without tags
# (its history, created_by and empty_layer per entry, is compared exactly), plus "expected_cache" (per
# build of the sequence, BuildKit's cached/missed steps per stage) or "expect_fail" with BuildKit's
# exit code.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
oracle=${ORACLE_DIR:-/work/shared/oracle}
[ -f "$oracle/difftest.py" ] || { echo "record.sh: $oracle/difftest.py not found" >&2; exit 1; }
public=""
if [ "${1:-}" = "--public" ]; then
  shift; public=1
  set -- "$here/../../../shared/cases"/*/
  mkdir -p "$here/public-expected"
elif [ $# -eq 0 ]; then
  set -- "$here"/*/
fi
for case in "$@"; do
  case=${case%/}
  name=$(basename "$case")
  [ -f "$case/Dockerfile" ] || continue
  # BuildKit 0.13 lacks what these cases test (COPY --parents, --exclude): their expected.json is written
  # from the Dockerfile reference and BuildKit's test assertions by expected-from-reference.py
  if grep -q '"expected_from"' "$case/case.json" 2>/dev/null; then
    echo "skipped $name: expected.json is written by expected-from-reference.py" >&2; continue
  fi
  if [ -n "$public" ]; then out="$here/public-expected/$name.json"; else out="$case/expected.json"; fi
  python3 - "$oracle" "$case" "$out" <<'PY'
import fcntl, json, os, shutil, subprocess, sys, tempfile
oracle, case_dir, out = sys.argv[1:4]
# difftest.py runs (of other sessions too) take turns case by case on this lock: each empties BuildKit's
# cache. A caller that holds it already (`flock LOCKFILE record...` hands us its descriptor) is not
# waited for: a second open of the file would wait for that caller's lock forever.
LOCK = "/tmp/anchors/difftest.lock"
inherited = any(os.path.realpath(f"/proc/self/fd/{fd}") == LOCK for fd in os.listdir("/proc/self/fd"))
if not inherited:
    lock = open(LOCK, "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
sys.path.insert(0, oracle)
import difftest
from imgtree import summarize
case = difftest.load_case(case_dir)
name = os.path.basename(os.path.normpath(case_dir))
if case.get("oracle_client") == "buildx-0.13":
    # The context as BuildKit 0.13's own-era client sends it (the 20.10 CLI uses 2020's fsutil:
    # testdata/oracle-differences.md): the builds go through buildx 0.13 (Debian trixie's docker-buildx,
    # unpacked: `apt-get download docker-buildx` from trixie, `dpkg -x`), named by $BUILDX.
    buildx = os.environ.get("BUILDX", "")
    if not os.access(buildx, os.X_OK):
        raise SystemExit(f"{name}: recorded with buildx 0.13: set BUILDX to its docker-buildx binary")
    plain_sh = difftest.sh
    def sh(cmd, cwd=None, env=None, check=True):
        if cmd[:2] == difftest.DOCKER + ["build"]:
            cmd = [buildx, "build"] + cmd[2:]
        return plain_sh(cmd, cwd=cwd, env=env, check=check)
    difftest.sh = sh
difftest.sh(difftest.DOCKER + ["builder", "prune", "-af"], check=False)
tag = f"record-tsbuild-{os.getpid()}:{name.lower()}"
work = tempfile.mkdtemp(prefix="record-")
result = {}
try:
    shutil.copytree(case_dir, work, dirs_exist_ok=True, symlinks=True)
    pattern = []
    for step in case["sequence"]:
        if step.get("run"):
            subprocess.run(["bash", "-c", step["run"]], cwd=work, check=True)
        rc, steps, output, _ = difftest.oracle_build(work, case, step, tag)
        if rc != 0:
            if not case.get("expect_fail"):
                raise SystemExit(f"{name}: BuildKit failed unexpectedly:\n{output[-2000:]}")
            result = {"expect_fail": True, "oracle_rc": rc, "oracle_output_tail": output.strip().splitlines()[-3:]}
            break
        pattern.append({k: [[kw, c] for kw, c in v] for k, v in difftest.cache_pattern(steps).items()})
    else:
        if case.get("expect_fail"):
            raise SystemExit(f"{name}: expect_fail but BuildKit succeeded")
        tar = os.path.join(work, ".oracle.tar")
        difftest.sh(difftest.DOCKER + ["save", tag, "-o", tar])
        result = summarize(tar)
        result.pop("tags", None)
        result["expected_cache"] = pattern
        difftest.sh(difftest.DOCKER + ["rmi", tag], check=False)
finally:
    shutil.rmtree(work, ignore_errors=True)
with open(out, "w") as f:
    json.dump(result, f, indent=1, sort_keys=True)
    f.write("\n")
print(f"recorded {name} -> {out}")
PY
done
