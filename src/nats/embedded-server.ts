import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nkeys } from '@nats-io/nats-core';
import type { ProcessTracker } from '../processes/tracker.js';

export interface EmbeddedNats {
  /** nats://127.0.0.1:<port> */
  url: string;
  port: number;
  pid: number;
  /** The nkey seed of the only user the server accepts (in memory only; never in argv, env or logs). */
  seed: Uint8Array;
  /** Stops the server and removes its store (registry contents, JetStream files). */
  stop(): Promise<void>;
}

const LISTENING = /Listening for client connections on [^\s]*:(\d+)/;

/**
 * Starts the Debian `nats-server` as a tracked child (its own process group): loopback only,
 * JetStream with its store under `storeDir` (0700), and one nkey user generated now. The server's
 * config file holds only that user's public key, so no local process can connect without the seed
 * castpool keeps in memory. `port` 0 lets the server pick a free one.
 */
export async function startEmbeddedNats(options: {
  binary: string;
  storeDir: string;
  port: number;
  name: string;
  processes: ProcessTracker;
  startTimeoutMs?: number;
}): Promise<EmbeddedNats> {
  mkdirSync(options.storeDir, { recursive: true, mode: 0o700 });
  const user = nkeys.createUser();
  const configFile = join(options.storeDir, 'nats-server.conf');
  const quoted = (text: string) => JSON.stringify(text);
  writeFileSync(
    configFile,
    [
      `listen: ${quoted(`127.0.0.1:${options.port === 0 ? -1 : options.port}`)}`,
      `server_name: ${quoted(options.name)}`,
      `jetstream { store_dir: ${quoted(join(options.storeDir, 'js'))} }`,
      `authorization { users = [ { nkey: ${quoted(user.getPublicKey())} } ] }`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  // umask 077: the store files nats-server writes are the service's alone (0600, dirs 0700).
  const child = spawn('/bin/sh', ['-c', 'umask 077 && exec "$0" -c "$1"', options.binary, configFile], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
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
    rmSync(options.storeDir, { recursive: true, force: true });
    throw error;
  });
  const tracked = options.processes.track(child, 'nats-server', options.name);
  const seed = user.getSeed();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    pid: tracked.pid,
    seed,
    stop: async () => {
      await options.processes.stop(tracked.pid, 3000);
      rmSync(options.storeDir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}
