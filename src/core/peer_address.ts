/**
 * The address of a peer process (issue 16): `host:port`, or `[v6]:port`
 * for an IPv6 host, as flags, records and rosters write it.
 *
 * Pure. Safe from any thread.
 */

/** A `host:port` address. */
export interface PeerAddress {
  host: string;
  port: number;
}

/** `host:port` or `[v6]:port` as an address; throws `RangeError` saying the form for anything else. */
export function parseAddress(text: string): PeerAddress {
  const match = /^(?:\[([^\]]+)\]|([^:\s\[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || !(port >= 1 && port <= 65535)) throw new RangeError(`"${text}" is not host:port (e.g. 127.0.0.1:7010, [::1]:7010)`);
  return { host: match[1] ?? match[2]!, port };
}

/** The address as text, the form `parseAddress` reads. */
export function addressText(address: PeerAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
