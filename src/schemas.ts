import { type Static, Type } from '@sinclair/typebox';

/**
 * Request/response schemas shared by REST validation, OpenAPI and NATS payloads. Over 300 lines on
 * purpose: one file is the public contract, read top to bottom, and the config schema reuses its
 * session settings; split by topic it would be read through five imports.
 */
export const Viewport = Type.Object(
  {
    width: Type.Integer({ minimum: 64, maximum: 3840 }),
    height: Type.Integer({ minimum: 64, maximum: 2160 }),
  },
  { additionalProperties: false },
);

export const CaptureStrategy = Type.Union([Type.Literal('screencast'), Type.Literal('tab')], {
  description:
    'screencast: CDP JPEG frames encoded by ffmpeg; tab: Chromium captures and encodes its own tab (H.264 or VP8)',
});

export const DialogPolicy = Type.Union(
  [Type.Literal('surface'), Type.Literal('accept'), Type.Literal('dismiss')],
  {
    description:
      "The page's JavaScript dialogs: surface (shown to clients, answered with POST .../dialog), accept or dismiss (at once, for unattended use)",
  },
);

/** How long a surfaced dialog waits for an answer before it is dismissed. */
export const DialogTimeoutMs = Type.Integer({
  minimum: 0,
  maximum: 3_600_000,
  description: 'A surfaced dialog nobody answers is dismissed after this long (0 = never)',
});

/** Permissions a session's pages are granted (every other permission request is denied). */
export const PagePermission = Type.Union(
  [
    Type.Literal('geolocation'),
    Type.Literal('notifications'),
    Type.Literal('clipboard-read'),
    Type.Literal('clipboard-write'),
  ],
  { description: 'A permission granted to every page of the session' },
);
export const PagePermissions = Type.Array(PagePermission, { maxItems: 4, uniqueItems: true });
export const Geolocation = Type.Object(
  {
    latitude: Type.Number({ minimum: -90, maximum: 90 }),
    longitude: Type.Number({ minimum: -180, maximum: 180 }),
    accuracy: Type.Optional(
      Type.Number({ minimum: 0, maximum: 100_000, description: 'metres (default 10)' }),
    ),
  },
  { additionalProperties: false, description: 'Where the pages are (needs the geolocation permission)' },
);

export const PopupPolicy = Type.Union(
  [Type.Literal('tabs'), Type.Literal('same-tab'), Type.Literal('block')],
  {
    description:
      "Windows the page opens (window.open, target=_blank): tabs opens them as tabs of the session (the live view follows the active tab; at most limits.tabsPerSession), same-tab loads them in the session's active tab, block drops them. The URL policy applies to every tab.",
  },
);

export const UnwatchedPages = Type.Union(
  [Type.Literal('hidden'), Type.Literal('visible'), Type.Literal('frozen')],
  {
    description:
      "What the session's pages are while nobody watches: visible (drawn as if shown: what automation expects), hidden (a background tab: nothing drawn, about a seventh of the CPU of an animated page; scripts and timers keep running, but animations, requestAnimationFrame and permission prompts wait until someone watches) or frozen (visible, then after supervision.freezeAfterMs frozen: no script, timer, worker or frame runs — no CPU — until a viewer joins or a command needs the page; thawed in milliseconds, the page as it was)",
  },
);

/** A proxy server: scheme://host:port (http, https, socks4, socks5). */
export const ProxyServer = Type.String({
  pattern:
    '^(https?|socks[45]?)://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$|^(https?|socks[45]?)://\\[[0-9A-Fa-f:.]+\\](:[0-9]{1,5})?/?$',
  maxLength: 300,
  description: 'scheme://host:port of the proxy (http, https, socks4, socks5)',
});
/** Hosts the proxy is not used for (Chromium's bypass list entries). */
export const ProxyBypass = Type.Array(
  Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.*:<>\\[\\]-]+$' }),
  {
    maxItems: 32,
  },
);
/** A session's proxy as castpool keeps it: no password (that stays with the node's credentials). */
export const ProxySetting = Type.Object(
  { server: ProxyServer, bypass: ProxyBypass, username: Type.Optional(Type.String({ maxLength: 256 })) },
  { additionalProperties: false },
);

export const CreateSessionBody = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 8192, description: 'Page to open (http/https by default).' }),
    viewport: Type.Optional(Viewport),
    fps: Type.Optional(Type.Integer({ minimum: 1, maximum: 60 })),
    quality: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    capture: Type.Optional(CaptureStrategy),
    audio: Type.Optional(
      Type.Boolean({
        description:
          "Stream the page's sound to viewers as Opus (tab capture only; default false: no audio is captured)",
      }),
    ),
    priority: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 9,
        description: 'Capture-budget priority: under load lower priorities lose frames first (default 5)',
      }),
    ),
    dialogs: Type.Optional(DialogPolicy),
    dialogTimeoutMs: Type.Optional(DialogTimeoutMs),
    permissions: Type.Optional(PagePermissions),
    geolocation: Type.Optional(Geolocation),
    popups: Type.Optional(PopupPolicy),
    unwatched: Type.Optional(UnwatchedPages),
    context: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_-]{1,64}(@[1-9][0-9]{0,8})?$',
        description:
          'Start from a saved context (POST /api/contexts): its cookies, and its localStorage on its origin; `name` for the latest version, `name@3` for version 3',
      }),
    ),
    proxy: Type.Optional(
      Type.Object(
        {
          server: ProxyServer,
          username: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
          password: Type.Optional(Type.String({ maxLength: 1024 })),
          bypass: Type.Optional(ProxyBypass),
        },
        {
          additionalProperties: false,
          description:
            "The session's pages go through this proxy (its own browser context); the credentials answer the proxy's challenge and, like httpCredentials, stay on the session's node only",
        },
      ),
    ),
    httpCredentials: Type.Optional(
      Type.Array(
        Type.Object(
          {
            origin: Type.String({ pattern: '^https?://[^/?#]+/?$', maxLength: 300 }),
            username: Type.String({ maxLength: 256 }),
            password: Type.String({ maxLength: 1024 }),
          },
          { additionalProperties: false },
        ),
        {
          maxItems: 16,
          description:
            "Answers to HTTP sign-in challenges, per origin (scheme://host[:port]); kept on the session's node only, never shown or stored",
        },
      ),
    ),
    ignoreHttpsErrors: Type.Optional(
      Type.Boolean({
        description:
          "Open https pages whatever their certificate (test environments with self-signed certificates); default false: Chromium's warning is shown",
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateSessionBody = Static<typeof CreateSessionBody>;

export const DialogBody = Type.Object(
  {
    accept: Type.Boolean({ description: 'true: OK / leave the page; false: Cancel / stay' }),
    promptText: Type.Optional(
      Type.String({ maxLength: 4096, description: "A prompt's answer (default: its default text)" }),
    ),
  },
  { additionalProperties: false },
);
export type DialogBody = Static<typeof DialogBody>;

export const NavigateBody = Type.Object(
  { url: Type.String({ minLength: 1, maxLength: 8192 }) },
  { additionalProperties: false },
);
export type NavigateBody = Static<typeof NavigateBody>;

/** NATS payloads of the commands addressed to one session (REST carries the id in the path). */
export const SessionIdRequest = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);
export const NavigateRequest = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }), url: NavigateBody.properties.url },
  { additionalProperties: false },
);
export const EmptyRequest = Type.Object({}, { additionalProperties: false });
export const DialogRequest = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }), ...DialogBody.properties },
  { additionalProperties: false },
);

/** A tab of a session, as the session view lists it (`tab-1`, `tab-2`, … in the order they opened). */
export const TabId = Type.String({
  pattern: '^tab-[0-9]{1,9}$',
  description: 'A tab of the session (its `tabs[].id`)',
});
export const TabRequest = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }), tabId: TabId },
  { additionalProperties: false },
);

const ViewerIdField = Type.String({ minLength: 1, maxLength: 64 });
/** A party to a session's control lease: a person at a controlling viewer, or the agent (its CDP clients). */
export const ControlPartySchema = Type.Union([
  Type.Object({ kind: Type.Literal('person'), viewerId: ViewerIdField }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('agent') }, { additionalProperties: false }),
]);
export const ControlBody = Type.Object(
  {
    action: Type.Union([Type.Literal('take'), Type.Literal('release'), Type.Literal('request')], {
      description:
        'take: drive the session now (a person may take over from the agent; nobody takes from a person); release: let go; request: ask the holder to let go (the holder is told)',
    }),
    as: Type.Optional(
      Type.Union([Type.Literal('person'), Type.Literal('agent')], {
        description:
          "Who acts: a person at one of the session's controlling viewers (viewerId), or the agent (the session's CDP clients). Default: person when viewerId is given, else agent",
      }),
    ),
    viewerId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'The viewer a person acts from: the last part of its WHEP resource (Location)',
      }),
    ),
    force: Type.Optional(
      Type.Boolean({
        description:
          'API tokens only: take from whoever holds it, or release whoever holds it (no party needed)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ControlBody = Static<typeof ControlBody>;
export const ControlRequest = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }), ...ControlBody.properties },
  { additionalProperties: false },
);

/** A saved context's name: its id in the API. */
export const ContextName = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });
export const ContextSaveBody = Type.Object(
  {
    fromSession: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'The session whose state is saved',
    }),
    name: ContextName,
  },
  { additionalProperties: false },
);
/** `id`: the session saved from (the operation runs on its node). */
export const ContextSaveRequest = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }), name: ContextName },
  { additionalProperties: false },
);
export const ContextRequest = Type.Object(
  {
    name: ContextName,
    version: Type.Optional(Type.Integer({ minimum: 1, maximum: 999_999_999 })),
    reveal: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export const ContextQuery = Type.Object(
  {
    version: Type.Optional(Type.Integer({ minimum: 1, maximum: 999_999_999 })),
    reveal: Type.Optional(
      Type.Boolean({ description: 'Include the cookies and storage values (API tokens only)' }),
    ),
  },
  { additionalProperties: false },
);
const ContextSummaryFields = {
  id: Type.String(),
  version: Type.Integer(),
  savedAt: Type.String({ format: 'date-time' }),
  fromSession: Type.String(),
  node: Type.String(),
  origin: Type.String({ description: 'Its localStorage is restored on this origin' }),
  cookies: Type.Integer(),
  cookieDomains: Type.Array(Type.String()),
  localStorageKeys: Type.Integer(),
  bytes: Type.Integer({ description: 'Sealed size in the store' }),
};
export const ContextSummaryBody = Type.Object(ContextSummaryFields);
export const ContextDetailBody = Type.Object({
  ...ContextSummaryFields,
  scope: Type.Union([Type.Literal('fleet'), Type.Literal('local')], {
    description: 'fleet: any node starts sessions from it; local: only this node',
  }),
  versions: Type.Array(Type.Object(ContextSummaryFields), { description: 'Versions kept, oldest first' }),
  state: Type.Optional(
    Type.Object(
      {
        origin: Type.String(),
        cookies: Type.Array(Type.Object({}, { additionalProperties: true })),
        localStorage: Type.Record(Type.String(), Type.String()),
      },
      { description: 'Only with ?reveal=true and an API token' },
    ),
  ),
});
export const ContextListBody = Type.Object({ contexts: Type.Array(ContextSummaryBody) });

/** Node-to-node payloads (a session's owner answers them): checked like every client input. */
const Id = Type.String({ minLength: 1, maxLength: 64 });
export const WhepOfferRequest = Type.Object(
  {
    id: Id,
    offer: Type.String({ maxLength: 64 * 1024 }),
    scope: Type.Union([Type.Literal('view'), Type.Literal('control')]),
  },
  { additionalProperties: false },
);
export const WhepPatchRequest = Type.Object(
  {
    id: Id,
    viewerId: Id,
    fragment: Type.String({ maxLength: 64 * 1024 }),
    ifMatch: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
export const WhepDeleteRequest = Type.Object({ id: Id, viewerId: Id }, { additionalProperties: false });
/** Files for a page's file chooser: base64 in NATS and node-to-node payloads (REST takes multipart). */
export const FileChooserRequest = Type.Object(
  {
    id: Id,
    files: Type.Array(
      Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 255 }),
          data: Type.String({ maxLength: 12 * 1024 * 1024, contentEncoding: 'base64' }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 10 },
    ),
  },
  { additionalProperties: false },
);

/**
 * Downloads travel between nodes in pieces of at most this many bytes: a NATS message carries about
 * 1 MB, and bytes go base64 inside a sealed envelope.
 */
export const DOWNLOAD_CHUNK_BYTES = 256 * 1024;
export const DownloadRequest = Type.Object(
  {
    id: Id,
    downloadId: Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }),
    /** The piece of the file wanted (default: from its start, DOWNLOAD_CHUNK_BYTES long). */
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 40 })),
    length: Type.Optional(Type.Integer({ minimum: 1, maximum: DOWNLOAD_CHUNK_BYTES })),
  },
  { additionalProperties: false },
);
export const DownloadView = Type.Object({
  id: Type.String(),
  name: Type.String({ description: 'The file name the site suggested' }),
  url: Type.String(),
  bytes: Type.Integer(),
  state: Type.Union([Type.Literal('in-progress'), Type.Literal('completed'), Type.Literal('canceled')]),
  reason: Type.Optional(Type.String({ description: 'Why it was canceled' })),
  startedAt: Type.String({ format: 'date-time' }),
});
export const DownloadList = Type.Object({ downloads: Type.Array(DownloadView) });
export type DownloadList = Static<typeof DownloadList>;

const RecordingId = Type.String({
  pattern: '^rec-[0-9]{1,9}$',
  description: 'rec-<n>, numbered in the session',
});
export const RecordingRequest = Type.Object(
  { id: Id, recordingId: RecordingId },
  { additionalProperties: false },
);
/** A piece of a recording's file (they travel between nodes like downloads). */
export const RecordingPieceRequest = Type.Object(
  {
    id: Id,
    recordingId: RecordingId,
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 40 })),
    length: Type.Optional(Type.Integer({ minimum: 1, maximum: DOWNLOAD_CHUNK_BYTES })),
  },
  { additionalProperties: false },
);
export const RecordingView = Type.Object({
  id: RecordingId,
  state: Type.Union(
    [
      Type.Literal('starting'),
      Type.Literal('recording'),
      Type.Literal('finalizing'),
      Type.Literal('completed'),
      Type.Literal('failed'),
    ],
    { description: 'starting: waiting for the first keyframe; finalizing: its index is being written' },
  ),
  codec: Type.Union([Type.Literal('H264'), Type.Literal('VP8')]),
  contentType: Type.Union([Type.Literal('video/x-matroska'), Type.Literal('video/webm')]),
  bytes: Type.Integer(),
  startedAt: Type.String({ format: 'date-time' }),
  endedAt: Type.Optional(Type.String({ format: 'date-time' })),
  expiresAt: Type.Optional(Type.String({ format: 'date-time', description: 'When retention removes it' })),
  reason: Type.Optional(
    Type.String({ description: 'Why it ended (asked to, a limit, the session, an error)' }),
  ),
});
export type RecordingView = Static<typeof RecordingView>;
export const RecordingList = Type.Object({
  recordings: Type.Array(RecordingView),
  limits: Type.Object({
    maxBytesPerSession: Type.Integer(),
    maxPerSession: Type.Integer(),
    retentionHours: Type.Integer(),
  }),
});
export type RecordingList = Static<typeof RecordingList>;
export const RecordingStopped = Type.Object({
  recording: RecordingView,
  removed: Type.Boolean({
    description: 'true: a finished recording was deleted; false: a running one was finalised',
  }),
});
export type RecordingStopped = Static<typeof RecordingStopped>;

export const ThumbnailRequest = Type.Object(
  { id: Id, width: Type.Integer({ minimum: 16, maximum: 3840 }) },
  { additionalProperties: false },
);

export const SessionIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const ViewerParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  viewerId: Type.String({ minLength: 1, maxLength: 64 }),
});

export const SessionLinks = Type.Object({
  self: Type.String(),
  whep: Type.String(),
  view: Type.String(),
  cdp: Type.String({
    description:
      "The session's CDP endpoint (WebSocket) for puppeteer.connect({ browserWSEndpoint }) or Playwright's connectOverCDP: its tabs only; an API token or an automate token (bearer header or ?token=)",
  }),
  devtools: Type.String({
    description:
      "Chrome DevTools on the session's active tab: paste into Chrome's address bar (Chrome's own bundled front end on the session's page endpoint, …/devtools); with tokens, the automate token's devtoolsUrl carries it",
  }),
});

export const SessionSummary = Type.Object({
  id: Type.String(),
  node: Type.String({ description: 'The castpool node that runs it' }),
  state: Type.String({
    description:
      'launching | idle | streaming | throttled | restarting | hibernating | hibernated | resuming | closing | closed | failed',
  }),
  url: Type.String(),
  viewport: Viewport,
  links: SessionLinks,
});

export const SessionDetail = Type.Intersect([
  SessionSummary,
  Type.Object({
    capture: CaptureStrategy,
    captureFallback: Type.Optional(
      Type.String({ description: 'Why the session streams by screencast although it asked for tab capture' }),
    ),
    audio: Type.Boolean({
      description: "The page's sound streams to viewers as Opus (while the capture is tab)",
    }),
    failure: Type.Optional(Type.String({ description: 'Why the session failed, in one sentence' })),
    lastNavigation: Type.Optional(Type.Object({ url: Type.String(), error: Type.Optional(Type.String()) })),
    dialog: Type.Optional(
      Type.Object(
        {
          type: Type.Union([
            Type.Literal('alert'),
            Type.Literal('confirm'),
            Type.Literal('prompt'),
            Type.Literal('beforeunload'),
          ]),
          message: Type.String(),
          defaultPrompt: Type.String(),
          url: Type.String(),
          openedAt: Type.String({ format: 'date-time' }),
        },
        { description: 'The JavaScript dialog the page shows now, waiting for POST .../dialog' },
      ),
    ),
    fileChooser: Type.Optional(
      Type.Object(
        {
          mode: Type.Union([Type.Literal('selectSingle'), Type.Literal('selectMultiple')]),
          openedAt: Type.String({ format: 'date-time' }),
        },
        { description: 'A file chooser the page opened, waiting for POST .../file-chooser' },
      ),
    ),
    dialogs: DialogPolicy,
    control: Type.Object(
      {
        holder: Type.Union([ControlPartySchema, Type.Null()], {
          description: 'Who drives now (null: nobody; the first to act or take drives)',
        }),
        how: Type.Union([Type.Literal('take'), Type.Literal('input'), Type.Literal('default'), Type.Null()], {
          description:
            'take: asked for; input: drove while nobody held it (lapses after control.idleReleaseMs without input); default: the agent, by config',
        }),
        since: Type.String({ format: 'date-time', description: 'Since when (or since when nobody drives)' }),
        requestedBy: Type.Union([ControlPartySchema, Type.Null()], {
          description: 'Who asked the holder to let go',
        }),
        defaultHolder: Type.Union([Type.Literal('agent'), Type.Literal('first')]),
      },
      {
        description:
          'The control lease: one party drives at a time (POST .../control); input of others is refused',
      },
    ),
    tabs: Type.Array(
      Type.Object({
        id: Type.String(),
        url: Type.String(),
        title: Type.String(),
        active: Type.Boolean({ description: 'The tab the live view shows and input goes to' }),
        dialog: Type.Optional(
          Type.String({ description: 'A dialog this background tab shows (surfaced once it is active)' }),
        ),
      }),
      {
        description:
          'The tabs of the session, in the order they opened (popups and target=_blank under the `tabs` popup policy)',
      },
    ),
    targetFps: Type.Number(),
    currentFps: Type.Number({
      description: 'Capture rate now in force (lower while throttled or held to its budget share).',
    }),
    priority: Type.Integer(),
    shareFps: Type.Union([Type.Number(), Type.Null()], {
      description: "The pool's capture-budget share while watched; null = not limited",
    }),
    deliveredFps: Type.Number({ description: 'Encoded frames per second sent to viewers (last second).' }),
    droppedFrames: Type.Integer({ description: 'Frames skipped since creation (latest frame won).' }),
    viewers: Type.Integer(),
    viewerLinks: Type.Array(
      Type.Object({
        viewerId: Type.String(),
        scope: Type.String(),
        rttMs: Type.Union([Type.Integer(), Type.Null()]),
        lossPercent: Type.Union([Type.Number(), Type.Null()], {
          description: 'packets lost in the last receiver-report interval',
        }),
        packetsLost: Type.Integer(),
        packetsSent: Type.Integer(),
        nacks: Type.Integer({
          description: 'NACKs from this viewer (castpool answers them from its packet history)',
        }),
        retransmits: Type.Integer(),
        keyframeRequests: Type.Integer({ description: 'PLIs from this viewer' }),
        iceRestarts: Type.Integer(),
        layer: Type.Integer({
          description: 'The simulcast layer it gets: 0 full picture, 1 half, 2 quarter (encoder.simulcast)',
        }),
        layerSwitches: Type.Integer({ description: 'Moves between layers so far' }),
      }),
      { description: "Each connected viewer's link, from its RTCP" },
    ),
    hibernation: Type.Optional(
      Type.Object(
        { at: Type.String({ format: 'date-time' }), reason: Type.String() },
        { description: 'set while hibernated' },
      ),
    ),
    restarts: Type.Integer({ description: 'Restarts after browser/page crashes since creation' }),
    encoders: Type.Integer({ description: 'Encoders running now: 1 while watched, whatever the viewers' }),
    codec: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
  }),
]);
export type SessionDetail = Static<typeof SessionDetail>;

export const ViewerTokenBody = Type.Object(
  {
    scope: Type.Optional(
      Type.Union([Type.Literal('view'), Type.Literal('control'), Type.Literal('automate')], {
        description:
          "view: watch only; control: also mouse, keyboard and resize; automate: the session's CDP endpoint (links.cdp) for Puppeteer or Playwright (default view)",
      }),
    ),
    ttlSeconds: Type.Optional(
      Type.Integer({ minimum: 10, maximum: 31536000, description: 'Lifetime (default from config)' }),
    ),
  },
  { additionalProperties: false },
);
export type ViewerTokenBody = Static<typeof ViewerTokenBody>;
export const ViewerTokenRequest = Type.Object(
  { id: SessionIdRequest.properties.id, ...ViewerTokenBody.properties },
  { additionalProperties: false },
);

export const ViewerToken = Type.Object({
  token: Type.String({ description: "Bearer token for this session's WHEP endpoint" }),
  sessionId: Type.String(),
  scope: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
  viewUrl: Type.String({
    description:
      'The viewer page with the token in its fragment (not sent to servers); empty for automate tokens',
  }),
  devtoolsUrl: Type.Optional(
    Type.String({
      description: "Automate tokens: Chrome DevTools on the session's active tab, token included",
    }),
  ),
});

export const SessionSnapshotBody = Type.Object({
  version: Type.Literal(1, { description: 'Format of this document' }),
  machine: Type.String({ description: 'Machine id' }),
  xstate: Type.String({ description: 'XState version that made the snapshot' }),
  sessionId: Type.String(),
  node: Type.String(),
  state: Type.String(),
  takenAt: Type.String({ format: 'date-time' }),
  snapshot: Type.Unknown({
    description:
      "The session actor's status, state value, context, children and tags, JSON-safe (pages, connections and other handles as {$handle})",
  }),
});

export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String({ description: 'machine-readable code' }),
  message: Type.String(),
});
