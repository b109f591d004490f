import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { packageRoot } from '../../src/paths.js';
import { trackFolder, trackProcess, untrackFolder } from './cleanup.js';

/**
 * A 3-node MariaDB Galera cluster on loopback for `npm run test:cluster` and
 * `BENCH_CLUSTER=1 npm run bench`:
 * own data folders under one temporary folder, own ports (free ones the OS
 * hands out, so it never meets the shared MariaDB on 3306 or a second run),
 * started with the shipped deploy/galera/billing-auth.cnf so CI tests exactly
 * what operators are told to use. Every process it starts is killed and the
 * folder removed by `close()`, and by a process-exit hook if the run dies.
 */

const MARIADBD = '/usr/sbin/mariadbd';
const SETTINGS = join(packageRoot, 'deploy/galera/billing-auth.cnf');
/**
 * Run as root, the nodes run as `mysql` (as packaged MariaDB does): rsync's
 * state-transfer daemon, started by the joiner, drops root to `nobody`, which
 * could not write a root-owned data folder.
 */
const serverUser = process.getuid?.() === 0 ? 'mysql' : undefined;
const userArgs = serverUser ? [`--user=${serverUser}`] : [];

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface GaleraNode {
  name: string;
  /** The MariaDB client port. */
  port: number;
  /** `mysql://root@127.0.0.1:<port>/<database>`. */
  url(database: string): string;
  /** Starts mariadbd (joining the others, or bootstrapping a new cluster) and waits until it is Synced. */
  start(options?: { newCluster?: boolean }): Promise<void>;
  /** `kill -9`: no goodbye to the cluster. */
  kill(): Promise<void>;
  /** A connection of its own to this node (the caller ends it), e.g. to hold a transaction open. */
  connect(): Promise<mysql.Connection>;
  /** A statement on this node (a fresh connection each time). */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** SHOW GLOBAL STATUS value (wsrep_cluster_status, wsrep_local_state, ...). */
  status(name: string): Promise<string | undefined>;
  /** The error log so far (for failure messages). */
  log(): string;
}

export interface Cluster {
  nodes: GaleraNode[];
  root: string;
  close(): Promise<void>;
}

export async function startCluster(size = 3): Promise<Cluster> {
  const root = mkdtempSync(join(tmpdir(), 'billing-auth-galera-'));
  trackFolder(root);
  chmodSync(root, 0o755);
  const ports = await Promise.all(Array.from({ length: size * 4 }, () => freePort()));
  const galeraPorts = ports.slice(size, 2 * size);
  const address = `gcomm://${galeraPorts.map((p) => `127.0.0.1:${p}`).join(',')}`;
  const nodes = Array.from({ length: size }, (_, i) =>
    galeraNode(`node${i + 1}`, join(root, `node${i + 1}`), {
      port: ports[i] as number,
      galera: galeraPorts[i] as number,
      ist: ports[2 * size + i] as number,
      sst: ports[3 * size + i] as number,
      clusterAddress: address,
    }),
  );
  const cluster: Cluster = {
    nodes,
    root,
    async close() {
      await Promise.all(nodes.map((n) => n.kill()));
      rmSync(root, { recursive: true, force: true });
      untrackFolder(root);
    },
  };
  try {
    const [first, ...others] = nodes as [GaleraNode, ...GaleraNode[]];
    await first.start({ newCluster: true });
    // One joiner at a time: an rsync donor serves one state transfer at once.
    for (const node of others) await node.start();
    return cluster;
  } catch (err) {
    const logs = nodes.map((n) => `--- ${n.name}:\n${n.log()}`).join('\n');
    await cluster.close();
    throw new Error(`the Galera cluster did not start: ${String(err)}\n${logs}`, { cause: err });
  }
}

/**
 * One MariaDB server started the same way and with the same settings, minus
 * Galera (`wsrep_on=OFF`, no provider): what `BENCH_CLUSTER=single` compares
 * the cluster with, on the same machine in the same conditions.
 */
export async function startStandalone(): Promise<Cluster> {
  const root = mkdtempSync(join(tmpdir(), 'billing-auth-mariadb-'));
  trackFolder(root);
  chmodSync(root, 0o755);
  const node = galeraNode('single', join(root, 'single'), { port: await freePort() });
  const server: Cluster = {
    nodes: [node],
    root,
    async close() {
      await node.kill();
      rmSync(root, { recursive: true, force: true });
      untrackFolder(root);
    },
  };
  try {
    await node.start();
    return server;
  } catch (err) {
    await server.close();
    throw new Error(`MariaDB did not start: ${String(err)}\n${node.log()}`, { cause: err });
  }
}

/** A Galera node's ports; only `port` for a standalone server. */
interface NodePorts {
  port: number;
  galera?: number;
  ist?: number;
  sst?: number;
  clusterAddress?: string;
}

function galeraNode(name: string, dir: string, ports: NodePorts): GaleraNode {
  const galera = ports.clusterAddress !== undefined;
  const datadir = join(dir, 'data');
  const errorLog = join(dir, 'error.log');
  let child: ChildProcess | undefined;
  mkdirSync(datadir, { recursive: true });
  if (serverUser) spawnSync('chown', ['-R', `${serverUser}:`, dir]);
  const install = spawnSync(
    'mariadb-install-db',
    ['--no-defaults', `--datadir=${datadir}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...userArgs],
    { encoding: 'utf8', timeout: 120_000 },
  );
  if (install.status !== 0) throw new Error(`mariadb-install-db for ${name} failed:\n${install.stdout}\n${install.stderr}`);

  const connect = () => mysql.createConnection({ host: '127.0.0.1', port: ports.port, user: 'root', connectTimeout: 2_000 });
  const query = async <T>(sql: string): Promise<T[]> => {
    const conn = await connect();
    try {
      const [rows] = await conn.query(sql);
      return rows as T[];
    } finally {
      conn.destroy();
    }
  };
  const status = async (variable: string) => {
    const rows = await query<{ Value: string }>(`SHOW GLOBAL STATUS LIKE '${variable}'`);
    return rows[0]?.Value;
  };
  const log = () => spawnSync('tail', ['-n', '400', errorLog], { encoding: 'utf8' }).stdout;

  return {
    name,
    port: ports.port,
    url: (database) => `mysql://root@127.0.0.1:${ports.port}/${database}`,
    connect,
    query,
    status,
    log,
    async start(options = {}) {
      const args = [
        `--defaults-file=${SETTINGS}`,
        ...userArgs,
        `--datadir=${datadir}`,
        `--port=${ports.port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(dir, 'mysqld.sock')}`,
        `--pid-file=${join(dir, 'mysqld.pid')}`,
        `--log-error=${errorLog}`,
        '--skip-name-resolve',
        // Small: three of these share a CI machine with the service replicas.
        '--innodb-buffer-pool-size=32M',
        '--innodb-log-file-size=16M',
        '--max-connections=200',
        ...(galera
          ? [
              `--wsrep-cluster-address=${ports.clusterAddress}`,
              `--wsrep-node-address=127.0.0.1:${ports.galera}`,
              `--wsrep-node-name=${name}`,
              `--wsrep-sst-receive-address=127.0.0.1:${ports.sst}`,
              `--wsrep-provider-options=base_port=${ports.galera};gmcast.listen_addr=tcp://127.0.0.1:${ports.galera};ist.recv_addr=127.0.0.1:${ports.ist};gcache.size=64M`,
              ...(options.newCluster ? ['--wsrep-new-cluster'] : []),
            ]
          : ['--wsrep-on=OFF', '--wsrep-provider=none']),
      ];
      // A node killed with -9 left a grastate without a position: it rejoins by a full state transfer.
      child = spawn(MARIADBD, args, { stdio: 'ignore' });
      trackProcess(child);
      const started = child;
      const deadline = Date.now() + 120_000;
      for (;;) {
        if (started.exitCode !== null || started.signalCode !== null) throw new Error(`${name} exited while starting:\n${log()}`);
        if (!galera && (await query('SELECT 1').then(() => true, () => false))) return;
        const state = galera ? await status('wsrep_local_state').catch(() => undefined) : undefined;
        if (state === '4' && (await status('wsrep_ready').catch(() => undefined)) === 'ON') return;
        if (Date.now() > deadline) throw new Error(`${name} was not ${galera ? 'Synced' : 'up'} within 120 s:\n${log()}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async kill() {
      const current = child;
      if (!current || current.exitCode !== null || current.signalCode !== null) return;
      const exited = once(current, 'exit');
      current.kill('SIGKILL');
      await exited;
    },
  };
}

/** Waits until `check` holds (polling), failing with `what` after `ms`. */
export async function eventually(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
