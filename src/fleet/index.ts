import type { Service } from '@nats-io/services';
import type { CommandSurface, Commands } from '../commands/index.js';
import { KvContextStore } from '../contexts/kv-context-store.js';
import { connectNats, type NatsLink } from '../nats/connection.js';
import type { FleetSeal } from '../nats/fleet-seal.js';
import { fleetSealFor } from '../nats/fleet-secret.js';
import { fits, RemoteEventSchema } from '../nats/record-schemas.js';
import { Registry } from '../nats/registry.js';
import type { CastpoolEvent } from '../observability/events.js';
import { settledWithin } from '../settled-within.js';
import type { Castpool } from '../system.js';
import { Leases } from './leases.js';
import { RegistrySync } from './registry-sync.js';
import { FleetRouter } from './router.js';
import { startService } from './service.js';
import { Takeover } from './takeover.js';

/** A context store that did not open is tried again this often. */
const CONTEXT_STORE_RETRY_MS = 3000;

export interface NatsHealth {
  status: 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'closed' | 'failed' | 'disabled';
  servers: string[];
  embedded: boolean;
  node: string;
  downSince?: string;
  error?: string;
}

type Listener = (event: CastpoolEvent) => void;

/**
 * castpool's NATS side, wired once: the connection (embedded server or the given cluster), the
 * fleet (registry, leases, routing, takeover), the command service and the event publisher.
 * Until NATS is connected the node serves its own sessions alone.
 */
export class NatsFace {
  private link?: NatsLink;
  private fleet?: { router: FleetRouter; sync: RegistrySync; leases: Leases; takeover: Takeover };
  private service?: Service;
  private heartbeat?: NodeJS.Timeout;
  private leaseTimer?: NodeJS.Timeout;
  private ticking = false;
  private renewing = false;
  private closed = false;
  private error?: string;
  private readonly remoteListeners = new Set<Listener>();
  private unsubscribeLocal?: () => void;
  /** Registry keys already reported as not the fleet's (said once each). */
  private readonly foreign = new Set<string>();
  /** The fleet's key: registry values and node-to-node commands are sealed with it. */
  private readonly seal: FleetSeal;

  constructor(
    private readonly castpool: Castpool,
    private readonly commands: Commands,
    private readonly baseUrl: () => string,
  ) {
    this.seal = fleetSealFor(castpool.config, castpool.log);
  }

  private get config() {
    return this.castpool.config;
  }

  /** Starts the embedded server (if any) and connects; resolves when connected or after `waitMs`. */
  async start(waitMs: number): Promise<void> {
    if (!this.config.nats.enabled) return; // this node alone, by configuration
    const connecting = connectNats(
      this.config,
      this.castpool.processes,
      this.castpool.log,
      this.config.nodeId,
      () => {
        this.fleet?.sync.reconnected();
        this.fleet?.leases.reconnected();
      },
    ).then(
      (link) => this.connected(link),
      (error: Error) => {
        this.error = error.message;
        this.castpool.log.error({ err: error }, 'NATS unavailable; serving this node alone');
      },
    );
    await settledWithin(connecting, waitMs);
  }

  private async connected(link: NatsLink): Promise<void> {
    if (this.closed) {
      await link.close();
      return;
    }
    this.link = link;
    const { nats, nodeId } = this.config;
    const prefix = nats.subjectPrefix;
    // Events go out whatever else works: the client buffers them while reconnecting.
    this.unsubscribeLocal = this.castpool.events.subscribe((event) => {
      const subject =
        event.kind === 'session'
          ? `${prefix}.events.${event.sessionId}.${event.to}`
          : event.kind === 'page'
            ? `${prefix}.events.${event.sessionId}.${event.type}`
            : event.kind === 'control'
              ? `${prefix}.events.${event.sessionId}.control`
              : `${prefix}.events.pool.${event.type}`;
      link.nc.publish(subject, JSON.stringify(event));
    });
    link.nc.subscribe(`${prefix}.events.>`, {
      callback: (_error, msg) => {
        let event: CastpoolEvent;
        try {
          event = msg.json<CastpoolEvent>();
        } catch {
          return;
        }
        // What another node (or anyone on the bus) says reaches SSE clients only in its known shape.
        if (msg.data.length > 8192 || !fits(RemoteEventSchema, event)) return;
        if (event.node === nodeId) return; // ours reach listeners directly
        for (const listener of this.remoteListeners) listener(event);
      },
    });
    const registry = await this.openRegistry();
    if (!registry) return;
    if (this.castpool.contexts.fleetWide) await this.openContextStore(link.nc, prefix);
    const { commands, castpool } = this;
    const sync = new RegistrySync(registry, commands, castpool.events, nodeId, castpool.log);
    const leases = new Leases(registry, commands, nodeId, this.baseUrl);
    const takeover = new Takeover(registry, commands, sync, leases, {
      node: nodeId,
      leaseMs: nats.leaseMs,
      log: castpool.log,
    });
    const router = new FleetRouter(
      link.nc,
      registry,
      commands,
      sync,
      leases,
      this.config,
      castpool.access,
      this.seal,
    );
    this.fleet = { router, sync, leases, takeover };
    this.service = await startService(link.nc, {
      prefix,
      node: nodeId,
      surface: router.surface,
      router,
      baseUrl: this.baseUrl,
      access: this.castpool.access,
      metrics: this.castpool.metrics,
      seal: this.seal,
    });
    this.castpool.events.pool('node.up', { url: this.baseUrl() });
    await this.renew();
    await this.tick();
    this.leaseTimer = setInterval(() => void this.renew(), nats.heartbeatMs);
    this.heartbeat = setInterval(() => void this.tick(), nats.heartbeatMs);
  }

  /**
   * The fleet's saved contexts. A cluster still electing its JetStream leaders can refuse the first try
   * (seen in CI: the registry opened after its retries, the context store's one try timed out, and the
   * node answered 503 for contexts until restarted). A failed try does not hold up the node's start: it
   * is tried again every few seconds in the background until it opens; meanwhile contexts answer 503
   * with Retry-After.
   */
  private async openContextStore(nc: NatsLink['nc'], prefix: string, retry = false): Promise<void> {
    if (retry) await new Promise((resolve) => setTimeout(resolve, CONTEXT_STORE_RETRY_MS).unref());
    if (this.closed) return;
    const { nats } = this.config;
    try {
      const store = await KvContextStore.open(nc, {
        prefix,
        replicas: nats.replicas,
        timeoutMs: nats.requestTimeoutMs,
        seal: this.seal,
      });
      if (this.closed) return;
      this.castpool.contexts.useFleetStore(store);
      if (retry) this.castpool.log.info('context store opened');
    } catch (error) {
      if (!retry)
        this.castpool.log.warn(
          { err: (error as Error).message },
          'context store not opened yet: contexts answer 503 until it opens (retrying)',
        );
      void this.openContextStore(nc, prefix, true);
    }
  }

  /** JetStream may still be electing its leaders in a fresh cluster: retry for a while. */
  private async openRegistry(): Promise<Registry | undefined> {
    const { nats } = this.config;
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        return await Registry.open(this.link?.nc as NatsLink['nc'], {
          prefix: nats.subjectPrefix,
          leaseMs: nats.leaseMs,
          replicas: nats.replicas,
          timeoutMs: nats.requestTimeoutMs,
          seal: this.seal,
          onForeign: (bucket, key) => {
            if (this.foreign.has(`${bucket}/${key}`)) return;
            this.foreign.add(`${bucket}/${key}`);
            this.castpool.log.warn(
              { bucket, key },
              'registry value not sealed by this fleet (another fleet secret, or forged): ignored',
            );
          },
        });
      } catch (error) {
        if (this.closed || Date.now() > deadline) {
          this.error = `session registry: ${(error as Error).message}`;
          this.castpool.log.error({ err: error }, 'could not open the session registry');
          return undefined;
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  private async renew(): Promise<void> {
    if (this.renewing || !this.fleet || this.link?.status() !== 'connected') return;
    this.renewing = true;
    try {
      await this.fleet.leases.renew();
    } catch (error) {
      this.castpool.log.debug({ err: error }, 'lease renewal failed; next one retries');
    } finally {
      this.renewing = false;
    }
  }

  private async tick(): Promise<void> {
    if (this.ticking || !this.fleet || this.link?.status() !== 'connected') return;
    this.ticking = true;
    const { takeover } = this.fleet;
    const startedAt = Date.now();
    const overrun = setTimeout(
      () =>
        this.castpool.log.warn(
          { step: takeover.step, ms: Date.now() - startedAt },
          'fleet check is taking longer than a lease',
        ),
      this.config.nats.leaseMs,
    );
    try {
      await takeover.tick();
    } catch (error) {
      this.castpool.log.debug({ err: error }, 'fleet heartbeat failed; next one retries');
    } finally {
      clearTimeout(overrun);
      this.ticking = false;
    }
  }

  /** The client connection, once connected (tests and tools use it too). */
  connection(): NatsLink['nc'] | undefined {
    return this.link?.nc;
  }

  /** The base URL another live node of the fleet serves its API on (its sealed lease), or undefined. */
  async nodeUrl(node: string): Promise<string | undefined> {
    const leases = await this.fleet?.leases.live(true);
    return leases?.find((lease) => lease.node === node)?.url;
  }

  /** What REST calls. */
  surface(): CommandSurface {
    return this.fleet?.router.surface ?? this.commands.surface;
  }

  /** Events of every node (this node's straight from its actors, the others' over NATS). */
  subscribe(listener: Listener): () => void {
    const local = this.castpool.events.subscribe(listener);
    this.remoteListeners.add(listener);
    return () => {
      local();
      this.remoteListeners.delete(listener);
    };
  }

  /** Seconds since this node last renewed its fleet lease; undefined outside a fleet. */
  leaseAgeSeconds(): number | undefined {
    const ms = this.fleet?.leases.sinceRenewalMs();
    return ms === undefined || !Number.isFinite(ms) ? undefined : ms / 1000;
  }

  health(): NatsHealth {
    const link = this.link;
    const status: NatsHealth['status'] = link
      ? link.status()
      : !this.config.nats.enabled
        ? 'disabled'
        : this.error
          ? 'failed'
          : this.closed
            ? 'closed'
            : 'connecting';
    return {
      status,
      servers: link?.servers ?? this.config.nats.url.split(',').filter(Boolean),
      embedded: this.config.nats.url === '',
      node: this.config.nodeId,
      ...(link?.downSince() ? { downSince: link.downSince() } : {}),
      ...(this.error ? { error: this.error } : {}),
    };
  }

  /** After the sessions closed: let their registry deletes land, leave the fleet, disconnect. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    clearInterval(this.leaseTimer);
    this.unsubscribeLocal?.();
    if (this.link?.status() === 'connected') await this.fleet?.sync.settle();
    this.fleet?.sync.close();
    await this.fleet?.leases.drop().catch(() => {});
    await this.service?.stop().catch(() => {});
    await this.link?.close();
  }
}
