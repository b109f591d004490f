import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Everything the cluster harness starts (mariadbd, haproxy) and every folder
 * it makes, so that one exit hook can end and remove them whatever happened:
 * a failed test, the test runner's timeout, CI's `timeout`, a bench run
 * interrupted with Ctrl-C.
 */
const running = new Set<ChildProcess>();
const folders = new Set<string>();

function cleanUp(): void {
  for (const child of running) child.kill('SIGKILL');
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
}
process.on('exit', cleanUp);
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.once(signal, () => {
    cleanUp();
    process.exit(1);
  });
}

/** Kills `child` at exit unless it has ended by then. */
export function trackProcess(child: ChildProcess): void {
  running.add(child);
  child.on('exit', () => running.delete(child));
}

/** Removes `folder` at exit unless `untrackFolder` was called (it was removed already). */
export function trackFolder(folder: string): void {
  folders.add(folder);
}

export function untrackFolder(folder: string): void {
  folders.delete(folder);
}
