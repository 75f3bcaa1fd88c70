#!/usr/bin/env node
/**
 * The `ringkv` command line. It grows with the project; today it shows help,
 * runs the demo (`npm start`) and the benchmarks.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const HELP = `ringkv — a Dynamo-style, leaderless, replicated key-value store for Node.js

Usage:
  ringkv --help              show this help
  ringkv --version           print the version
  ringkv demo [--dir DIR]    run a small cluster of storage actors on worker
                             threads: write, read, crash a node, restart it,
                             and read its data back from its commit log
  ringkv bench runtime       measure the actor runtime (rings vs postMessage,
                             ask round trips) -> bench/results/runtime.json
  ringkv bench storage [--quick]
                             measure the LSM engine against LMDB
                             -> bench/results/storage.json
  ringkv bench fd [--quick]  compare failure detectors in the simulator
                             -> bench/results/fd.json

Environment:
  RINGKV_LOG=debug|info|warn|error   log level (default warn)
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(HELP);
      return 0;
    case '--version':
    case '-v':
      process.stdout.write(`${await version()}\n`);
      return 0;
    case 'demo': {
      const { runDemo } = await import('./demo.js');
      const dirAt = rest.indexOf('--dir');
      return runDemo(dirAt >= 0 ? rest[dirAt + 1] : undefined);
    }
    case 'bench':
      return runBench(rest);
    default:
      process.stderr.write(`ringkv: unknown command '${command}'\n\n${HELP}`);
      return 2;
  }
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function runBench(args: string[]): number {
  const [area, ...flags] = args;
  if (area !== 'runtime' && area !== 'storage' && area !== 'fd') {
    process.stderr.write(`ringkv bench: choose 'runtime', 'storage' or 'fd'\n`);
    return 2;
  }
  const script = fileURLToPath(new URL(`../bench/${area}/run.js`, import.meta.url));
  if (!existsSync(script)) {
    process.stderr.write(`ringkv bench: ${script} is missing; run 'npm run build' in a source checkout\n`);
    return 2;
  }
  return spawnSync(process.execPath, [script, ...flags], { stdio: 'inherit' }).status ?? 1;
}

process.exitCode = await main(process.argv.slice(2));
