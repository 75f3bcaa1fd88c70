/**
 * HTTP authentication with the server's one password (`--password`, the
 * same one RESP's AUTH takes). With a password set, every HTTP route
 * requires it except the /health and /ready probes (which then say only
 * ok or not ok; see `http_probes.ts`). Two forms are accepted:
 *
 *   Authorization: Basic base64(<any user>:<password>)   (curl -u any:secret)
 *   Authorization: Bearer <password>
 *
 * The user name of Basic is ignored, as Redis's `AUTH <password>` logs in
 * its default user whatever the client calls itself. A missing, malformed
 * or wrong credential answers 401 with a `WWW-Authenticate` challenge for
 * each scheme; the message never says which part was wrong.
 *
 * The password is compared in constant time: both sides are hashed with
 * SHA-256 and the digests compared with `timingSafeEqual`, so neither where
 * the texts differ nor their lengths show in the time taken (the RESP
 * server's AUTH does the same).
 *
 * Thread contract: main thread only (it is called from request handlers).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { assert } from '../core/assert.js';
import { HttpError } from './http_exchange.js';

/** The challenges a 401 carries, one header line per scheme (RFC 9110 §11.6.1, RFC 7617, RFC 6750). */
export const AUTH_CHALLENGES: readonly string[] = ['Basic realm="ringkv", charset="UTF-8"', 'Bearer realm="ringkv"'];

/** Checks requests' Authorization headers against one password. */
export class PasswordCheck {
  /** SHA-256 of the password's UTF-8 bytes. */
  private readonly passwordDigest: Buffer;

  constructor(password: string) {
    assert(password.length > 0, 'an HTTP password is not empty (an empty one would protect nothing)');
    this.passwordDigest = digest(password);
  }

  /** Whether `req` carries the password (Basic with any user, or Bearer). */
  accepts(req: IncomingMessage): boolean {
    const offered = offeredPassword(req.headers.authorization);
    // Compared even when absent (against a fixed text), so a missing header takes the time a wrong one does.
    const equal = timingSafeEqual(digest(offered ?? ''), this.passwordDigest);
    return offered !== null && equal;
  }
}

/** The 401 a request without the password gets. */
export function unauthorizedError(): HttpError {
  return new HttpError(
    401,
    'UNAUTHORIZED',
    'this server requires its password: send Authorization: Bearer <password>, or Basic with any user name and the password (curl -u any:<password>)',
    // node:http writes an array value as one header line per element.
    { 'www-authenticate': [...AUTH_CHALLENGES] },
  );
}

/**
 * The password an Authorization header offers, or null when there is none
 * or it is malformed. Schemes are case-insensitive (RFC 9110 §11.1).
 */
export function offeredPassword(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^\s*([A-Za-z]+)\s+(\S.*?)\s*$/.exec(header);
  if (match === null) return null;
  const scheme = match[1]!.toLowerCase();
  const credentials = match[2]!;
  if (scheme === 'bearer') return credentials;
  if (scheme !== 'basic') return null;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(credentials)) return null;
  const userPass = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = userPass.indexOf(':');
  return colon < 0 ? null : userPass.slice(colon + 1);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
