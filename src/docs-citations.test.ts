// The repository carries every document its files cite (issue 15, item 11): each `*.md` path named in a source,
// test, bench, script or doc file exists in the repository, and each `§N` / `#anchor` cited with it is a heading
// there. Upstream documents are cited by URL, which this test leaves alone.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from './engine/paths.js';

interface Citation {
  /** As written: `docs/formats/kohya-lora.md`, `../README.md`. */
  doc: string;
  /** `4`, `1.1` from `§4, §1.1` right after the path. */
  sections: string[];
  /** From `doc.md#anchor`. */
  anchor?: string;
  line: number;
}

const TEXT_EXTENSIONS = /\.(ts|mts|cts|js|mjs|cjs|py|md|ya?ml|json|toml|sh)$/;
// Build outputs, installs and caches; dot-folders other than .github hold no project text.
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'output', '__pycache__']);
// Tokenizer vocabularies and lockfiles are data, and large.
const MAX_SCANNED_BYTES = 512 * 1024;
// This file's own examples cite documents that do not exist, on purpose.
const THIS_FILE = 'src/docs-citations.test.ts';

// A path ending in `.md` (a word character right before the dot, so `*.md` and `{name}.md` are not citations),
// then optionally `#anchor` or a list of sections: `§4`, `§2, §3`, `§1.1 and §4` (also after a closing backtick).
const DOC_MENTION = /[\w./-]*[\w-]\.md(?![\w-])`?(?:#([\w-]+)|((?:\s*(?:,|and)?\s*§\s*\d+(?:\.\d+)*)+))?/g;
const SECTION_NUMBER = /§\s*(\d+(?:\.\d+)*)/g;

/** Every `*.md` citation in a file's text, except those inside URLs. Pure. */
function findCitations(text: string): Citation[] {
  const citations: Citation[] = [];
  for (const match of text.matchAll(DOC_MENTION)) {
    const start = match.index;
    const tokenStart = Math.max(...[' ', '\n', '('].map((separator) => text.lastIndexOf(separator, start)));
    if (/[a-z]+:\/\//i.test(text.slice(tokenStart + 1, start + match[0].length))) continue;
    const doc = match[0].slice(0, match[0].indexOf('.md') + 3);
    const sections = [...(match[2] ?? '').matchAll(SECTION_NUMBER)].map(([, number]) => number ?? '');
    const line = text.slice(0, start).split('\n').length;
    citations.push({ doc, sections, ...(match[1] ? { anchor: match[1] } : {}), line });
  }
  return citations;
}

/** The section numbers (`4`, `1.1`) and GitHub anchors (`4-shapes-and-math`) of a Markdown document. Pure. */
function headingsOf(markdown: string): { sections: Set<string>; anchors: Set<string> } {
  const sections = new Set<string>();
  const anchors = new Set<string>();
  for (const [, title = ''] of markdown.matchAll(/^#{1,6}\s+(.+?)\s*$/gm)) {
    const number = /^(\d+(?:\.\d+)*)\.?\s/.exec(title)?.[1];
    if (number) sections.add(number);
    anchors.add(githubAnchor(title));
  }
  return { sections, anchors };
}

/** GitHub's heading slug: lower case, punctuation dropped (`_` and `-` kept), each space a hyphen. */
function githubAnchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, '')
    .replaceAll(' ', '-');
}

/** The repository file a citation in `fromFile` means: relative to that file's folder, else to the root. Pure. */
function resolveCitation(doc: string, fromFile: string, repoFiles: ReadonlySet<string>): string | undefined {
  const candidates = [posix.normalize(posix.join(posix.dirname(fromFile), doc)), posix.normalize(doc)];
  return candidates.find((candidate) => repoFiles.has(candidate));
}

/** Files of the repository as a clone has them: tracked plus new, not ignored; a plain walk when git is absent. */
function repositoryFiles(root: string): string[] {
  const args = ['ls-files', '--cached', '--others', '--exclude-standard', '-z'];
  const git = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  if (git.status === 0 && git.stdout.length > 0) return git.stdout.split('\0').filter((file) => file !== '');
  return walk(root, '');
}

function walk(root: string, folder: string): string[] {
  return readdirSync(join(root, folder), { withFileTypes: true }).flatMap((entry) => {
    const path = folder === '' ? entry.name : `${folder}/${entry.name}`;
    if (!entry.isDirectory()) return [path];
    const isSkipped = SKIPPED_DIRS.has(entry.name) || (entry.name.startsWith('.') && entry.name !== '.github');
    return isSkipped ? [] : walk(root, path);
  });
}

function isScanned(file: string): boolean {
  if (file === THIS_FILE || !TEXT_EXTENSIONS.test(file)) return false;
  if (file.split('/').some((part) => SKIPPED_DIRS.has(part))) return false;
  try {
    return statSync(join(PACKAGE_ROOT, file)).size <= MAX_SCANNED_BYTES;
  } catch {
    return false; // listed by git but deleted in the working tree
  }
}

/** One line per citation that does not resolve, e.g. `src/x.ts:3: kohya-lora-format.md is not in the repository`. */
function brokenCitations(root: string): string[] {
  const files = repositoryFiles(root);
  const fileSet = new Set(files);
  const problems: string[] = [];
  for (const file of files.filter(isScanned)) {
    for (const citation of findCitations(readFileSync(join(root, file), 'utf8'))) {
      const where = `${file}:${citation.line}`;
      const target = resolveCitation(citation.doc, file, fileSet);
      if (target === undefined) {
        problems.push(`${where}: ${citation.doc} is not in the repository`);
        continue;
      }
      if (citation.sections.length === 0 && citation.anchor === undefined) continue;
      const { sections, anchors } = headingsOf(readFileSync(join(root, target), 'utf8'));
      for (const section of citation.sections.filter((s) => !sections.has(s))) {
        problems.push(`${where}: ${target} has no section ${section}`);
      }
      if (citation.anchor !== undefined && !anchors.has(citation.anchor)) {
        problems.push(`${where}: ${target} has no heading #${citation.anchor}`);
      }
    }
  }
  return problems;
}

describe('findCitations', () => {
  it('reads paths with their section lists and anchors, and leaves URLs and patterns alone', () => {
    const text = [
      '// Shapes (docs/formats/kohya-lora.md §4); metadata (docs/formats/ss-metadata.md §2, §3).',
      'See [the map](diffusers-peft-lora.md#4-diffusers-unet--ldm-unet-paths) and ../README.md.',
      'Upstream: https://github.com/huggingface/safetensors/blob/main/README.md, `*.md`, `{name}.md`.',
      '# vite `.github/commit-convention.md` §1.1 and §2',
    ].join('\n');
    expect(findCitations(text)).toEqual([
      { doc: 'docs/formats/kohya-lora.md', sections: ['4'], line: 1 },
      { doc: 'docs/formats/ss-metadata.md', sections: ['2', '3'], line: 1 },
      { doc: 'diffusers-peft-lora.md', sections: [], anchor: '4-diffusers-unet--ldm-unet-paths', line: 2 },
      { doc: '../README.md', sections: [], line: 2 },
      { doc: '.github/commit-convention.md', sections: ['1.1', '2'], line: 4 },
    ]);
  });

  it('resolves a path against the citing file first, then the repository root', () => {
    const files = new Set(['README.md', 'bench/interop/README.md', 'docs/formats/kohya-lora.md']);
    expect(resolveCitation('README.md', 'bench/interop/comfyui_check.py', files)).toBe('bench/interop/README.md');
    expect(resolveCitation('README.md', 'src/lora/keys.ts', files)).toBe('README.md');
    expect(resolveCitation('../../README.md', 'docs/formats/x.md', files)).toBe('README.md');
    expect(resolveCitation('kohya-lora-format.md', 'src/lora/keys.ts', files)).toBeUndefined();
  });

  it('numbers sections and anchors headings the way the citations write them', () => {
    const markdown = '# Title\n## 3. UNet names: SD 1.x/2.x versus SDXL\n### 1.1 Key spellings\n';
    const { sections, anchors } = headingsOf(markdown);
    expect([...sections]).toEqual(['3', '1.1']);
    expect(anchors.has('3-unet-names-sd-1x2x-versus-sdxl')).toBe(true);
    expect(anchors.has('11-key-spellings')).toBe(true);
  });
});

describe('the repository', () => {
  it('carries every document, section and heading its files cite', () => {
    // Cite a document of another project by its URL; write ours under docs/ and cite it by path and section.
    expect(brokenCitations(PACKAGE_ROOT)).toEqual([]);
  });
});
