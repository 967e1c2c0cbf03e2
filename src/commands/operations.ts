import { type Static, type TSchema, Type } from '@sinclair/typebox';
import {
  ContextRequest,
  ContextSaveRequest,
  ControlRequest,
  CreateSessionBody,
  DialogRequest,
  type DownloadList,
  DownloadRequest,
  EmptyRequest,
  FileChooserRequest,
  NavigateRequest,
  type RecordingList,
  RecordingPieceRequest,
  RecordingRequest,
  type RecordingStopped,
  type RecordingView,
  SessionIdRequest,
  TabRequest,
  ThumbnailRequest,
  ViewerTokenRequest,
  WhepDeleteRequest,
  WhepOfferRequest,
  WhepPatchRequest,
} from '../schemas.js';
import type {
  ContextDetail,
  ContextList,
  Deleted,
  MintedViewerToken,
  SessionList,
  SessionSnapshot,
  SessionView,
  ViewerAnswer,
  ViewerPatched,
} from './results.js';

/** Which node of a fleet runs an operation. */
export type Placement =
  /** The node with the most room (it may be this one). */
  | 'placement'
  /** Every live node for its own sessions; the answers are merged. */
  | 'every-node'
  /** The node that runs the session named by the input's `id` (found in the registry). */
  | 'owner'
  /** The node the client reached; composed of other operations. */
  | 'entry'
  /** The node the client reached, itself (what it serves is the fleet's: the saved contexts). */
  | 'here';

/** How a result is shown to clients: sessions get their `links`, viewer tokens their `viewUrl`. */
export type Presentation = 'session' | 'sessions' | 'viewer-token' | 'as-is';

export interface Operation<Input extends TSchema = TSchema, Output = unknown> {
  /** Validates the input wherever it comes from: REST, a NATS client, another node. */
  input: Input;
  runs: Placement;
  presents: Presentation;
  /** Served to NATS clients on `<prefix>.sessions.<name>` (the same JSON and tokens as REST). */
  client?: boolean;
  /** Waits for Chromium (a launch, a load, a negotiation): forwarded with the longer deadline. */
  slow?: boolean;
  /** Answers only once the registry holds the session's new state (a failover then sees it). */
  settles?: boolean;
  /** The output is bytes (forwarded as such, not JSON). */
  bytes?: boolean;
  /**
   * Also answered after the session ended, by the node that keeps its recordings (found by asking the
   * live nodes when the registry no longer names an owner).
   */
  outlivesSession?: boolean;
  /** Counted against the caller's create rate. */
  ratedAsCreate?: boolean;
  /** Type only: what the operation answers. */
  readonly output?: Output;
}

/** A table row: `Output` is given, `Input` and `runs` are inferred (node operations are those not `entry`). */
const op =
  <Output>() =>
  <Input extends TSchema, Runs extends Placement>(
    spec: Omit<Operation<Input, Output>, 'output' | 'runs'> & { runs: Runs },
  ): Operation<Input, Output> & { runs: Runs } =>
    spec;

/**
 * Every operation castpool offers, once. REST routes call them through a `CommandSurface`, the NATS
 * service derives its client and node endpoints from this table, and a fleet forwards each one to
 * where `runs` says, validating the payload against `input` on arrival. A new operation is one row
 * here and one handler (see docs/architecture.md, "Adding an operation").
 */
export const operations = {
  create: op<SessionView>()({
    input: CreateSessionBody,
    runs: 'placement',
    presents: 'session',
    client: true,
    slow: true,
    settles: true,
    ratedAsCreate: true,
  }),
  list: op<SessionList>()({ input: EmptyRequest, runs: 'every-node', presents: 'sessions', client: true }),
  get: op<SessionView>()({ input: SessionIdRequest, runs: 'owner', presents: 'session', client: true }),
  delete: op<Deleted>()({
    input: SessionIdRequest,
    runs: 'owner',
    presents: 'as-is',
    client: true,
    slow: true,
    settles: true,
  }),
  navigate: op<SessionView>()({
    input: NavigateRequest,
    runs: 'owner',
    presents: 'session',
    client: true,
    slow: true,
  }),
  dialog: op<SessionView>()({
    input: DialogRequest,
    runs: 'owner',
    presents: 'session',
    client: true,
  }),
  control: op<SessionView>()({ input: ControlRequest, runs: 'owner', presents: 'session', client: true }),
  'tab-activate': op<SessionView>()({ input: TabRequest, runs: 'owner', presents: 'session', client: true }),
  'tab-close': op<SessionView>()({ input: TabRequest, runs: 'owner', presents: 'session', client: true }),
  'file-chooser': op<SessionView>()({
    input: FileChooserRequest,
    runs: 'owner',
    presents: 'session',
    client: true,
    slow: true,
  }),
  hibernate: op<SessionView>()({
    input: SessionIdRequest,
    runs: 'owner',
    presents: 'session',
    client: true,
    slow: true,
    settles: true,
  }),
  resume: op<SessionView>()({
    input: SessionIdRequest,
    runs: 'owner',
    presents: 'session',
    client: true,
    slow: true,
  }),
  'context-save': op<ContextDetail>()({
    input: ContextSaveRequest,
    runs: 'owner',
    presents: 'as-is',
    client: true,
    slow: true,
  }),
  'context-list': op<ContextList>()({ input: EmptyRequest, runs: 'here', presents: 'as-is', client: true }),
  'context-get': op<ContextDetail>()({
    input: ContextRequest,
    runs: 'here',
    presents: 'as-is',
    client: true,
  }),
  'context-delete': op<Deleted>()({
    input: Type.Pick(ContextRequest, ['name']),
    runs: 'here',
    presents: 'as-is',
    client: true,
  }),
  'viewer-token': op<MintedViewerToken>()({
    input: ViewerTokenRequest,
    runs: 'entry',
    presents: 'viewer-token',
    client: true,
  }),
  downloads: op<DownloadList>()({ input: SessionIdRequest, runs: 'owner', presents: 'as-is', client: true }),
  download: op<Uint8Array>()({ input: DownloadRequest, runs: 'owner', presents: 'as-is', bytes: true }),
  'recording-start': op<RecordingView>()({
    input: SessionIdRequest,
    runs: 'owner',
    presents: 'as-is',
    client: true,
    slow: true,
  }),
  'recording-stop': op<RecordingStopped>()({
    input: RecordingRequest,
    runs: 'owner',
    presents: 'as-is',
    client: true,
    slow: true,
    outlivesSession: true,
  }),
  recordings: op<RecordingList>()({
    input: SessionIdRequest,
    runs: 'owner',
    presents: 'as-is',
    client: true,
    outlivesSession: true,
  }),
  recording: op<Uint8Array>()({
    input: RecordingPieceRequest,
    runs: 'owner',
    presents: 'as-is',
    bytes: true,
    outlivesSession: true,
  }),
  snapshot: op<SessionSnapshot>()({ input: SessionIdRequest, runs: 'owner', presents: 'as-is' }),
  thumbnail: op<Uint8Array>()({ input: ThumbnailRequest, runs: 'owner', presents: 'as-is', bytes: true }),
  'whep.offer': op<ViewerAnswer>()({ input: WhepOfferRequest, runs: 'owner', presents: 'as-is', slow: true }),
  'whep.patch': op<ViewerPatched>()({
    input: WhepPatchRequest,
    runs: 'owner',
    presents: 'as-is',
    slow: true,
  }),
  'whep.delete': op<Deleted>()({ input: WhepDeleteRequest, runs: 'owner', presents: 'as-is' }),
} as const;

export type Operations = typeof operations;
export type OperationName = keyof Operations;
export type InputOf<Name extends OperationName> = Static<Operations[Name]['input']>;
export type OutputOf<Name extends OperationName> =
  Operations[Name] extends Operation<TSchema, infer Output> ? Output : never;

/** What REST and NATS call: the fleet when NATS is up, else this node alone (same inputs, same errors). */
export type CommandSurface = {
  [Name in OperationName]: (input: InputOf<Name>) => Promise<OutputOf<Name>>;
};

/** The operations a node runs itself (everything but what the entry node composes). */
export type NodeOperationName = {
  [Name in OperationName]: Operations[Name]['runs'] extends 'entry' ? never : Name;
}[OperationName];

export const operationNames = Object.keys(operations) as OperationName[];
