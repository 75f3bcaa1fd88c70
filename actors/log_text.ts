/**
 * How actors name errors and keys in error messages and log lines: one
 * short, printable form each, so a key in a log matches the key in a reply.
 *
 * Pure; safe from any thread.
 */

/** An error's message (or the thrown value as text). */
export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A key for a message: printable keys as quoted text, others as hex, cut to a readable length. */
export function describeKey(key: Uint8Array): string {
  const text = Buffer.from(key).toString('utf8');
  const shown = /^[\x20-\x7e]*$/.test(text) ? JSON.stringify(text) : `0x${Buffer.from(key).toString('hex')}`;
  return shown.length > 64 ? `${shown.slice(0, 64)}...` : shown;
}
