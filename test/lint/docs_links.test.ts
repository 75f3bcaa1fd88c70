/**
 * Docs lint: README.md and every page under docs/ point only at files that
 * exist in this repository. A finding names file:line.
 *
 * What is checked, outside fenced code blocks:
 *   - every Markdown link and image (`[text](target)`, `![alt](target)`,
 *     `[label]: target`) that is not a URL: the target must resolve (from
 *     the page's folder) inside the repository, not above it (`../` out of
 *     the checkout, an absolute path), and exist; a `#anchor` into a
 *     Markdown page must name one of its headings (GitHub's slugs);
 *   - every inline code span that names a repository path (a top-level
 *     source folder, a `.md` file, or anything starting with `../`): prose
 *     that says "see `storage/dot_lease.ts`" or "`../shared/DESIGN.md`"
 *     must name a file that is there.
 *
 * A self-check runs the scanner on planted pages first, so this test
 * cannot pass by scanning nothing.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/test/lint/). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Top-level folders whose paths prose may name in code spans (dist/ and node_modules/ are not in the repository). */
const PATH_FOLDERS = ['src', 'storage', 'actors', 'test', 'bench', 'docs'];

/** One page to check: its path relative to the root, and its text. */
interface Page {
  path: string;
  text: string;
}

/** One problem found. */
interface Finding {
  file: string;
  line: number;
  target: string;
  problem: string;
}

/** What a scan saw and found. */
interface Scan {
  findings: Finding[];
  /** Links and path-like code spans checked. */
  checked: number;
  /** Link targets per page (paths relative to the root, anchors dropped), for coverage checks. */
  linked: Map<string, Set<string>>;
}

describe('docs lint: README and docs/ link only to files in the repository', () => {
  it('the scanner reports planted bad links and passes good ones', () => {
    const planted: Page = {
      path: 'docs/planted.md',
      text: [
        '# Planted',
        '## A heading',
        'Good: [arch](architecture.md), [anchor](resp.md#dbsize), [here](#a-heading), [src](../src/core/limits.ts), [web](https://example.com/x.md).',
        'Bad: [out](../../elsewhere/DESIGN.md), [gone](missing.md), [anchor](#no-such-heading), [abs](/etc/passwd).',
        'Bad span: `../shared/SPEC.md` and `storage/no_such_file.ts`; fine span: `storage/engine.ts`.',
        '```sh',
        'cat ../shared/DESIGN.md   # inside a fenced block: not checked',
        '```',
        '[bad anchor]: architecture.md#no-such-section',
      ].join('\n'),
    };
    const scan = scanPages([planted], ROOT);
    const found = scan.findings.map((f) => `${f.line}:${f.target}`);
    expect(found).to.have.members([
      '4:../../elsewhere/DESIGN.md',
      '4:missing.md',
      '4:#no-such-heading',
      '4:/etc/passwd',
      '5:../shared/SPEC.md',
      '5:storage/no_such_file.ts',
      '9:architecture.md#no-such-section',
    ]);
    expect(scan.checked).to.equal(12);
  });

  it('README.md and docs/*.md point only at files that exist in the repository', () => {
    const pages = docPages();
    expect(pages.map((p) => p.path)).to.include.members(['README.md', 'docs/architecture.md', 'docs/troubleshooting.md']);
    const scan = scanPages(pages, ROOT);
    const report = scan.findings.map((f) => `${f.file}:${f.line}: ${f.target}: ${f.problem}`).join('\n');
    expect(scan.findings, `\n${report}`).to.deep.equal([]);
    expect(scan.checked, 'links and paths checked').to.be.greaterThan(50);
  });

  it('the README links every page under docs/, and LICENSE', () => {
    const pages = docPages();
    const linked = scanPages(pages, ROOT).linked.get('README.md') ?? new Set<string>();
    const docs = pages.map((p) => p.path).filter((p) => p.startsWith('docs/'));
    expect(docs.filter((doc) => !linked.has(doc)), 'docs pages the README does not link').to.deep.equal([]);
    expect(linked.has('LICENSE'), 'the README links LICENSE').to.equal(true);
  });
});

/** README.md and every .md file under docs/, as pages. */
function docPages(): Page[] {
  const paths = ['README.md', ...markdownUnder('docs')];
  return paths.map((path) => ({ path, text: readFileSync(join(ROOT, path), 'utf8') }));
}

/** Paths (relative to the root) of the .md files under `folder`, recursively. */
function markdownUnder(folder: string): string[] {
  const dir = join(ROOT, folder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = `${folder}/${name}`;
    if (statSync(join(ROOT, path)).isDirectory()) return markdownUnder(path);
    return name.endsWith('.md') ? [path] : [];
  });
}

/** Check every link and path-like code span of `pages` against the files under `root`. */
function scanPages(pages: readonly Page[], root: string): Scan {
  const scan: Scan = { findings: [], checked: 0, linked: new Map() };
  for (const page of pages) {
    const linked = new Set<string>();
    scan.linked.set(page.path, linked);
    const pageDir = dirname(join(root, page.path));
    proseLines(page.text).forEach((line, index) => {
      const report = (target: string, problem: string): void => {
        scan.findings.push({ file: page.path, line: index + 1, target, problem });
      };
      for (const target of linkTargets(line)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // a URL (https:, mailto:)
        scan.checked++;
        const [pathPart, anchor] = splitAnchor(target);
        if (pathPart === '') {
          if (anchor !== null && !anchorsOf(page.text).has(anchor)) report(target, `no heading #${anchor} on this page`);
          continue;
        }
        const problem = pathProblem(pathPart, pageDir, root);
        if (problem !== null) {
          report(target, problem);
          continue;
        }
        const file = resolve(pageDir, pathPart);
        linked.add(relative(root, file).split('\\').join('/'));
        if (anchor !== null && file.endsWith('.md') && !anchorsOf(readFileSync(file, 'utf8')).has(anchor)) {
          report(target, `no heading #${anchor} in ${relative(root, file)}`);
        }
      }
      for (const span of codeSpans(line)) {
        if (!namesRepositoryPath(span)) continue;
        scan.checked++;
        // Prose names files from the root ("storage/engine.ts"); a span starting with ./ or ../ is relative to the page.
        const base = span.startsWith('./') || span.startsWith('../') ? pageDir : root;
        const problem = pathProblem(span, base, root);
        if (problem !== null) report(span, problem);
      }
    });
  }
  return scan;
}

/** Why `path` (from `base`) is not a file or folder of the repository at `root`, or null when it is. */
function pathProblem(path: string, base: string, root: string): string | null {
  if (isAbsolute(path)) return 'an absolute path: point inside the repository with a relative path';
  const target = resolve(base, decodeURIComponent(path));
  const fromRoot = relative(root, target);
  if (fromRoot.startsWith('..') || isAbsolute(fromRoot)) return 'outside the repository: the docs must not point outside it';
  if (!existsSync(target)) return 'no such file in the repository';
  return null;
}

/** `text` split into lines, with the lines of fenced code blocks blanked (line numbers kept). */
function proseLines(text: string): string[] {
  let fenced = false;
  return text.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line;
  });
}

/** Targets of the inline links, images and reference definitions on one line (code spans ignored). */
function linkTargets(line: string): string[] {
  const withoutCode = line.replace(/`[^`]*`/g, (span) => ' '.repeat(span.length));
  const targets = [...withoutCode.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(withoutCode);
  if (definition !== null) targets.push(definition[1]!);
  return targets;
}

/** The contents of the inline code spans on one line. */
function codeSpans(line: string): string[] {
  return [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.trim());
}

/** Whether a code span names a path of the repository that should exist. */
function namesRepositoryPath(span: string): boolean {
  if (!/^[\w./-]+$/.test(span)) return false; // placeholders (<dataDir>/...), commands with spaces
  if (span.startsWith('../')) return true;
  const path = span.startsWith('./') ? span.slice(2) : span;
  const first = path.split('/')[0]!;
  if (PATH_FOLDERS.includes(first) && path.includes('/')) return true;
  return /\.md$/.test(path);
}

/** A target split into its path and its anchor (null without '#'). */
function splitAnchor(target: string): [string, string | null] {
  const at = target.indexOf('#');
  return at < 0 ? [target, null] : [target.slice(0, at), target.slice(at + 1)];
}

/** The anchors GitHub makes for the headings of a Markdown text (duplicates get -1, -2, ...). */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading === null) continue;
    const slug = heading[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // a link in a heading: its text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}
