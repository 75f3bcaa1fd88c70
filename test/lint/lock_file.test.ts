/**
 * `npm ci` installs exactly the committed package-lock.json and fails when
 * the lock does not match package.json or lacks a package npm resolves on
 * this platform. A lock generated on one platform without the optional
 * native builds of the others (msgpackr-extract, lmdb, @napi-rs/nice) made
 * `npm ci` fail on a fresh clone (issue 13, item 12). This test checks the
 * lock without the network: every optional dependency a locked package
 * declares has its own entry, and the root entry agrees with package.json.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as T;
}

/** Where npm would find `name` when required from the package at `from` (nearest node_modules up the tree). */
function resolvedEntry(packages: Record<string, LockEntry>, from: string, name: string): string | null {
  let base = from;
  for (;;) {
    const candidate = `${base === '' ? '' : `${base}/`}node_modules/${name}`;
    if (packages[candidate] !== undefined) return candidate;
    if (base === '') return null;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}

describe('package-lock.json (npm ci on a fresh clone)', () => {
  const lock = readJson<{ lockfileVersion: number; packages: Record<string, LockEntry> }>('package-lock.json');
  const pkg = readJson<{ dependencies?: Record<string, string>; devDependencies?: Record<string, string> }>('package.json');

  it('is a v2+ lock whose root entry lists exactly package.json\'s dependencies', () => {
    expect(lock.lockfileVersion).to.be.at.least(2);
    const root = lock.packages[''];
    expect(root, 'the lock has no root entry').to.not.equal(undefined);
    expect(root!.dependencies ?? {}).to.deep.equal(pkg.dependencies ?? {});
    expect(root!.devDependencies ?? {}).to.deep.equal(pkg.devDependencies ?? {});
  });

  it('locks every optional (platform) dependency of every locked package', () => {
    const missing: string[] = [];
    let optional = 0;
    for (const [path, entry] of Object.entries(lock.packages)) {
      for (const name of Object.keys(entry.optionalDependencies ?? {})) {
        optional++;
        if (resolvedEntry(lock.packages, path, name) === null) missing.push(`${name} (optional dependency of ${path})`);
      }
    }
    expect(optional, 'no optional dependencies found: the check would be vacuous').to.be.greaterThan(0);
    expect(missing, 'missing from package-lock.json: regenerate it with `npm install --package-lock-only` on a clean tree').to.deep.equal([]);
  });

  it('locks every regular dependency of every locked package', () => {
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (path === '') continue;
      for (const name of Object.keys(entry.dependencies ?? {})) {
        if (resolvedEntry(lock.packages, path, name) === null) missing.push(`${name} (dependency of ${path})`);
      }
    }
    expect(missing).to.deep.equal([]);
  });
});
