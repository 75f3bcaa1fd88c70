/**
 * Protected mode, after Redis's: a server that would listen beyond this
 * machine without a password is refused at start, because anyone who can
 * reach the address could read and write every key (over RESP and HTTP)
 * and see the cluster's status. Loopback addresses (127.0.0.0/8, ::1,
 * localhost) need no password. An operator whose ports are guarded some
 * other way (a firewall, a private network) turns the check off explicitly
 * (`protectedMode: false`, the CLI's `--protected-mode no`); the server
 * then starts and logs a warning.
 *
 * Pure apart from the warning's sink; main thread.
 */
import { isIP } from 'node:net';
import { ConfigError } from '../core/errors.js';
import type { LogSink } from '../runtime/logger.js';

/** Whether `bind` reaches only this machine. */
export function isLoopbackBind(bind: string): boolean {
  const host = bind.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  const v4 = host.startsWith('::ffff:') ? host.slice('::ffff:'.length) : host;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * Refuse (ConfigError, before anything starts) to bind `bind`
 * beyond loopback without a password unless `protectedMode` is false; warn
 * through `log` when it is off and the server is open. An empty password
 * is refused everywhere: it would look like protection and be none.
 */
export function checkProtectedMode(options: { bind: string; password: string | undefined; protectedMode: boolean }, log: LogSink): void {
  if (options.password === '') {
    throw new ConfigError(['the password is empty, which would protect nothing: give a non-empty --password, or leave it out']);
  }
  if (options.password !== undefined || isLoopbackBind(options.bind)) return;
  if (options.protectedMode) {
    throw new ConfigError([
      `protected mode: refusing to listen on ${options.bind} without a password, since anyone who can reach it could read and write every key. ` +
        'Give --password <secret> (RESP clients then AUTH, HTTP clients send Basic or Bearer), or bind a loopback address (--bind 127.0.0.1), ' +
        'or, if a firewall already guards the ports, start with --protected-mode no (startServer: protectedMode: false)',
    ]);
  }
  log({
    level: 'warn',
    source: 'server',
    msg: 'protected mode is off: listening beyond loopback without a password; anyone who can reach the ports can read and write every key',
    fields: { bind: options.bind },
  });
}
