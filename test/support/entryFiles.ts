/**
 * The files package.json `main` names, as the Functions Node.js worker finds them: `main` may be a glob (here
 * `dist/src/{index.js,functions/*.js}`), which the worker expands against the app folder and loads each match of.
 * Hand-written (one brace group, `*` within a file name: the two forms Microsoft's docs show for `main`) so the
 * tests need no glob library.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { ROOT } from './projectRoot.js';

/** `main` of the project's package.json. */
export function packageMain(root = ROOT): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main: string }).main;
}

/** A `main` value expanded to absolute paths of existing files, sorted. */
export function expandMain(main: string, root = ROOT): string[] {
  const brace = /\{([^{}]*)\}/.exec(main);
  const patterns = brace
    ? brace[1]!.split(',').map((alt) => main.slice(0, brace.index) + alt + main.slice(brace.index + brace[0].length))
    : [main];
  const files = patterns.flatMap((pattern) => {
    const full = join(root, ...pattern.split('/'));
    const name = posix.basename(pattern);
    if (!name.includes('*')) return existsSync(full) ? [full] : [];
    const dir = dirname(full);
    const re = new RegExp(
      `^${name
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*')}$`,
    );
    return existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => re.test(f))
          .map((f) => join(dir, f))
      : [];
  });
  return [...new Set(files)].sort();
}

/** What the worker loads for this project: package.json `main`, expanded. */
export function entryFiles(root = ROOT): string[] {
  return expandMain(packageMain(root), root);
}
