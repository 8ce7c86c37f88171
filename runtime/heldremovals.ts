// Background removals of active snapshots that others may still be mounted over: a step prepared over
// the unfinished one before it (Snapshotter.prepare's `over`) holds that one until it is unmounted, and
// a removal waits until nothing holds its snapshot; waitForAll() waits for them all. The builder's
// (BuildSession.removals), not the snapshot store's, as containerd leaves leases to its callers.

export class HeldRemovals {
  /** Snapshot id → how many hold it, and the removals waiting for it. */
  private readonly holds = new Map<number, { count: number; waiting: Array<() => void> }>();
  private readonly running: Array<Promise<void>> = [];

  hold(id: number): void {
    const hold = this.holds.get(id) ?? { count: 0, waiting: [] };
    hold.count++;
    this.holds.set(id, hold);
  }

  release(id: number): void {
    const hold = this.holds.get(id);
    if (hold === undefined) return;
    if (--hold.count > 0) return;
    this.holds.delete(id);
    for (const go of hold.waiting) go();
  }

  isHeld(id: number): boolean {
    return this.holds.has(id);
  }

  /** Runs `remove` once nothing holds `id`, in the background; its failure is thrown by waitForAll(). */
  later(id: number, remove: () => Promise<void>): void {
    const hold = this.holds.get(id);
    const unheld = hold === undefined ? Promise.resolve() : new Promise<void>((resolve) => hold.waiting.push(resolve));
    const removal = unheld.then(remove);
    removal.catch(() => undefined); // observed by waitForAll(); not an unhandled rejection meanwhile
    this.running.push(removal);
  }

  /** Waits for the removals started so far; throws the first failure. */
  async waitForAll(): Promise<void> {
    const results = await Promise.allSettled(this.running.splice(0));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }
}
