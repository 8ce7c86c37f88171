#!/bin/sh
# Records BuildKit 0.13's result (with --platform linux/arm64) for the cases beside this script as
# expected.json, in testdata/cases/record.sh's shape (imgtree.py's summary without tags). Needs the
# oracle (dockerd on /tmp/anchors/docker.sock, see /work/shared/oracle/README.md), the emulation
# `make test` sets up, and .tmp/busybox-arm64 (`make test` makes it): the arm64 busybox is imported
# into the oracle's store as busybox-arm64:local with the changes busybox:local has.
# usage: testdata/platform/record.sh [CASE_DIR...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
oracle=${ORACLE_DIR:-/work/shared/oracle}
export DOCKER_HOST=unix:///tmp/anchors/docker.sock DOCKER_BUILDKIT=1
docker=/usr/bin/docker
[ $# -gt 0 ] || set -- "$here"/*/
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
BUSYBOX="$repo/.tmp/busybox-arm64/bin/busybox" "$repo/testdata/busybox/make-rootfs.sh" "$tmp/rootfs.tar"
$docker rmi -f busybox-arm64:local >/dev/null 2>&1 || true
$docker import --platform linux/arm64 -c 'CMD ["sh"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$tmp/rootfs.tar" busybox-arm64:local >/dev/null
for case in "$@"; do
  case=${case%/}; name=$(basename "$case")
  [ -f "$case/Dockerfile" ] || continue
  tag="record-tsbuild-platform-$$:$name"
  # difftest.py runs take turns on this lock (each empties BuildKit's cache)
  flock /tmp/anchors/difftest.lock sh -c '
    '"$docker"' builder prune -af >/dev/null
    '"$docker"' build -q --network=none --platform linux/arm64 -t "$1" -f "$2/Dockerfile" "$2/ctx" >/dev/null
    '"$docker"' save "$1" -o "$3/image.tar"
    '"$docker"' rmi "$1" >/dev/null' - "$tag" "$case" "$tmp"
  python3 - "$oracle" "$tmp/image.tar" "$case/expected.json" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
from imgtree import summarize
result = summarize(sys.argv[2])
result.pop("tags", None)
with open(sys.argv[3], "w") as f:
    json.dump(result, f, indent=1, sort_keys=True)
    f.write("\n")
PY
  echo "recorded $name -> $case/expected.json"
done
