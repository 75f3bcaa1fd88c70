/**
 * Assertions for programmer errors (TigerBeetle style). A failed assertion is a
 * bug, not a condition to handle: it throws `AssertionError`, which crashes the
 * actor that hit it; supervision then restarts the actor with fresh state.
 * Never catch and ignore it.
 */

/** Thrown when an invariant does not hold. Not part of the user error taxonomy. */
export class AssertionError extends Error {
  override name = 'AssertionError';
}

/** Assert `condition`; `why` says what invariant was expected to hold. */
export function assert(condition: unknown, why: string): asserts condition {
  if (!condition) throw new AssertionError(`assertion failed: ${why}`);
}

/** Exhaustiveness check at the end of a `switch (msg.type)`. */
export function assertNever(value: never, why = 'unhandled variant'): never {
  throw new AssertionError(`${why}: ${JSON.stringify(value)}`);
}
