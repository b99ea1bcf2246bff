import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Scalar's browser bundle from this install's node_modules, for GET /docs/scalar.js: the API
 * reference page loads nothing from a CDN. Found beside the package's main entry, since its
 * exports map does not list the bundle.
 */
export async function nodeReferenceScript(): Promise<string> {
  const entry = createRequire(import.meta.url).resolve('@scalar/api-reference');
  return readFile(join(dirname(entry), 'browser', 'standalone.js'), 'utf8');
}
