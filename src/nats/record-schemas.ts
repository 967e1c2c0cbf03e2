import { type TProperties, type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import {
  CaptureStrategy,
  DialogPolicy,
  DialogTimeoutMs,
  Geolocation,
  PagePermissions,
  PopupPolicy,
  ProxySetting,
  TabId,
  UnwatchedPages,
  Viewport,
} from '../schemas.js';

/** Session parameters as a node stores them: what a create resolves to (every field present). */
export const SessionSpec = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 8192 }),
    viewport: Viewport,
    fps: Type.Integer({ minimum: 1, maximum: 60 }),
    quality: Type.Integer({ minimum: 1, maximum: 100 }),
    capture: CaptureStrategy,
    priority: Type.Integer({ minimum: 0, maximum: 9 }),
    dialogs: DialogPolicy,
    dialogTimeoutMs: DialogTimeoutMs,
    permissions: PagePermissions,
    geolocation: Type.Optional(Geolocation),
    ignoreHttpsErrors: Type.Boolean(),
    popups: PopupPolicy,
    unwatched: UnwatchedPages,
    audio: Type.Boolean(),
    proxy: Type.Optional(ProxySetting),
  },
  { additionalProperties: false },
);

/**
 * Spec fields added after the registry's first version, with what a session written before them
 * gets (a node of an older version may have written it: a rolling upgrade must not lose it).
 */
const LATER_SPEC_FIELDS = {
  dialogs: 'surface',
  dialogTimeoutMs: 60_000,
  permissions: [],
  ignoreHttpsErrors: false,
  popups: 'tabs',
  unwatched: 'visible',
  audio: false,
} as const;

/** A stored session record with the spec fields it predates filled in (checked by the schema after). */
export function upgradedRecord(value: unknown): unknown {
  if (!value || typeof value !== 'object') return value;
  const spec = (value as { spec?: unknown }).spec;
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return value;
  const filled: Record<string, unknown> = { ...(spec as Record<string, unknown>) };
  for (const [key, fallback] of Object.entries(LATER_SPEC_FIELDS))
    if (!Object.hasOwn(filled, key)) filled[key] = Array.isArray(fallback) ? [] : fallback;
  return { ...value, spec: filled };
}

/** A hibernated page's state: its URL is checked by the URL policy like any other. */
export const SavedState = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 8192 }),
    origin: Type.Optional(Type.String({ maxLength: 8192 })),
    cookies: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 4096 })),
    localStorage: Type.Optional(Type.Record(Type.String(), Type.String())),
    sessionStorage: Type.Optional(Type.Record(Type.String(), Type.String())),
    scroll: Type.Optional(Type.Tuple([Type.Number(), Type.Number()])),
  },
  { additionalProperties: false },
);

const NodeName = Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' });

export const SessionRecordSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
    owner: NodeName,
    state: Type.String({ maxLength: 64 }),
    spec: SessionSpec,
    saved: Type.Optional(SavedState),
    reason: Type.Optional(Type.String({ maxLength: 4096 })),
    updatedAt: Type.String({ maxLength: 64 }),
  },
  { additionalProperties: false },
);

export const NodeLeaseSchema = Type.Object(
  {
    node: NodeName,
    url: Type.String({ maxLength: 2048 }),
    maxSessions: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
    active: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
    cpu: Type.Number({ minimum: 0, maximum: 1 }),
    startedAt: Type.String({ maxLength: 64 }),
    renewedAt: Type.String({ maxLength: 64 }),
  },
  { additionalProperties: false },
);

/** True when `value` fits `schema` (values from the registry or another node are never trusted). */
export const fits = <T extends TSchema>(schema: T, value: unknown): boolean => Value.Check(schema, value);

/** A page event of another node's session: what every page event carries, and its own fields. */
const pageNews = <Fields extends TProperties>(fields: Fields) =>
  Type.Object(
    {
      kind: Type.Literal('page'),
      node: NodeName,
      sessionId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
      ...fields,
      time: Type.String({ maxLength: 64 }),
    },
    { additionalProperties: false },
  );

const ControlPartyRecord = Type.Union([
  Type.Object(
    { kind: Type.Literal('person'), viewerId: Type.String({ maxLength: 64 }) },
    { additionalProperties: false },
  ),
  Type.Object({ kind: Type.Literal('agent') }, { additionalProperties: false }),
  Type.Null(),
]);

/** An event another node published (shown to SSE clients): its shape, bounded. */
export const RemoteEventSchema = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('session'),
      node: NodeName,
      sessionId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
      from: Type.Union([Type.String({ maxLength: 64 }), Type.Null()]),
      to: Type.String({ maxLength: 64 }),
      reason: Type.Optional(Type.String({ maxLength: 4096 })),
      time: Type.String({ maxLength: 64 }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('pool'),
      node: NodeName,
      type: Type.Union([
        Type.Literal('node.up'),
        Type.Literal('node.down'),
        Type.Literal('capacity'),
        Type.Literal('session.recreated'),
      ]),
      time: Type.String({ maxLength: 64 }),
    },
    { additionalProperties: Type.Union([Type.String({ maxLength: 2048 }), Type.Number(), Type.Boolean()]) },
  ),
  pageNews({
    type: Type.Union([Type.Literal('dialog.opened'), Type.Literal('dialog.closed')]),
    dialogType: Type.Union([
      Type.Literal('alert'),
      Type.Literal('confirm'),
      Type.Literal('prompt'),
      Type.Literal('beforeunload'),
    ]),
  }),
  pageNews({
    type: Type.Union([Type.Literal('download.started'), Type.Literal('download.finished')]),
    downloadId: Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }),
    state: Type.Union([Type.Literal('in-progress'), Type.Literal('completed'), Type.Literal('canceled')]),
  }),
  pageNews({
    type: Type.Union([Type.Literal('recording.started'), Type.Literal('recording.finished')]),
    recordingId: Type.String({ pattern: '^rec-[0-9]{1,9}$' }),
    state: Type.Union([
      Type.Literal('starting'),
      Type.Literal('recording'),
      Type.Literal('finalizing'),
      Type.Literal('completed'),
      Type.Literal('failed'),
    ]),
  }),
  pageNews({
    type: Type.Union([Type.Literal('tab.opened'), Type.Literal('tab.activated'), Type.Literal('tab.closed')]),
    tabId: TabId,
  }),
  Type.Object(
    {
      kind: Type.Literal('control'),
      node: NodeName,
      sessionId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
      change: Type.Union([Type.Literal('taken'), Type.Literal('released'), Type.Literal('requested')]),
      holder: ControlPartyRecord,
      previous: ControlPartyRecord,
      how: Type.Union([Type.Literal('take'), Type.Literal('input'), Type.Literal('default'), Type.Null()]),
      requestedBy: ControlPartyRecord,
      since: Type.String({ maxLength: 64 }),
      time: Type.String({ maxLength: 64 }),
    },
    { additionalProperties: false },
  ),
]);
