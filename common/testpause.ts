// A pause at a named point of a command, for tests only: with TSBUILD_TEST_PAUSE=POINT:FILE the process
// writes FILE.reached when it gets to POINT and goes on once FILE.go exists (test/gc.test.ts pauses a
// build after it has pinned its bases, and prunes meanwhile). Unset, it costs one environment read.
import { existsSync, writeFileSync } from "node:fs";

export async function testPause(point: string): Promise<void> {
  const spec = process.env.TSBUILD_TEST_PAUSE;
  if (spec === undefined || !spec.startsWith(`${point}:`)) return;
  const file = spec.slice(point.length + 1);
  writeFileSync(`${file}.reached`, String(process.pid));
  while (!existsSync(`${file}.go`)) await new Promise((r) => setTimeout(r, 20));
}
