import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../../src/paths.js';

/**
 * The committed openapi.yaml passes the two linters API tooling commonly runs,
 * with no errors (warnings are allowed): Redocly's `recommended` ruleset
 * (redocly.yaml) and Spectral's `spectral:oas` (.spectral.yaml). Both run
 * offline; Redocly's usage telemetry and update check are turned off.
 */
function lint(bin: string, args: string[]) {
  const run = spawnSync(join(packageRoot, 'node_modules', '.bin', bin), args, {
    cwd: packageRoot,
    encoding: 'utf8',
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(run.error, undefined, String(run.error));
  return run;
}

test('@redocly/cli lint (recommended) finds no error in openapi.yaml', () => {
  const run = lint('redocly', ['lint', 'openapi.yaml', '--format=json']);
  const report = JSON.parse(run.stdout) as { totals: { errors: number }; problems: Array<{ severity: string; ruleId: string; message: string }> };
  const errors = report.problems.filter((p) => p.severity === 'error');
  assert.deepEqual(errors, [], run.stderr);
  assert.equal(report.totals.errors, 0);
  assert.equal(run.status, 0, run.stderr);
});

test('@stoplight/spectral-cli lint (spectral:oas) finds no error in openapi.yaml', () => {
  const run = lint('spectral', ['lint', 'openapi.yaml', '--ruleset', '.spectral.yaml', '--fail-severity=error', '--format=json', '--quiet']);
  // Spectral's severities: 0 error, 1 warning, 2 info, 3 hint.
  const problems = JSON.parse(run.stdout || '[]') as Array<{ severity: number; code: string; message: string; path: string[] }>;
  assert.deepEqual(
    problems.filter((p) => p.severity === 0),
    [],
    run.stderr,
  );
  assert.equal(run.status, 0, run.stderr);
});
