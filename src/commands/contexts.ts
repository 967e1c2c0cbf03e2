import { randomUUID } from 'node:crypto';
import type { ContextStore, SavedContext } from '../contexts/saved-context.js';
import { fitsSavedState, summaryOf } from '../contexts/saved-context.js';
import { CastpoolError, notFound } from '../errors.js';
import type { SavedPage } from '../machines/session.types.js';
import type { Castpool } from '../system.js';
import { askSession } from './ask-session.js';
import { sessionEntry } from './lookup.js';
import type { InputOf } from './operations.js';
import type { ContextDetail, ContextList, Deleted } from './results.js';

/** Reading a page's cookies and storage takes milliseconds; its actor gives up after 10 s. */
const STATE_TIMEOUT_MS = 12_000;
/** A context travels in one NATS message (JetStream's default limit is 1 MiB). */
const MAX_CONTEXT_BYTES = 768 * 1024;

/**
 * Saved contexts: a session's cookies and storage under a name, versioned, kept where `Contexts`
 * says (the fleet's KV, or this node's disk), sealed. Values are shown only when asked (`reveal`),
 * and the route allows that to API tokens only.
 */
export class ContextCommands {
  constructor(private readonly castpool: Castpool) {}

  private async store(): Promise<ContextStore> {
    return this.castpool.contexts.open();
  }

  /** Saves the session's state (read by its actors; a hibernated session's saved state) as a new version. */
  async save({ id, name }: InputOf<'context-save'>): Promise<ContextDetail> {
    const { ref } = sessionEntry(this.castpool.pool, id);
    const requestId = randomUUID();
    const state = await askSession<SavedPage>(
      ref,
      { type: 'state.request', requestId },
      {
        answer: (event) => {
          if (event.type !== 'state.read' || event.requestId !== requestId) return undefined;
          return event.state
            ? { value: event.state }
            : { error: new CastpoolError('conflict', `session ${id} has no state to save: ${event.error}`) };
        },
        closed: () => new CastpoolError('conflict', `session ${id} closed before its state was read`),
        late: () => new CastpoolError('timeout', `session ${id}'s page did not give its state in time`),
        timeoutMs: STATE_TIMEOUT_MS,
      },
    );
    const saved = {
      url: state.url,
      origin: (state as { origin?: string }).origin ?? '',
      cookies: (state as { cookies?: object[] }).cookies ?? [],
      localStorage: (state as { localStorage?: Record<string, string> }).localStorage ?? {},
    };
    if (!fitsSavedState(saved)) throw new CastpoolError('conflict', `session ${id}'s state cannot be saved`);
    const size = Buffer.byteLength(JSON.stringify(saved));
    if (size > MAX_CONTEXT_BYTES)
      throw new CastpoolError(
        'payload_too_large',
        `session ${id}'s cookies and storage are ${Math.round(size / 1024)} KiB; a context holds at most ${MAX_CONTEXT_BYTES / 1024} KiB`,
      );
    const store = await this.store();
    const { context, bytes } = await storeCall(() =>
      store.save(name, {
        savedAt: new Date().toISOString(),
        fromSession: id,
        node: this.castpool.config.nodeId,
        state: saved,
      }),
    );
    this.castpool.log.info({ context: name, version: context.version, sessionId: id }, 'context saved');
    return this.detail(store, context, bytes, false);
  }

  async list(): Promise<ContextList> {
    const store = await this.store();
    return { contexts: await storeCall(() => store.list()) };
  }

  async get({ name, version, reveal }: InputOf<'context-get'>): Promise<ContextDetail> {
    const store = await this.store();
    const stored = await storeCall(() => store.get(name, version));
    if (!stored) throw notFound(version ? `context ${name} version ${version}` : `context ${name}`);
    return this.detail(store, stored.context, stored.bytes, reveal === true);
  }

  async delete({ name }: InputOf<'context-delete'>): Promise<Deleted> {
    const store = await this.store();
    if (!(await storeCall(() => store.delete(name)))) throw notFound(`context ${name}`);
    this.castpool.log.info({ context: name }, 'context deleted');
    return { deleted: name };
  }

  /** The state a session starts from: `name` (latest) or `name@version`; 404 when there is none. */
  async startingState(reference: string, url: string): Promise<SavedPage> {
    const [name = '', version] = reference.split('@');
    const store = await this.store();
    const stored = await storeCall(() => store.get(name, version ? Number(version) : undefined));
    if (!stored) throw notFound(`context ${reference}`);
    const { state } = stored.context;
    // What the page restores (page.ts): cookies, and the storage on its origin; the session's own URL.
    return {
      url,
      origin: state.origin ?? '',
      cookies: state.cookies ?? [],
      localStorage: state.localStorage ?? {},
      sessionStorage: {},
      scroll: [0, 0],
    } as SavedPage;
  }

  private async detail(store: ContextStore, context: SavedContext, bytes: number, reveal: boolean) {
    const versions = await storeCall(() => store.versions(context.name));
    return {
      ...summaryOf(context, bytes),
      scope: store.scope,
      versions,
      ...(reveal
        ? {
            state: {
              origin: context.state.origin ?? '',
              cookies: context.state.cookies ?? [],
              localStorage: context.state.localStorage ?? {},
            },
          }
        : {}),
    };
  }
}

/** A store that cannot be reached (NATS down, a full disk) is a 503, not a 500. */
async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof CastpoolError) throw error;
    throw new CastpoolError('unavailable', `context store unavailable: ${(error as Error).message}`, {
      retryable: true,
    });
  }
}
