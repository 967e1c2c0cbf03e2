import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { TEST_ROOT } from './test-root.js';

/** A free loopback port (the kernel's choice, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface TestNatsServer {
  url: string;
  port: number;
  /** Stops the server (SIGTERM, then SIGKILL); its store stays for a restart. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
}

function waitForListening(child: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${log}`)), 15_000);
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (/Server is ready/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr?.on('data', onData);
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited ${code}: ${log}`));
    });
  });
}

/** A real nats-server with JetStream, as a test's own process (its store under the test root). */
export async function startNatsServer(
  options: { name?: string; port?: number; clusterPort?: number; routes?: number[] } = {},
): Promise<TestNatsServer> {
  const port = options.port ?? (await freePort());
  const name = options.name ?? `test-${port}`;
  const store = mkdtempSync(join(TEST_ROOT, `nats-${name}-`));
  let child: ChildProcess | undefined;
  const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store, '--server_name', name];
  if (options.clusterPort) {
    args.push('--cluster_name', 'castpool-test', '--cluster', `nats://127.0.0.1:${options.clusterPort}`);
    if (options.routes?.length)
      args.push('--routes', options.routes.map((p) => `nats://127.0.0.1:${p}`).join(','));
  }
  const server: TestNatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    async start() {
      child = spawn('nats-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      await waitForListening(child, `nats-server ${name}`);
    },
    async stop(signal = 'SIGTERM') {
      const running = child;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill(signal);
      const timer = setTimeout(() => running.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
  await server.start();
  return server;
}

/** Three routed servers with clustered JetStream; resolves once all three are ready. */
export async function startNatsCluster(): Promise<TestNatsServer[]> {
  const clusterPorts = [await freePort(), await freePort(), await freePort()];
  return Promise.all(
    clusterPorts.map((clusterPort, i) =>
      startNatsServer({
        name: `n${i + 1}`,
        clusterPort,
        routes: clusterPorts.filter((p) => p !== clusterPort),
      }),
    ),
  );
}
