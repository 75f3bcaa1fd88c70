/**
 * Shared helpers for benchmarks: machine description, percentiles, the
 * results file and a printed table. Benchmarks print their configuration and
 * machine and write JSON under bench/results/; they are never asserted on
 * wall-clock time in tests.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (bench files run from dist/bench/<area>/). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** What machine a result was measured on. */
export function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    cpus: cpus.length,
    cpu_model: cpus[0]?.model ?? 'unknown',
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  };
}

/** The p-th percentile (0..100) of `samples` (sorted in place). */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  samples.sort((a, b) => a - b);
  const at = Math.min(samples.length - 1, Math.max(0, Math.ceil((p / 100) * samples.length) - 1));
  return samples[at]!;
}

/** Write `bench/results/<name>.json` and print a table of the numeric figures. */
export function writeResults(name: string, results: Record<string, unknown>): string {
  const dir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(results, null, 2) + '\n');
  const rows = Object.entries(results).filter(([, v]) => typeof v === 'number' || typeof v === 'boolean');
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\n${name} results`);
  for (const [k, v] of rows) {
    const text = typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(3)) : String(v);
    console.log(`  ${k.padEnd(width)}  ${text}`);
  }
  console.log(`written to ${path}`);
  return path;
}
