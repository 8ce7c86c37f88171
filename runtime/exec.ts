// execa, loaded on first use: importing it costs ~100 ms, most of a no-op rebuild's budget, and a
// build whose steps are all cached never spawns anything.
type Execa = typeof import("execa").execa;
let loaded: Execa | undefined;

export async function loadExeca(): Promise<Execa> {
  loaded ??= (await import("execa")).execa;
  return loaded;
}
