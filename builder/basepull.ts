// Base images from registries: before any stage runs, a FROM image the store lacks is pulled (with
// `--pull`, every FROM image's tag is looked up again and pulled when it moved). A pull that fails
// is the FROM line's error: `Dockerfile:1: base image NAME: <registry error>`.
import { DockerfileError, ImageNotFoundError, UserError } from "../common/errors.js";
import type { RegistryOptions } from "../image/registry/api.js";
import { parsePlatform, type PlatformSpec } from "../image/registry/platform.js";
import type { TransferSink } from "../image/registry/progress.js";
import type { PullResult } from "../image/registry/pull.js";
import { idPrefix, tryParseReference } from "../image/reference.js";
import type { ContentStore } from "../image/store.js";
import type { StagePlan } from "./plan.js";
import { resolveBase } from "./stage.js";

export interface BasePullSettings {
  /** `--pull`: look every base image up on its registry, not only missing ones. */
  always: boolean;
  registry?: RegistryOptions;
  platform?: PlatformSpec;
  /** Told when a pull starts, of its layers, and when it is done (the CLI prints Docker's lines). */
  onStart?: (name: string) => void;
  onEvent?: TransferSink;
  onDone?: (result: PullResult) => void;
}

/** Makes sure every base image is in the store; each name is pulled at most once per build. */
export async function ensureBaseImages(store: ContentStore, stages: StagePlan[], settings: BasePullSettings | undefined): Promise<void> {
  const done = new Set<string>();
  for (const stage of stages) {
    const name = stage.baseName;
    if (done.has(name)) continue;
    done.add(name);
    if (!settings || !settings.always || !pullable(name)) {
      try {
        await store.resolveImage(name);
        continue;
      } catch (e) {
        if (!(e instanceof ImageNotFoundError) || !settings || !pullable(name)) {
          await resolveBase(store, stage); // throws the FROM line's error
          continue;
        }
      }
    }
    settings.onStart?.(name);
    try {
      const { pullImage } = await import("../image/registry/pull.js");
      const result = await pullImage(store, name, {
        ...(settings.registry ? { registry: settings.registry } : {}),
        // FROM --platform=… picks the stage's own platform; else the build's
        ...(stage.platform !== undefined ? { platform: parsePlatform(stage.platform) } : settings.platform ? { platform: settings.platform } : {}),
        ...(settings.onEvent ? { onEvent: settings.onEvent } : {}),
      });
      settings.onDone?.(result);
    } catch (e) {
      if (e instanceof UserError) throw new DockerfileError(stage.stage.from.place, `base image ${name}: ${e.message}`);
      throw e;
    }
  }
}

/** A reference a registry can answer (not an image id or id prefix). */
function pullable(name: string): boolean {
  if (name.startsWith("sha256:")) return false;
  if (idPrefix(name) !== undefined && !name.includes("/") && !name.includes(":")) return false;
  return tryParseReference(name) !== undefined;
}
