/**
 * Per key, the tail of the work in flight for it: the settled promise of the
 * latest piece of work, so that later work of the same key can wait for it.
 * The engine tracks writes waiting for their fsync with it (reads wait for
 * them); the replica chains the mints of one key with it (a mint starts once
 * the previous one is stored). An entry leaves when its work settles and no
 * later work replaced it, so the map holds only keys with work in flight.
 *
 * Thread contract: one thread; not shared.
 */

/** A key as a map key: one char per byte (keys are at most KEY_MAX_BYTES). */
export function keyId(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

/** Keys with work in flight and the tail of each one's work. */
export class KeyTails {
  private readonly tails = new Map<string, Promise<void>>();

  /** The tail of `key`'s work (settles, never rejects), or null when it has none in flight. */
  tail(key: Uint8Array): Promise<void> | null {
    if (this.tails.size === 0) return null;
    return this.tails.get(keyId(key)) ?? null;
  }

  /** Make `work` the tail of `key`: later waiters wait for it (its failure is theirs to ignore). */
  track(key: Uint8Array, work: Promise<unknown>): void {
    const id = keyId(key);
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(id, settled);
    void settled.then(() => {
      if (this.tails.get(id) === settled) this.tails.delete(id);
    });
  }

  /** Run `fn` once `key`'s current tail settles; its work becomes the new tail. */
  chain<T>(key: Uint8Array, fn: () => Promise<T>): Promise<T> {
    const before = this.tail(key) ?? Promise.resolve();
    const mine = before.then(fn);
    this.track(key, mine);
    return mine;
  }
}
