import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { ROOT_PASSWORD, type TestApp } from '../../../test/helpers/app.js';
import { startService } from './helpers.js';

const run = promisify(execFile);
const clientDir = fileURLToPath(new URL('..', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

describe('the package as a portal installs it', () => {
  let t: TestApp;
  let baseUrl: string;
  let project: string;

  before(async () => {
    ({ t, baseUrl } = await startService());
    // A portal project with the built package in its node_modules, as `npm install` leaves it.
    project = mkdtempSync(join(tmpdir(), 'billing-auth-client-'));
    const installed = join(project, 'node_modules', '@billing-auth', 'client');
    mkdirSync(installed, { recursive: true });
    cpSync(join(clientDir, 'package.json'), join(installed, 'package.json'));
    await run(process.execPath, [tsc, '-p', join(clientDir, 'tsconfig.build.json'), '--outDir', join(installed, 'dist')]);
  });
  after(async () => {
    await t?.close();
    if (project) rmSync(project, { recursive: true, force: true });
  });

  test('the built package runs in plain Node.js (no TypeScript loader) against the service', async () => {
    writeFileSync(
      join(project, 'portal.mjs'),
      `import { createClient, BillingAuthFault } from '@billing-auth/client';
      const client = createClient({ baseUrl: process.argv[2] });
      const login = await client.Session.login({ login: 'root', password: process.argv[3], realm: 'admin' });
      const ping = await client.Session.ping();
      const fault = await client.Session.login({ login: 'root', password: 'wrong', realm: 'admin' }).catch((e) => e);
      console.log(JSON.stringify({ status: login.status, realm: ping.realm, fault: fault instanceof BillingAuthFault && fault.faultcode }));`,
    );
    const { stdout } = await run(process.execPath, [join(project, 'portal.mjs'), baseUrl, ROOT_PASSWORD], { cwd: project });
    assert.deepEqual(JSON.parse(stdout), { status: 'authenticated', realm: 'admin', fault: 'Server.Session.auth_failed' });
  });

  test('it bundles for the browser with no Node.js built-in', async () => {
    writeFileSync(join(project, 'page.js'), `import { createClient, localStorageStorage } from '@billing-auth/client';\nexport const client = createClient({ baseUrl: location.origin, storage: localStorageStorage() });\n`);
    // platform "browser" fails on any node: import or Node.js built-in module.
    const result = await build({ entryPoints: [join(project, 'page.js')], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
    assert.equal(result.errors.length, 0);
    assert.match(result.outputFiles[0]?.text ?? '', /refresh_access_token/);
  });
});
