/**
 * Every relative link in README.md and docs/*.md resolves: the file or folder exists, and a `#fragment` names a
 * heading of the target page (GitHub's anchor rules: lower case, punctuation dropped, spaces to dashes, repeats
 * numbered). Links inside code blocks and inline code are not links; absolute URLs are not checked (no network).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The text outside fenced code blocks and inline code spans, line by line (line numbers kept). */
function prose(markdown: string): string[] {
  let fence: string | undefined;
  return markdown.split('\n').map((line) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker !== undefined && (fence === undefined || marker.startsWith(fence))) {
      fence = fence === undefined ? marker : undefined;
      return '';
    }
    return fence === undefined ? line.replace(/(`+)[^`]*?\1/g, '') : '';
  });
}

/** GitHub's anchor for a heading text. */
function slug(heading: string): string {
  return heading
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every anchor of a page: one per heading, repeats numbered as GitHub does. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  let fence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(`{3,}|~{3,})/.test(line)) fence = !fence;
    const heading = fence ? null : /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    result.add(n === 0 ? base : `${base}-${n}`);
  }
  return result;
}

interface Link {
  file: string;
  line: number;
  target: string;
}

function links(file: string): Link[] {
  const found: Link[] = [];
  prose(readFileSync(file, 'utf8')).forEach((text, i) => {
    for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      found.push({ file, line: i + 1, target: m[1]! });
    }
  });
  return found;
}

const pages = [
  join(ROOT, 'README.md'),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(ROOT, 'docs', f)),
];

test('the anchor rules match GitHub for the headings these pages use', () => {
  assert.equal(slug('Without azd: plain `az` CLI'), 'without-azd-plain-az-cli');
  assert.equal(
    slug('NODE_EXTRA_CA_CERTS from your shell and from local.settings.json'),
    'node_extra_ca_certs-from-your-shell-and-from-localsettingsjson',
  );
  assert.equal(
    slug('`GET /api/secrets/{name}[?version=<32 hex>]` — function key'),
    'get-apisecretsnameversion32-hex--function-key',
  );
  assert.deepEqual([...anchors('# A\n## B\n```\n## C\n```\n## B\n')], ['a', 'b', 'b-1']);
});

test('every relative link in README.md and docs/*.md points at a file that exists and a heading it has', () => {
  const problems: string[] = [];
  let checked = 0;
  for (const page of pages) {
    for (const link of links(page)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link.target)) continue; // https:, mailto:, ...
      checked += 1;
      const [path = '', fragment] = link.target.split('#', 2);
      const target = path === '' ? page : resolve(dirname(page), decodeURIComponent(path));
      const where = `${relative(ROOT, link.file)}:${link.line} → ${link.target}`;
      if (!existsSync(target)) {
        problems.push(`${where}: no such file`);
        continue;
      }
      if (fragment !== undefined && fragment !== '') {
        if (statSync(target).isDirectory() || !target.endsWith('.md')) {
          problems.push(`${where}: a #fragment on something that is not a Markdown page`);
        } else if (!anchors(readFileSync(target, 'utf8')).has(fragment)) {
          problems.push(`${where}: ${relative(ROOT, target)} has no heading with that anchor`);
        }
      }
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(checked >= 20, `only ${checked} relative links found: is the link pattern still right?`);
});
