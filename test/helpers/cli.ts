import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';

const cliEntry = join(packageRoot, 'src/cli/index.ts');

/** Runs `billing-auth <args>` from the sources, as a user would run the built CLI. */
export function runCli(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', cliEntry, ...args], {
    cwd: packageRoot,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export interface RunningServer {
  child: ChildProcessWithoutNullStreams;
  url: string;
  port: number;
  /** Everything the process wrote so far, stdout and stderr. */
  output: () => string;
  /** Resolves once the output matches; fails with the output so far after `ms` or when the process has exited. */
  waitFor: (pattern: RegExp, ms?: number) => Promise<void>;
  /** Ends the process if it still runs (SIGKILL): call in `finally`, so a failed test leaves nothing behind. */
  kill: () => Promise<void>;
}

/** Starts `billing-auth serve` on a free port (PORT=0); resolves once it listens (fails after `startMs`). */
export function startServer(env: Record<string, string>, startMs = 30_000): Promise<RunningServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', cliEntry, 'serve'], {
    cwd: packageRoot,
    env: { PATH: process.env.PATH ?? '', PORT: '0', ...env },
  });
  let output = '';
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  };
  const waitFor = async (pattern: RegExp, ms = 15_000) => {
    const deadline = Date.now() + ms;
    while (!pattern.test(output)) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`the server exited (${child.exitCode ?? child.signalCode}) before ${pattern}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`no ${pattern} in the output within ${ms} ms:\n${output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void kill();
      reject(new Error(`server did not start:\n${output}`));
    }, startMs);
    const onData = (chunk: Buffer) => {
      output += String(chunk);
      const match = /Server listening at (http:\/\/127\.0\.0\.1:(\d+))/.exec(output);
      if (match?.[1] && match[2]) {
        clearTimeout(timer);
        resolve({ child, url: match[1], port: Number(match[2]), output: () => output, waitFor, kill });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
}
