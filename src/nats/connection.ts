import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { credsAuthenticator, nkeyAuthenticator } from '@nats-io/nats-core';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';
import type { ProcessTracker } from '../processes/tracker.js';
import { type EmbeddedNats, startEmbeddedNats } from './embedded-server.js';

export type NatsStatus = 'connected' | 'reconnecting' | 'disconnected' | 'closed';

export interface NatsLink {
  nc: NatsConnection;
  /** The servers castpool was given, or the embedded server's URL. */
  servers: string[];
  embedded?: EmbeddedNats;
  status(): NatsStatus;
  /** When the connection was last lost (ISO), while not connected. */
  downSince(): string | undefined;
  close(): Promise<void>;
}

/**
 * Connects for a long-lived service: reconnects forever, pings often so a dead server is noticed in
 * seconds, and waits for a server that is not up yet. Without `nats.url` it starts its own
 * `nats-server` (loopback, JetStream, store under dataDir) and stops it on close.
 */
export async function connectNats(
  config: Config,
  processes: ProcessTracker,
  log: FastifyBaseLogger,
  nodeId: string,
  onReconnect: () => void = () => {},
): Promise<NatsLink> {
  const { nats } = config;
  let embedded: EmbeddedNats | undefined;
  let servers = nats.url
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (servers.length === 0) {
    embedded = await startEmbeddedNats({
      binary: nats.serverPath,
      // The service PID in the name: a successor's start-up sweep removes what a killed one left.
      storeDir: join(config.dataDir, `nats-${process.pid}-${nodeId}`),
      port: nats.embeddedPort,
      name: `castpool-${nodeId}`,
      processes,
    });
    servers = [embedded.url];
    log.info({ serverPid: embedded.pid }, 'embedded nats-server started (loopback, nkey auth)');
  }
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name: `castpool-${nodeId}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      pingInterval: nats.pingIntervalMs,
      maxPingOut: 2,
      waitOnFirstConnect: true,
      timeout: nats.connectTimeoutMs,
      ...(embedded
        ? { authenticator: nkeyAuthenticator(embedded.seed) }
        : nats.credsFile
          ? { authenticator: credsAuthenticator(new Uint8Array(await readFile(nats.credsFile))) }
          : {}),
      ...(nats.user && !embedded ? { user: nats.user, pass: nats.pass } : {}),
      ...(nats.token && !embedded ? { token: nats.token } : {}),
    });
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  let status: NatsStatus = 'connected';
  let downSince: string | undefined;
  void (async () => {
    for await (const event of nc.status()) {
      if (event.type === 'disconnect') {
        status = 'disconnected';
        downSince ??= new Date().toISOString();
        log.warn({ server: 'server' in event ? event.server : undefined }, 'NATS disconnected');
      } else if (event.type === 'reconnecting') {
        status = 'reconnecting';
      } else if (event.type === 'reconnect') {
        status = 'connected';
        downSince = undefined;
        onReconnect();
        log.info({ server: 'server' in event ? event.server : undefined }, 'NATS reconnected');
      }
    }
  })();
  void nc.closed().then(() => {
    status = 'closed';
  });
  log.info({ servers: nc.getServer() }, 'NATS connected');
  return {
    nc,
    servers,
    embedded,
    status: () => status,
    downSince: () => downSince,
    async close() {
      await nc.drain().catch(() => nc.close());
      await embedded?.stop();
    },
  };
}
