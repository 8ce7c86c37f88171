// `--build-context NAME=VALUE` (buildx's named contexts), read as BuildKit 0.13's dockerui reads them:
// `docker-image://REF` (that image), a git repository (`https://host/repo.git#ref:subdir`, `git@…`,
// `git://…`: checked out with its .git, as dockerui's DetectGitContext(v, true) keeps it), any other http(s) URL (its download as one file, not extracted: BuildKit's
// llb.HTTP, named from Content-Disposition or the URL's path, else `download`), or a folder. Remote
// ones are fetched into a scratch folder of the store named for this process, removed by `cleanup()`
// (a killed build's is swept by the next command).
import { existsSync, statSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { UserError } from "../common/errors.js";
import { ownedName } from "../common/owner.js";
import type { StorePaths } from "../common/storepaths.js";
import type { NamedContext } from "../builder/namedcontexts.js";

export interface BuildContexts {
  contexts: Map<string, NamedContext>;
  /** Removes what was fetched; safe to call more than once. */
  cleanup(): Promise<void>;
}

/** Parses every --build-context and fetches the remote ones. */
export async function readBuildContexts(paths: StorePaths, values: string[], ssh?: ReadonlyMap<string, string>): Promise<BuildContexts> {
  const contexts = new Map<string, NamedContext>();
  let scratch: string | undefined;
  const cleanup = async (): Promise<void> => {
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  };
  try {
    for (const [i, v] of values.entries()) {
      const eq = v.indexOf("=");
      if (eq <= 0) throw new UserError(`invalid --build-context "${v.slice(0, 200)}": expected NAME=DIR, NAME=URL or NAME=docker-image://REF`);
      const name = v.slice(0, eq).toLowerCase();
      const value = v.slice(eq + 1);
      const shown = `--build-context ${name}=${value.slice(0, 200)}`;
      if (value.startsWith("docker-image://")) {
        contexts.set(name, { kind: "image", ref: value.slice("docker-image://".length) });
        continue;
      }
      const { parseGitSource } = await import("../runtime/git.js");
      const repository = parseGitSource(value);
      const http = /^https?:\/\//.test(value);
      if (repository === undefined && !http) {
        if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) throw new UserError(`${shown}: tsbuild takes folders, git and http(s) URLs and docker-image:// as named contexts`);
        const path = resolve(value);
        if (!existsSync(path) || !statSync(path).isDirectory()) throw new UserError(`${shown}: no such folder`);
        contexts.set(name, { kind: "dir", path });
        continue;
      }
      scratch ??= join(paths.tmp, ownedName("namedctx"));
      const dest = join(scratch, String(i));
      await mkdir(scratch, { recursive: true });
      if (repository !== undefined) {
        const { checkoutGit, resolveGitCommit } = await import("../runtime/git.js");
        const sock = ssh?.get("default");
        const access = sock !== undefined ? { sshAuthSock: sock } : {};
        try {
          // dockerui's DetectGitContext(v, true): a named context keeps .git (the build context does not)
          await checkoutGit(repository, await resolveGitCommit(repository, access), dest, { keepGitDir: true, ...access });
        } catch (e) {
          if (e instanceof UserError) throw new UserError(`${shown}: ${e.message}`);
          throw e;
        }
      } else {
        await mkdir(dest);
        const { downloadNamedContext } = await import("../builder/copy/urlsource.js");
        await downloadNamedContext(value, dest, shown);
      }
      contexts.set(name, { kind: "dir", path: dest, fetched: { kind: repository !== undefined ? "git" : "http", url: value } });
    }
    return { contexts, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
