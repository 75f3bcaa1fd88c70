/**
 * Text forms of causal metadata for the public API: a version's dot as
 * "actor:counter" (what receipts, reads and `explain` name a version by) and
 * a causal context as base64url (what clients carry between a read and a
 * write; '' means "no context").
 *
 * Pure: no I/O, no clock. Safe from any thread.
 */
import { decodeContext, encodeContext, type Dot, type VersionVector } from './dotted_version_vector.js';
import { InvalidRequestError } from './errors.js';

/** A dot as text: "actor:counter" (actor ids never contain ':' after their epoch). */
export function formatVersion(dot: Pick<Dot, 'actor' | 'counter'>): string {
  return `${dot.actor}:${dot.counter}`;
}

/** Parse "actor:counter"; throws `InvalidRequestError` on anything else. */
export function parseVersion(text: string): { actor: string; counter: number } {
  const at = text.lastIndexOf(':');
  const counter = Number(text.slice(at + 1));
  if (at <= 0 || !Number.isSafeInteger(counter) || counter < 1) {
    throw new InvalidRequestError(`version "${text}" is not of the form actor:counter`);
  }
  return { actor: text.slice(0, at), counter };
}

/** A causal context as the text clients carry. */
export function contextToString(context: VersionVector): string {
  return context.length === 0 ? '' : Buffer.from(encodeContext(context)).toString('base64url');
}

/** A client's context text back to a vector; '' is the empty context. Throws `InvalidRequestError` if malformed. */
export function contextFromString(text: string): VersionVector {
  if (text === '') return [];
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new InvalidRequestError('a causal context is base64url text as a read or write returned it');
  return decodeContext(Buffer.from(text, 'base64url'));
}
