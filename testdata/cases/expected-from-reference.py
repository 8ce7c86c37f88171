#!/usr/bin/env python3
"""Writes expected.json for the cases BuildKit 0.13 (the oracle) cannot build: `COPY --parents` and
`COPY/ADD --exclude` came with the dockerfile 1.7 labs channel (GA in 1.20 and 1.19), which 0.13's
built-in frontend refuses (`unknown flag`). So their expected results are not recorded but written here,
from the Dockerfile reference (frontend/dockerfile/docs/reference.md, "COPY --parents", "COPY --exclude")
and the assertions of the BuildKit tests each case ports (its case.json "source"); each case's NOTES.md
says which assertion gives which path. The shape is record.sh's (imgtree.py's summary of the image):
the merged files (every path of the final image, with type, mode, owner, size and sha256), the config,
the history and, for a sequence of builds, the cache decisions per build.

Rules used for what the assertions do not spell out (each as BuildKit's convert_copy.go / fsutil copy do):
folders made by COPY or WORKDIR, and context folders (the test runner gives case folders 0755 and files
0644), are 0755 and files 0644, owned 0:0; symlinks 0777; a FROM scratch image's config has the default
PATH and WorkingDir "/"; every COPY and a WORKDIR make a layer; history is `COPY [--parents] SRC... DEST
# buildkit` (--exclude and --from are not written) and `WORKDIR /dir`.

usage: expected-from-reference.py   (rewrites the expected.json of every case listed below)
"""
import hashlib, json, os

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]


def tree(lines):
    """'d /a' a folder, 'f /a/b TEXT' a file holding TEXT (\\n for newlines), 'l /a/c TARGET' a symlink."""
    files = {}
    for line in lines:
        kind, path, *rest = line.split(" ", 2)
        e = {"gid": 0, "uid": 0}
        if kind == "d":
            e.update(type="dir", mode="0o755")
        elif kind == "f":
            data = (rest[0] if rest else "").replace("\\n", "\n").encode()
            e.update(type="file", mode="0o644", size=len(data), sha256=hashlib.sha256(data).hexdigest())
        elif kind == "l":
            e.update(type="symlink", mode="0o777", link=rest[0])
        else:
            raise SystemExit(f"bad line {line!r}")
        files[path] = e
    return files


def image(files, history, workdir="/", cache=None):
    layers = sum(1 for h in history if not h.get("empty_layer"))
    out = {
        "architecture": "amd64", "os": "linux",
        "config": {"Env": DEFAULT_ENV, "WorkingDir": workdir},
        "diff_ids": layers, "layers": layers,
        "files": tree(files),
        "history": [{"created_by": h["created_by"], "empty_layer": bool(h.get("empty_layer"))} for h in history],
        "expected_cache": cache or [],
    }
    return out


def copies(*texts):
    return [{"created_by": f"{t} # buildkit"} for t in texts]


# testCopyParents: /foo1/foo2/bar = testing; /test/foo1/foo2/bar = testing, /test/foo1/foo2/baz = testing2
COPY_PARENTS = image([
    "d /foo1", "d /foo1/foo2", "f /foo1/foo2/bar testing",
    "d /test", "d /test/foo1", "d /test/foo1/foo2", "f /test/foo1/foo2/bar testing", "f /test/foo1/foo2/baz testing2",
], copies("COPY --parents foo1/foo2/bar /") + [{"created_by": "WORKDIR /test"}] + copies("COPY --parents foo1/foo2/ba* ."), workdir="/test")

# testCopyRelativeParents: each target's /out, copied into one scratch image under the target's name
def under(prefix, lines):
    """The same entries below the folder `prefix`."""
    out = []
    for line in lines:
        kind, path, *rest = line.split(" ", 2)
        out.append(" ".join([kind, prefix + path, *rest]))
    return out


def out_tree(prefix, lines):
    return [f"d {prefix}"] + under(prefix, lines)


C_D = ["d /c", "d /c/d", "d /c/d/e", "f /c/d/e/bay", "f /c/d/foo"]
TEST_C_D = ["d /test", "d /test/a", "d /test/a/b", "d /test/a/b/c", "d /test/a/b/c/d", "d /test/a/b/c/d/e",
            "f /test/a/b/c/d/e/bay", "f /test/a/b/c/d/foo"]
RELATIVE = image(
    out_tree("/middle", C_D)
    + out_tree("/end", TEST_C_D)
    + out_tree("/start", TEST_C_D)
    + out_tree("/double", ["d /b"] + under("/b", C_D))
    + out_tree("/wildcard", ["d /b"] + under("/b", C_D) + ["d /b2", "d /b2/c", "d /b2/c/d", "d /b2/c/d/e", "f /b2/c/d/e/bar"])
    + out_tree("/doublewildcard", ["d /c", "d /c/d", "d /c/d/e", "f /c/d/e/bay", "f /c/d/e/bar"])
    + out_tree("/doubleinputs", ["d /d", "d /d/e", "f /d/e/baz", "d /d/e2", "f /d/e2/baz",
                                 "d /c", "d /c/d", "d /c/d/e", "f /c/d/e/bar"]),
    copies(*(f"COPY /out /{t}" for t in ["middle", "end", "start", "double", "wildcard", "doublewildcard", "doubleinputs"])),
)

# testCopyParentsMissingDirectory (the targets that build)
MISSING = image(
    out_tree("/normal", TEST_C_D)
    + out_tree("/withpivot", C_D)
    + ["d /wildcard-nonexistent", "d /wildcard-afterpivot"],
    copies(*(f"COPY /out /{t}" for t in ["normal", "withpivot", "wildcard-nonexistent", "wildcard-afterpivot"])),
)

# testExcludedFilesOnCopy: its table, files marked excluded absent, the others with their content
# (a symlink's "content" is its target); builder6/6 is an empty folder.
EXCLUDED_FILES = image([
    "d /builder1", "d /builder1/1",
    "d /builder1/1/dir1", "f /builder1/1/dir1/file-102.txt 3",
    "d /builder1/1/dir2", "f /builder1/1/dir2/file-201.pdf 6",
    "d /builder1/1/dir3", "f /builder1/1/dir3/file-301.mp3 9", "f /builder1/1/dir3/file-302.mpeg 10",
    "d /builder1/1/dir4", "f /builder1/1/dir4/file-401.txt 11",
    "l /builder1/1/dir4/file-402.txt file-401.txt", "l /builder1/1/dir4/file-403.txt file-404.txt",
    "d /builder2", "d /builder2/2",
    "d /builder2/2/dir1", "f /builder2/2/dir1/file-101.png 2", "f /builder2/2/dir1/file-103.jpeg 4",
    "d /builder2/2/dir2", "f /builder2/2/dir2/file-202.jpeg 7", "f /builder2/2/dir2/file-203.png 8",
    "d /builder2/2/dir3", "f /builder2/2/dir3/file-301.mp3 9", "f /builder2/2/dir3/file-302.mpeg 10",
    "d /builder2/2/dir4",
    "d /builder3", "d /builder3/3", "f /builder3/3/file-302.mpeg 10",
    "d /builder4", "d /builder4/4", "f /builder4/4/file-302.mpeg 10",
    "d /builder5", "d /builder5/5", "f /builder5/5/file-102.txt 3", "f /builder5/5/file-401.txt 11",
    "l /builder5/5/file-402.txt file-401.txt", "l /builder5/5/file-403.txt file-404.txt",
    "d /builder6", "d /builder6/6",
], copies(*(f"COPY / /builder{i}" for i in range(1, 7))))

# copy-exclude-parents-cache (written here, no BuildKit test): what the copies hold after the last build,
# and the cache decisions: a change to an excluded file, or to a file the --parents pattern does not
# name, keeps the step cached (BuildKit's content checksum takes the same patterns); a change to a
# copied file rebuilds it and, as a new parent, every step after it.
CACHE = image([
    "d /app", "f /app/main.txt v2\\n",
    "d /p", "d /p/src", "d /p/src/a", "f /p/src/a/keep.txt a\\n", "d /p/src/b", "f /p/src/b/keep.txt v2\\n",
], copies("COPY app /app/", "COPY --parents src/*/keep.txt /p/"), cache=[
    {"only": [["COPY", False], ["COPY", False]]},
    {"only": [["COPY", True], ["COPY", True]]},
    {"only": [["COPY", False], ["COPY", False]]},
    {"only": [["COPY", True], ["COPY", False]]},
])

CASES = {
    "bk-copy-parents": COPY_PARENTS,
    "bk-copy-relative-parents": RELATIVE,
    "bk-copy-parents-missing-directory-1": MISSING,
    "bk-copy-parents-missing-directory-2": {"expect_fail": True, "reference_error": 'failed to calculate checksum of ref …: "/test/nonexistent-file": not found'},
    "bk-excluded-files-on-copy-1": EXCLUDED_FILES,
    "bk-excluded-files-on-copy-2": EXCLUDED_FILES,
    "copy-exclude-parents-cache": CACHE,
}

if __name__ == "__main__":
    for name, result in CASES.items():
        with open(os.path.join(HERE, name, "expected.json"), "w") as f:
            json.dump(result, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"wrote {name}/expected.json")
