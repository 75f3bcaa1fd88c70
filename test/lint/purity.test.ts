/**
 * Purity lint (STYLE rule 1): `src/core/` and `actors/` never read the real
 * clock or `Math.random`, never set real timers (time and randomness come
 * through the actor context, which the simulator controls), and `src/core/`
 * imports no I/O module. A violation fails with file:line.
 *
 * The scanner ignores comments (line and block, without being fooled by
 * "//" inside strings) but not string contents, so it errs on the strict
 * side. A self-check runs it on a planted fixture first, so this test cannot
 * pass by scanning nothing.
 */
import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A call that reads the real clock or randomness, or starts a real timer. */
const IMPURE_CALLS: ReadonlyArray<{ pattern: RegExp; what: string }> = [
  { pattern: /\bDate\s*\.\s*now\s*\(/, what: 'Date.now(' },
  { pattern: /\bMath\s*\.\s*random\s*\(/, what: 'Math.random(' },
  { pattern: /\bperformance\s*\.\s*now\s*\(/, what: 'performance.now(' },
  { pattern: /\bnew\s+Date\s*\(/, what: 'new Date(' },
  { pattern: /\bsetTimeout\s*\(/, what: 'setTimeout(' },
  { pattern: /\bsetInterval\s*\(/, what: 'setInterval(' },
  { pattern: /\bsetImmediate\s*\(/, what: 'setImmediate(' },
];

/** Modules `src/core` must not import: it is pure protocol logic. */
const CORE_FORBIDDEN_MODULE = /^(node:.*|fs|fs\/promises|worker_threads|net|http|https|http2|child_process|dgram|os)$/;

/**
 * Module specifiers in static imports/exports (matched on the `from` line, so
 * multi-line import lists are caught), side-effect imports, dynamic import()
 * and require().
 */
const MODULE_REFERENCES = [
  /\bfrom\s*['"]([^'"]+)['"]/g,
  /\bimport\s*['"]([^'"]+)['"]/g,
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/** One finding. */
interface Violation {
  file: string;
  line: number;
  what: string;
  text: string;
}

/**
 * `source` with every comment replaced by spaces (newlines kept, so line
 * numbers stay right). Strings and template literals are skipped over whole,
 * so "//" inside a URL string does not start a comment.
 */
export function stripComments(source: string): string {
  const out = source.split('');
  let i = 0;
  const blank = (from: number, to: number): void => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  while (i < source.length) {
    const c = source[i];
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      const end = source.indexOf('\n', i);
      const stop = end === -1 ? source.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end === -1 ? source.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === '"' || c === "'" || c === '`') {
      i = skipString(source, i);
    } else {
      i++;
    }
  }
  return out.join('');
}

/** Index just past the string literal opening at `start` (template `${...}` is kept as string text). */
function skipString(source: string, start: number): number {
  const quote = source[start];
  let i = start + 1;
  while (i < source.length) {
    const c = source[i];
    if (c === '\\') i += 2;
    else if (c === quote) return i + 1;
    else if (c === '\n' && quote !== '`') return i; // unterminated: stop at the line end
    else i++;
  }
  return i;
}

/** Every violation in one file's text; `core` adds the import rule. */
export function scanSource(file: string, source: string, core: boolean): Violation[] {
  const found: Violation[] = [];
  const lines = stripComments(source).split('\n');
  lines.forEach((text, index) => {
    for (const rule of IMPURE_CALLS) {
      if (rule.pattern.test(text)) found.push({ file, line: index + 1, what: rule.what, text: text.trim() });
    }
    if (!core) return;
    for (const reference of MODULE_REFERENCES) {
      for (const match of text.matchAll(reference)) {
        const specifier = match[1] ?? '';
        if (CORE_FORBIDDEN_MODULE.test(specifier)) {
          found.push({ file, line: index + 1, what: `import of "${specifier}" in src/core`, text: text.trim() });
        }
      }
    }
  });
  return found;
}

/** The repository root: the nearest ancestor of this file (or of the cwd) holding package.json and src/core. */
function repoRoot(): string {
  const isRoot = (dir: string): boolean => existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src', 'core'));
  for (const start of [dirname(fileURLToPath(import.meta.url)), process.cwd()]) {
    let dir = start;
    for (let depth = 0; depth < 12; depth++) {
      if (isRoot(dir)) return dir;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  throw new Error('purity lint: cannot find the repository root (package.json next to src/core) above this file or the cwd');
}

/** TypeScript sources under `dir` (not declaration files), sorted; [] if `dir` does not exist. */
function typeScriptFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const files: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...typeScriptFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

describe('lint/purity', () => {
  it('the scanner catches planted violations and ignores comments (self-check)', () => {
    const fixture = [
      '// Date.now() in a line comment is fine',
      '/* Math.random() in a block comment,',
      '   setTimeout(() => 1) spanning lines, is fine */',
      'const url = "http://example.com/a"; const x = 1; // a URL string is not a comment',
      'const t = Date.now();',
      "import { readFileSync } from 'node:fs';",
      'const r = Math . random ();',
      'const id = setTimeout(() => undefined, 5); /* trailing */',
      "const w = await import('worker_threads');",
      'const d = new Date(0); const p = performance.now();',
      "export { x } from 'fs';",
      'setInterval(f, 1); setImmediate(g);',
      'import {',
      '  createServer,',
      "} from 'node:http';",
      "import 'net';",
      "const s = Array.from('fs'); // not an import",
    ].join('\n');
    const found = scanSource('fixture.ts', fixture, true).map((v) => `${v.line}:${v.what}`);
    expect(found).to.deep.equal([
      '5:Date.now(',
      '6:import of "node:fs" in src/core',
      '7:Math.random(',
      '8:setTimeout(',
      '9:import of "worker_threads" in src/core',
      '10:performance.now(',
      '10:new Date(',
      '11:import of "fs" in src/core',
      '12:setInterval(',
      '12:setImmediate(',
      '15:import of "node:http" in src/core',
      '16:import of "net" in src/core',
    ]);
    // Outside src/core, imports are allowed but the clock rules still apply.
    expect(scanSource('fixture.ts', fixture, false).map((v) => v.line)).to.deep.equal([5, 7, 8, 10, 10, 12, 12]);
    // A clean source yields nothing.
    expect(scanSource('clean.ts', "import { Prng } from './prng.js';\nexport const now = (ctx: { now(): number }) => ctx.now();\n", true)).to.deep.equal([]);
  });

  it('src/core and actors/ read no real clock or randomness and src/core does no I/O', () => {
    const root = repoRoot();
    const core = typeScriptFiles(join(root, 'src', 'core'));
    const actors = typeScriptFiles(join(root, 'actors'));
    // Not vacuous: the core has files, including ones known to exist.
    expect(core.map((f) => relative(root, f))).to.include.members([join('src', 'core', 'prng.ts'), join('src', 'core', 'limits.ts')]);
    const violations = [
      ...core.flatMap((f) => scanSource(relative(root, f), readFileSync(f, 'utf8'), true)),
      ...actors.flatMap((f) => scanSource(relative(root, f), readFileSync(f, 'utf8'), false)),
    ];
    const report = violations.map((v) => `${v.file}:${v.line}: ${v.what} — ${v.text}`).join('\n');
    expect(violations, `impure code (take time and randomness from the actor context):\n${report}`).to.deep.equal([]);
  });
});
