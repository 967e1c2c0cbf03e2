import { join } from 'node:path';
import type { Config } from '../config.js';
import { CastpoolError } from '../errors.js';
import type { FleetSeal } from '../nats/fleet-seal.js';
import { sharedFleetSeal } from '../nats/fleet-secret.js';
import { DiskContextStore } from './disk-context-store.js';
import type { ContextStore } from './saved-context.js';

/**
 * Where this node keeps saved contexts, decided at start: with a key the fleet shares (fleet.secret
 * or API tokens) and NATS, the fleet's KV (any node reads them; until the registry is reachable,
 * 503); with that key and no NATS, this node's disk sealed with it; without one, this node's disk
 * sealed with a key file beside them (`contexts.withoutKey: "local"`, said at start) — or castpool
 * refuses to start (`"refuse"`, startup-checks.ts).
 */
export class Contexts {
  private store: ContextStore | undefined;
  private local: Promise<ContextStore> | undefined;
  readonly fleetWide: boolean;
  private readonly seal: FleetSeal | undefined;

  constructor(private readonly config: Config) {
    this.seal = sharedFleetSeal(config);
    this.fleetWide = this.seal !== undefined && config.nats.enabled;
  }

  /** Where they are kept, for /api/info and the start-up line. */
  get where(): string {
    if (this.fleetWide) return `the fleet's JetStream KV (${this.config.nats.subjectPrefix}_contexts)`;
    return `${this.dir} (this node only)`;
  }

  private get dir(): string {
    return join(this.config.dataDir, 'contexts');
  }

  /** The fleet's store, once the registry is open. */
  useFleetStore(store: ContextStore): void {
    if (this.fleetWide) this.store = store;
  }

  async open(): Promise<ContextStore> {
    if (this.store) return this.store;
    if (this.fleetWide)
      throw new CastpoolError('unavailable', "the fleet's context store is not reachable now", {
        retryable: true,
        retryAfterSeconds: 5,
      });
    this.local ??= DiskContextStore.open(this.dir, this.seal);
    return this.local;
  }
}
