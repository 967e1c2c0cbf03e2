import type { FastifyBaseLogger } from 'fastify';
import type { Commands } from '../commands/index.js';
import type { SavedPage } from '../machines/session.machine.js';
import { isRevisionConflict, type Registry, type SessionRecord } from '../nats/registry.js';
import type { CastpoolEvent, EventHub } from '../observability/events.js';

/** Largest saved state kept in the registry; bigger ones keep only the URL (KV messages are ≤ 1 MB). */
const MAX_SAVED_BYTES = 256 * 1024;

interface Tracked {
  revision?: number;
  writing: boolean;
  dirty: boolean;
  gone: boolean;
}

/**
 * Mirrors every local session into the registry: each state change this node's sessions make (the
 * EventHub's `session` events) rewrites the session's record; a closed session's record is deleted.
 * One write per session at a time, the newest state wins; a write that fails is retried by the next
 * fleet check. A record another node has taken over is never touched again ("disowned").
 */
export class RegistrySync {
  private readonly tracked = new Map<string, Tracked>();
  /** Sessions another node owns now; their local copy is closing and must not touch the registry. */
  private readonly disowned = new Set<string>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly registry: Registry,
    private readonly local: Commands,
    events: EventHub,
    private readonly node: string,
    private readonly log: FastifyBaseLogger,
  ) {
    this.unsubscribe = events.subscribe((event) => this.onEvent(event));
  }

  /** The connection came back: every record is written again (the server may have lost writes). */
  reconnected(): void {
    for (const entry of this.tracked.values()) entry.dirty = true;
  }

  /** Writes again what failed to be written (the fleet check calls this). */
  retryDirty(): void {
    for (const [id, entry] of this.tracked) if (entry.dirty) void this.flush(id);
  }

  /** A session this node adopted at `revision` (the takeover wrote that record). */
  adopted(id: string, revision: number): void {
    this.tracked.set(id, { revision, writing: false, dirty: false, gone: false });
  }

  /** Resolves when the registry has this session's latest state (bounded: NATS may be down). */
  async settled(id: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const entry = this.tracked.get(id);
      if (!entry || (!entry.writing && !entry.dirty) || Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Resolves once no registry write is running (bounded): shutdown deletes the closed sessions first. */
  async settle(timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ([...this.tracked.values()].some((e) => e.writing || e.dirty) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
  }

  /** Closes the local copy of a session another node owns, leaving the registry to the owner. */
  async disown(id: string): Promise<void> {
    this.disowned.add(id);
    this.tracked.delete(id);
    await this.local.handlers.delete({ id }).catch(() => {});
    this.disowned.delete(id);
  }

  close(): void {
    this.unsubscribe();
  }

  private onEvent(event: CastpoolEvent): void {
    if (event.kind !== 'session' || event.node !== this.node || this.disowned.has(event.sessionId)) return;
    const entry = this.tracked.get(event.sessionId) ?? { writing: false, dirty: false, gone: false };
    this.tracked.set(event.sessionId, entry);
    entry.dirty = true;
    if (event.to === 'closed') entry.gone = true;
    void this.flush(event.sessionId);
  }

  private recordOf(id: string): SessionRecord | undefined {
    const detail = this.local.detail(id);
    if (!detail) return undefined;
    let saved: unknown = detail.saved;
    if (saved && JSON.stringify(saved).length > MAX_SAVED_BYTES) saved = { url: (saved as SavedPage).url };
    return {
      id,
      owner: this.node,
      state: detail.state,
      spec: detail.params,
      ...(saved ? { saved } : {}),
      ...(detail.reason ? { reason: detail.reason } : {}),
      updatedAt: new Date().toISOString(),
    };
  }

  private async flush(id: string): Promise<void> {
    const entry = this.tracked.get(id);
    if (!entry || entry.writing || !entry.dirty) return;
    entry.writing = true;
    try {
      while (entry.dirty) {
        entry.dirty = false;
        if (entry.gone) {
          // Only our own record goes: a session another node took over stays theirs.
          const current = await this.registry.getSession(id);
          if (current?.value.owner === this.node) await this.registry.deleteSession(id, current.revision);
          this.tracked.delete(id);
          return;
        }
        const record = this.recordOf(id);
        if (!record) continue;
        entry.revision =
          entry.revision === undefined
            ? await this.registry.createSession(record).catch(async (error) => {
                // Created by a takeover (our adopted session): write over that revision.
                const current = await this.registry.getSession(id);
                if (current?.value.owner !== this.node) throw error;
                return this.registry.updateSession(record, current.revision);
              })
            : await this.registry.updateSession(record, entry.revision);
      }
    } catch (error) {
      if (isRevisionConflict(error) && !entry.gone) {
        // The revision moved under us. Still ours (a server that lost its last writes): carry on from
        // its revision. Someone else's now (a takeover): stop acting for it.
        const current = await this.registry.getSession(id).catch(() => undefined);
        if (!current || current.value.owner === this.node) {
          entry.revision = current?.revision;
          entry.dirty = true;
        } else {
          this.log.warn({ sessionId: id, owner: current.value.owner }, 'lost the session to another node');
          await this.disown(id);
          return;
        }
      } else entry.dirty = true; // the registry is unreachable: the next heartbeat tries again
    } finally {
      entry.writing = false;
    }
  }
}
