/**
 * `BENCH_CLUSTER=1 npm run bench`: the same cases, run through haproxy (the
 * shipped deploy/galera/haproxy.cfg) over 3 replicas of the built service,
 * each on its own node of a 3-node MariaDB Galera cluster on loopback, all
 * started by the cluster suite's harness (test/cluster). Multi-writer, as
 * shipped: every replica writes to its own node.
 *
 * `BENCH_CLUSTER=single`: the same harness starts one MariaDB server with the
 * same binary and settings minus Galera, and the bench runs as usual against
 * it (one replica, no balancer): the single-MariaDB figures to set beside the
 * cluster's, from the same machine in the same conditions (the shared server
 * on 3306 also serves other work).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { startBalancer } from '../test/cluster/balancer.js';
import { trackProcess } from '../test/cluster/cleanup.js';
import { freePort, startCluster, startStandalone, type Cluster } from '../test/cluster/harness.js';
import { packageRoot } from '../src/paths.js';

const DATABASE = 'bench';

/** The running service under load: one process, or replicas behind a balancer. */
export interface Served {
  /** Where the load generator sends its requests. */
  url: string;
  /** The service's process, when it is one (its CPU time per request is reported); absent on the cluster. */
  pid?: number;
  /** The highest peak RSS (VmHWM) of the service's processes, in MB. */
  peakRssMb(): number;
  /** Ends the service: SIGTERM (so a profiled one writes its profile) or SIGKILL. */
  stop(graceful: boolean): Promise<void>;
}

export interface BenchDatabase {
  /** The storage label of the report and of the result files' names. */
  storage: string;
  /** Where the bench seeds (on Galera, the first node: the others receive it by replication). */
  databaseUrl: string;
  /** Starts the service the cluster way; absent: run.ts starts its one process as usual. */
  serve?: (env: Record<string, string>, nodeArgs: string[]) => Promise<Served>;
  close(): Promise<void>;
}

/** What BENCH_CLUSTER asks for, or undefined (the normal bench). */
export async function benchDatabase(): Promise<BenchDatabase | undefined> {
  const mode = process.env.BENCH_CLUSTER;
  if (!mode || mode === '0') return undefined;
  if (mode !== '1' && mode !== 'single') throw new Error(`BENCH_CLUSTER is 1 (3-node Galera, 3 replicas, haproxy) or single, not ${mode}`);
  console.log(mode === 'single' ? 'starting one MariaDB server on loopback...' : 'starting a 3-node Galera cluster on loopback...');
  const cluster = mode === 'single' ? await startStandalone() : await startCluster(3);
  const first = cluster.nodes[0] as Cluster['nodes'][number];
  await first.query(`CREATE DATABASE ${DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  return {
    storage: mode === 'single' ? 'mariadb-loopback' : 'galera-3-replicas',
    databaseUrl: first.url(DATABASE),
    serve: mode === 'single' ? undefined : (env, nodeArgs) => serveReplicas(cluster, env, nodeArgs),
    close: () => cluster.close(),
  };
}

/** One built `serve` per node, each on its own port, then haproxy in front once all are ready. */
async function serveReplicas(cluster: Cluster, env: Record<string, string>, nodeArgs: string[]): Promise<Served> {
  const replicas: ChildProcess[] = [];
  const stop = async (graceful: boolean) => {
    await Promise.all(
      replicas.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill(graceful ? 'SIGTERM' : 'SIGKILL');
        await exited;
      }),
    );
  };
  try {
    const ports = await Promise.all(cluster.nodes.map(() => freePort()));
    for (const [i, node] of cluster.nodes.entries()) {
      const child = spawn(process.execPath, [...nodeArgs, 'dist/src/cli/index.js', 'serve'], {
        cwd: packageRoot,
        env: { ...process.env, ...env, PORT: String(ports[i]), DATABASE_URL: node.url(DATABASE) },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      trackProcess(child);
      replicas.push(child);
    }
    await Promise.all(replicas.map((child, i) => waitForReady(`http://127.0.0.1:${ports[i]}`, child)));
    const balancer = await startBalancer(ports);
    await balancer.allUp();
    console.log(`3 replicas (ports ${ports.join(', ')}) on nodes ${cluster.nodes.map((n) => n.port).join(', ')}, haproxy at ${balancer.url}`);
    return {
      url: balancer.url,
      peakRssMb: () => Math.max(...replicas.map((child) => (child.pid ? peakRssMb(child.pid) : Number.NaN))),
      async stop(graceful) {
        await stop(graceful);
        await balancer.close();
      },
    };
  } catch (err) {
    await stop(false);
    throw err;
  }
}

async function waitForReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`a replica exited with ${child.exitCode} (did \`npm run build\` run?)`);
    try {
      if ((await fetch(`${url}/health/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the replica at ${url} did not become ready within 90 s`);
}

/** Peak resident set size of a process (Linux VmHWM), in MB; NaN once it has gone. */
function peakRssMb(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
