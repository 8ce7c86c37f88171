#!/bin/sh
# Builds a small, deterministic busybox root filesystem tar from Debian's busybox-static
# (/bin/busybox): the offline base image for tests and the demo.
# Usage: make-rootfs.sh OUT.tar   (same input binary => byte-identical tar)
set -eu
out=${1:?usage: make-rootfs.sh OUT.tar}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "make-rootfs.sh: $busybox not found (apt-get install busybox-static)" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT INT TERM
umask 022
mkdir -p "$stage/bin" "$stage/etc" "$stage/root" "$stage/sbin" "$stage/tmp" \
  "$stage/usr/bin" "$stage/usr/sbin" "$stage/var"
cp "$busybox" "$stage/bin/busybox"
chmod 0755 "$stage/bin/busybox"
# Every applet as a symlink in /bin (like the official busybox image's layout).
for applet in $("$stage/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$stage/bin/$applet"
done
printf '%s\n' \
  'root:x:0:0:root:/root:/bin/sh' \
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' \
  'app:x:1000:1000:app:/home/app:/bin/sh' >"$stage/etc/passwd"
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' 'app:x:1000:' >"$stage/etc/group"
chmod 0644 "$stage/etc/passwd" "$stage/etc/group"
chmod 0755 "$stage" "$stage/bin" "$stage/etc" "$stage/root" "$stage/sbin" \
  "$stage/usr" "$stage/usr/bin" "$stage/usr/sbin" "$stage/var"
chmod 1777 "$stage/tmp"

tmp_out="$out.tmp.$$"
LC_ALL=C tar --format=gnu --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
  -C "$stage" -cf "$tmp_out" .
mv "$tmp_out" "$out"
