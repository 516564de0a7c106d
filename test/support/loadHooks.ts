/** Module-resolution hook (registered with node:module `register`) that appends every resolved URL to $LOAD_LOG. */
import { appendFileSync } from 'node:fs';

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string }> {
  const result = await next(specifier, context);
  if (process.env.LOAD_LOG) appendFileSync(process.env.LOAD_LOG, `${result.url}\n`);
  return result;
}
