import { type Static, Type } from '@sinclair/typebox';
import { fits, SavedState } from '../nats/record-schemas.js';

/** True when a session's state can be stored as a context (the store's schema). */
export const fitsSavedState = (value: unknown): boolean => fits(SavedState, value);

/** A context's name: its id in the API and its key in the store. */
export const CONTEXT_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * A saved context: a session's cookies and its page's storage (what hibernation keeps), named and
 * numbered. Stored sealed; read back only if it fits this schema (the store is not trusted).
 */
export const SavedContextSchema = Type.Object(
  {
    name: Type.String({ pattern: CONTEXT_NAME.source }),
    version: Type.Integer({ minimum: 1 }),
    savedAt: Type.String({ maxLength: 64 }),
    fromSession: Type.String({ maxLength: 64 }),
    node: Type.String({ maxLength: 128 }),
    state: SavedState,
  },
  { additionalProperties: false },
);
export type SavedContext = Static<typeof SavedContextSchema>;

/** What the API shows of a context without being asked for its values: no cookie, no storage value. */
export interface ContextSummary {
  id: string;
  version: number;
  savedAt: string;
  fromSession: string;
  node: string;
  /** The page's origin when it was saved: its localStorage is restored on that origin. */
  origin: string;
  cookies: number;
  /** Domains of the cookies (where the logins are), without values. */
  cookieDomains: string[];
  localStorageKeys: number;
  /** Sealed size in the store. */
  bytes: number;
}

export function summaryOf(context: SavedContext, bytes: number): ContextSummary {
  const cookies = (context.state.cookies ?? []) as { domain?: unknown }[];
  const domains = new Set(cookies.map((c) => String(c.domain ?? '')).filter(Boolean));
  return {
    id: context.name,
    version: context.version,
    savedAt: context.savedAt,
    fromSession: context.fromSession,
    node: context.node,
    origin: context.state.origin ?? '',
    cookies: cookies.length,
    cookieDomains: [...domains].sort(),
    localStorageKeys: Object.keys(context.state.localStorage ?? {}).length,
    bytes,
  };
}

/** Where contexts are kept: the fleet's JetStream KV, or this node's disk. */
export interface ContextStore {
  /** `fleet` (any node reads them) or `local` (this node only). */
  readonly scope: 'fleet' | 'local';
  /** Saves a new version of `name` (1 if new); the stored context and its sealed size. */
  save(
    name: string,
    value: Omit<SavedContext, 'version' | 'name'>,
  ): Promise<{ context: SavedContext; bytes: number }>;
  /** A version of `name` (default the latest), or undefined. */
  get(name: string, version?: number): Promise<{ context: SavedContext; bytes: number } | undefined>;
  /** The versions of `name` still kept, oldest first (empty when unknown). */
  versions(name: string): Promise<ContextSummary[]>;
  /** The latest version of every context. */
  list(): Promise<ContextSummary[]>;
  /** Removes every version; false when there was none. */
  delete(name: string): Promise<boolean>;
}

/** Versions kept per context (older ones are dropped as new ones are saved). */
export const VERSIONS_KEPT = 10;
