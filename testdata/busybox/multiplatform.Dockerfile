# The demo's busybox:latest for two platforms: each platform's image is the busybox imported for it
# (busybox:amd64, busybox:arm64), so one tag names an index of both. TARGETARCH is not declared with
# ARG: in BuildKit 0.13 a global `ARG TARGETARCH` without a value empties it for FROM.
FROM busybox:${TARGETARCH}
