/**
 * How two processes of one cluster prove to each other that they hold the
 * cluster secret (issue 16), without sending it: each side sends a fresh
 * random nonce in its hello, then an HMAC-SHA256, keyed by the secret, over
 * a fixed label, both ids and both nonces, in the order of who proves. A
 * recorded proof is useless on another connection (the other side's nonce
 * differs) and useless reflected back (the order of ids and nonces differs).
 * Compared in constant time.
 *
 * Thread contract: any thread; no state.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { NONCE_BYTES } from './peer_frames.js';

/** Domain label of the proofs: a proof for anything else never matches. */
const LABEL = 'ringkv-peer-v1';

/** A fresh nonce for a hello. */
export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(NONCE_BYTES));
}

/** The proof `prover` sends to `verifier` on the connection where they sent these nonces. */
export function proofOf(secret: Uint8Array, prover: { id: string; nonce: Uint8Array }, verifier: { id: string; nonce: Uint8Array }): Uint8Array {
  const hmac = createHmac('sha256', secret);
  hmac.update(LABEL);
  for (const part of [prover.id, verifier.id]) {
    hmac.update(`\u0000${part.length}:`);
    hmac.update(part);
  }
  hmac.update(prover.nonce);
  hmac.update(verifier.nonce);
  return new Uint8Array(hmac.digest());
}

/** True when `proof` is what `prover` must send (constant-time comparison). */
export function proofMatches(proof: Uint8Array, secret: Uint8Array, prover: { id: string; nonce: Uint8Array }, verifier: { id: string; nonce: Uint8Array }): boolean {
  const expected = proofOf(secret, prover, verifier);
  return proof.length === expected.length && timingSafeEqual(proof, expected);
}
