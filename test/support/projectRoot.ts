/** The project's root (the folder with azure.yaml), found from this compiled file or the working directory. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findUp(start: string): string | undefined {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'azure.yaml'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

export const ROOT: string =
  findUp(dirname(fileURLToPath(import.meta.url))) ??
  findUp(process.cwd()) ??
  assert.fail('azure.yaml not found above the test files or the working directory');
