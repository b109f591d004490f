import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');

/** Where the bundle goes (gitignored): the static server serves it as /app.js. */
export const DIST = join(here, 'dist');

/**
 * Bundles the portal's TypeScript (src/main.ts) and the typed client into one
 * ES module for the browser. The client is taken from this repository's
 * clients/typescript, as a portal of its own would take it from npm.
 */
export async function buildPortal(outdir = DIST): Promise<void> {
  const client = join(repo, 'clients', 'typescript', 'src', 'index.ts');
  await build({
    entryPoints: [join(here, 'src', 'main.ts')],
    outfile: join(outdir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    sourcemap: true,
    logLevel: 'warning',
    alias: existsSync(client) ? { '@billing-auth/client': client } : {},
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildPortal();
  console.log(`portal bundled into ${DIST}`);
}
