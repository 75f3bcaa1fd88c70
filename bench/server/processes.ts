/**
 * Child processes of `npm run bench:server`: the servers under test and the
 * tools driving them. Every child started here is registered until it
 * exits; `stopAll()` (called on the way out, on SIGINT/SIGTERM and on an
 * uncaught error) kills what is left, so a failed run leaves no server
 * behind; temporary directories made by `temporaryDir()` go the same way.
 * A server is stopped with SIGTERM and, past STOP_TIMEOUT_MS,
 * SIGKILL.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';

/** Longest a server may take to start listening (ringkv opens its nodes first). */
export const START_TIMEOUT_MS = 60_000;
/** Longest a graceful stop may take (ringkv flushes its memtables) before SIGKILL. */
export const STOP_TIMEOUT_MS = 60_000;

const live = new Set<ChildProcess>();
const dirs = new Set<string>();

/** Spawn `command` and track it until it exits. */
export function launch(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

/** SIGKILL every child still running and remove every temporary directory left (synchronous: safe in an 'exit' handler). */
export function stopAll(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
  for (const dir of dirs) removeDir(dir);
}

/** A new empty directory under the OS's temporary directory, removed by `removeDir()` or at the latest by `stopAll()`. */
export function temporaryDir(prefix: string): string {
  const dir = mkdtempSync(join(os.tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** SIGTERM the child, SIGKILL it after STOP_TIMEOUT_MS, and resolve once it has exited. */
export function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Resolve with the first match of `pattern` on the child's stdout; reject if it exits first or takes START_TIMEOUT_MS. */
export function waitForLine(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      const match = pattern.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code ?? signal}) before printing ${pattern}:\n${output}`));
    });
  });
}

/** Run `command` to completion and resolve with its stdout; reject on failure, or kill it and reject after `timeout_ms`. */
export function capture(command: string, args: string[], timeout_ms: number, options: SpawnOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = launch(command, args, options);
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} still running after ${timeout_ms} ms; killed`));
    }, timeout_ms);
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(' ')} exited ${code ?? signal}: ${stderr.slice(-2000)}`));
    });
  });
}

/** Whether `command --version` runs. */
export function runs(command: string): Promise<boolean> {
  return capture(command, ['--version'], 10_000).then(
    () => true,
    () => false,
  );
}

/** A port free now (the OS picks it; a race with another process is possible but unlikely). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
