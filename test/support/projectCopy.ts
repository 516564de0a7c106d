/**
 * node_modules for a copy of the project: every installed package is a symlink to the original's, except the
 * workspace's own package, which links to the copy's `packages/` — so what the copy builds and bundles is the
 * copy's package, not the original's (a symlink of the whole node_modules would resolve `functions-keyvault` to
 * the original tree).
 */
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

const WORKSPACE_PACKAGES = ['functions-keyvault'];

export function linkNodeModules(root: string, project: string): void {
  const from = join(root, 'node_modules');
  const to = join(project, 'node_modules');
  mkdirSync(to);
  for (const entry of readdirSync(from)) {
    const target = WORKSPACE_PACKAGES.includes(entry) ? join(project, 'packages', entry) : join(from, entry);
    symlinkSync(target, join(to, entry), 'junction');
  }
}
