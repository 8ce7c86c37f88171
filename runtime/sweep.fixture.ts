// A build that gets killed mid-RUN, for sweep.test.ts: mounts a snapshot, starts a long container and
// prints "started" once the container has printed; the test then SIGKILLs this process.
import { isDigest } from "../common/digest.js";
import { storePaths } from "../common/storepaths.js";
import { Snapshotter } from "./snapshotter.js";
import { mountSpec } from "./mountspec.js";
import { runContainer } from "./container.js";

const [root, base] = process.argv.slice(2);
if (root === undefined || base === undefined || !isDigest(base)) throw new Error("usage: sweep.fixture.ts ROOT BASE_CHAIN");
const paths = storePaths(root);
const snap = new Snapshotter(paths);
const active = await snap.prepare(base);
const m = await mountSpec(await snap.mounts(active), paths.tmp);
await runContainer(paths, {
  rootfs: m.rootfs,
  args: ["/bin/sh", "-c", "echo up; exec sleep 600"],
  env: [],
  cwd: "/",
  user: { uid: 0, gid: 0, additionalGids: [] },
  network: "none",
  onOutput: () => process.stdout.write("started\n"),
});
