/**
 * How the commands that talk to a running server (`status`, `explain`,
 * `repair`, `node`, `transfers`) call its HTTP API: one JSON request, with
 * the password when there is one, and errors that say what to do (no server
 * there; the password is missing; what the server refused).
 */
import { SERVER_DEFAULTS } from '../server/start.js';

/** Deadline of one request to a running server. */
const CLI_HTTP_TIMEOUT_MS = 10_000;

/** Where the commands look for a server by default. */
export const DEFAULT_HTTP_URL = `http://127.0.0.1:${SERVER_DEFAULTS.httpPort}`;

/** GET (or `method`) `path` on the server at `base` and parse its JSON; errors say what to do. */
export async function fetchJson(base: string, path: string, password = process.env.RINGKV_PASSWORD, method: 'GET' | 'POST' = 'GET', body?: unknown): Promise<unknown> {
  const url = `${base.replace(/\/+$/, '')}${path}`;
  const headers: Record<string, string> = password === undefined || password === '' ? {} : { authorization: `Bearer ${password}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(url, { method, headers, signal: AbortSignal.timeout(CLI_HTTP_TIMEOUT_MS), ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err instanceof Error ? err.message : String(err));
    throw new Error(`no ringkv server answered at ${base} (${cause}); start one with 'ringkv start' or point --http at it`);
  }
  const text = await response.text();
  if (response.status === 401) throw new Error(`${url} answered 401: the server has a password; pass it with --password or RINGKV_PASSWORD`);
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${serverMessage(text)}`);
  return JSON.parse(text) as unknown;
}


/** The message of a JSON error body (`{"error": CODE, "message": ...}`), else the body as it is. */
function serverMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (typeof parsed.message === 'string') return `${String(parsed.error)}: ${parsed.message}`;
  } catch {
    // not JSON: shown as it is
  }
  return text;
}
