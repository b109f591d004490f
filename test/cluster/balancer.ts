import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';
import { trackFolder, trackProcess, untrackFolder } from './cleanup.js';
import { eventually, freePort } from './harness.js';

/**
 * haproxy in front of the replicas, run from the shipped
 * deploy/galera/haproxy.cfg (its checks, timeouts, retries and balancing),
 * with only what differs on one machine replaced: the listening address, the
 * replicas' addresses, and a stats socket to read the servers' states from.
 * So CI and the cluster bench use what operators are told to use.
 */

const SHIPPED = join(packageRoot, 'deploy/galera/haproxy.cfg');

export interface Balancer {
  /** `http://127.0.0.1:<port>`: the front end. */
  url: string;
  /** Each server's state as haproxy sees it (`UP`, `DOWN`, `UP 1/2`, ...), by name (replica1, ...). */
  states(): Promise<Record<string, string>>;
  /** Resolves once haproxy has every server UP (its checks pass `rise` times). */
  allUp(ms?: number): Promise<void>;
  close(): Promise<void>;
}

/** The shipped configuration, pointed at `backends` (ports on 127.0.0.1) and listening on `port`. */
export function balancerConfig(port: number, backends: number[], statsSocket: string): string {
  const shipped = readFileSync(SHIPPED, 'utf8');
  if (!/^\s+bind :8080$/m.test(shipped) || !/^\s+server replica1 /m.test(shipped))
    throw new Error(`${SHIPPED} no longer has the bind and server lines this harness replaces`);
  const servers = backends.map((p, i) => `    server replica${i + 1} 127.0.0.1:${p} check`).join('\n');
  return `${shipped
    .replace(/^global$/m, `global\n    stats socket ${statsSocket} mode 600 level admin`)
    .replace(/^\s+bind :8080$/m, `    bind 127.0.0.1:${port}`)
    .replace(/^\s+server replica\d+ .*\n?/gm, '')
    .trimEnd()}\n${servers}\n`;
}

export async function startBalancer(backends: number[]): Promise<Balancer> {
  const dir = mkdtempSync(join(tmpdir(), 'billing-auth-haproxy-'));
  trackFolder(dir);
  const port = await freePort();
  const socket = join(dir, 'stats.sock');
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, balancerConfig(port, backends, socket));
  const valid = spawnSync('haproxy', ['-c', '-q', '-f', file], { encoding: 'utf8' });
  if (valid.status !== 0) throw new Error(`haproxy rejects the configuration:\n${valid.stdout}${valid.stderr}`);
  let output = '';
  // -db: stay in the foreground, so the harness owns (and ends) the process.
  const child: ChildProcess = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  trackProcess(child);
  child.stdout?.on('data', (c: Buffer) => (output += String(c)));
  child.stderr?.on('data', (c: Buffer) => (output += String(c)));

  const states = async (): Promise<Record<string, string>> => {
    const csv = await statsCsv(socket);
    const [header, ...rows] = csv.replace(/^# /, '').trim().split('\n');
    const columns = (header ?? '').split(',');
    const at = (name: string) => columns.indexOf(name);
    const result: Record<string, string> = {};
    for (const row of rows.map((r) => r.split(','))) {
      const server = row[at('svname')] as string;
      if (row[at('pxname')] === 'replicas' && server !== 'BACKEND') result[server] = row[at('status')] as string;
    }
    return result;
  };

  const balancer: Balancer = {
    url: `http://127.0.0.1:${port}`,
    states,
    async allUp(ms = 60_000) {
      await eventually(
        `haproxy marks every replica UP (${output.slice(-2000)})`,
        async () => {
          const now = Object.values(await states());
          return now.length === backends.length && now.every((s) => s === 'UP');
        },
        ms,
      );
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
      untrackFolder(dir);
    },
  };
  try {
    await eventually(`haproxy answers on its stats socket (${output.slice(-2000)})`, async () => (await states()) !== undefined, 20_000);
    return balancer;
  } catch (err) {
    await balancer.close();
    throw err;
  }
}

/** `show stat` on haproxy's admin socket: CSV, one line per proxy and server. */
function statsCsv(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(path, () => socket.end('show stat\n'));
    socket.setTimeout(5_000, () => socket.destroy(new Error('haproxy stats socket timed out')));
    socket.on('data', (c: Buffer) => (text += String(c)));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}
