import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessTracker } from '../actors/processes.js';

export interface EmbeddedNats {
  /** nats://127.0.0.1:<port> */
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

const LISTENING = /Listening for client connections on [^\s]*:(\d+)/;

/**
 * Starts the Debian `nats-server` as a tracked child (its own process group): loopback only,
 * JetStream with its store under `storeDir`. `port` 0 lets the server pick a free one.
 */
export async function startEmbeddedNats(options: {
  binary: string;
  storeDir: string;
  port: number;
  name: string;
  processes: ProcessTracker;
  startTimeoutMs?: number;
}): Promise<EmbeddedNats> {
  mkdirSync(options.storeDir, { recursive: true });
  const args = ['-a', '127.0.0.1', '-p', String(options.port === 0 ? -1 : options.port)];
  args.push('-js', '-sd', join(options.storeDir), '-n', options.name);
  const child = spawn(options.binary, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  let log = '';
  const port = await Promise.race([
    spawnError,
    new Promise<number>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        log = (log + chunk.toString()).slice(-4000);
        const match = LISTENING.exec(log);
        if (match) resolve(Number(match[1]));
      };
      // nats-server logs to stderr; keep draining both so a full pipe never blocks it.
      child.stderr?.on('data', onData);
      child.stdout?.on('data', onData);
      child.once('exit', (code, signal) =>
        reject(
          new Error(`nats-server exited (${signal ?? code}) before listening: ${log.trim().slice(-500)}`),
        ),
      );
      setTimeout(
        () => reject(new Error(`nats-server did not listen within ${options.startTimeoutMs ?? 10_000} ms`)),
        options.startTimeoutMs ?? 10_000,
      ).unref();
    }),
  ]).catch(async (error) => {
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
    throw error;
  });
  const tracked = options.processes.track(child, 'nats-server', options.name);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    pid: tracked.pid,
    stop: () => options.processes.stop(tracked.pid, 3000),
  };
}
