// Steps being built right now, by cache key, shared by the platforms of one multi-platform build. A
// stage every platform builds alike (`FROM --platform=$BUILDPLATFORM`) has the same keys in each: the
// platforms run side by side, and a step whose key another platform is making waits for it, then takes
// it from the cache, as BuildKit's solver merges equal vertices. (Within one platform no two steps have
// one key: a key chains its parent's.)
import type { Digest } from "../common/digest.js";

export class StepsInFlight {
  private readonly building = new Map<Digest, Promise<void>>();

  /** One platform's claims: what it is building, all ended when its build ends, however it ends. */
  claimant(): StepClaims {
    return new StepClaims(this.building);
  }
}

export class StepClaims {
  private readonly mine = new Set<() => void>();

  constructor(private readonly building: Map<Digest, Promise<void>>) {}

  /**
   * Waits while another platform builds `key`, then claims it (checked and set in one turn of the
   * event loop, so two waiters never both claim). The function returned ends the claim: call it once
   * the step's cache entry is stored, or it failed, or the lookup hit.
   */
  async claim(key: Digest): Promise<() => void> {
    for (let other = this.building.get(key); other !== undefined; other = this.building.get(key)) await other;
    let resolve: () => void = () => {};
    const claimed = new Promise<void>((r) => { resolve = r; });
    this.building.set(key, claimed);
    const end = (): void => {
      if (!this.mine.delete(end)) return;
      if (this.building.get(key) === claimed) this.building.delete(key);
      resolve();
    };
    this.mine.add(end);
    return end;
  }

  /** Ends every claim still open (the build ended: a failed or cancelled step never finishes). */
  endAll(): void {
    for (const end of [...this.mine]) end();
  }
}
