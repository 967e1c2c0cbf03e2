/**
 * The configuration's one schema: every key with its bounds and description, against which the defaults
 * file and overrides are checked and from which the environment variables are derived. Over 300 lines
 * on purpose: one contract, read top to bottom.
 */
import { type Static, Type } from '@sinclair/typebox';
import { DialogPolicy, DialogTimeoutMs, PopupPolicy, UnwatchedPages } from './schemas.js';

const Int = (min: number, max: number, description: string) =>
  Type.Integer({ minimum: min, maximum: max, description });

/** Every configuration key, documented. Defaults live in config/default.json. */
export const ConfigSchema = Type.Object({
  host: Type.String({ description: 'Listen address (env HOST). 127.0.0.1 unless you mean to expose it.' }),
  port: Int(0, 65535, 'Listen port (env PORT).'),
  publicUrl: Type.String({
    description:
      'Base URL used in links (links, WHEP Location, viewUrl); empty = the request Host when trusted, else the listen address.',
  }),
  advertiseUrl: Type.String({
    pattern: '^(https?://[^\\s/]+)?$',
    description:
      'How the other nodes of a fleet reach this one (CDP relays), e.g. http://castpool-1:8000 (env CASTPOOL_ADVERTISE_URL); empty = publicUrl, else the listen address (not usable when that is a wildcard such as 0.0.0.0).',
  }),
  trustedHosts: Type.Array(Type.String({ minLength: 1 }), {
    description:
      'Host names whose Host header links may echo when publicUrl is empty (others get the listen address).',
  }),
  apiToken: Type.String({
    description:
      'One API token (named "default"); /api, /metrics and NATS commands then need "Authorization: Bearer <token>" (env CASTPOOL_API_TOKEN).',
  }),
  auth: Type.Object({
    tokens: Type.Array(
      Type.Object(
        {
          name: Type.String({
            pattern: '^[A-Za-z0-9_.-]{1,64}$',
            description: 'Shown in logs and rate limits.',
          }),
          token: Type.String({ minLength: 16, maxLength: 512, pattern: '^\\S+$' }),
        },
        { additionalProperties: false },
      ),
      {
        description:
          'API tokens (env CASTPOOL_API_TOKENS="name=token,name2=token2"); any of them opens the API.',
      },
    ),
    viewerTokenSecret: Type.String({
      description:
        'HMAC secret of viewer tokens, the same on every node (env CASTPOOL_VIEWER_TOKEN_SECRET); empty = derived from the API tokens.',
    }),
    viewerTokenTtlSeconds: Int(10, 31536000, 'Default lifetime of a minted viewer token.'),
    allowAnonymousRemote: Type.Boolean({
      description:
        'Start even when listening beyond loopback without API tokens (env CASTPOOL_ALLOW_ANONYMOUS_REMOTE=1); refused otherwise.',
    }),
    maxViewerTokenTtlSeconds: Int(10, 31536000, 'Longest lifetime a viewer token may be given.'),
  }),
  cors: Type.Object({
    origins: Type.Array(Type.String({ minLength: 1 }), {
      description: 'Origins allowed to call the API from a browser (["*"] = any); empty = no CORS headers.',
    }),
    whepOrigins: Type.Array(Type.String({ minLength: 1 }), {
      description:
        'Origins allowed to use the WHEP endpoints (players are embedded elsewhere; tokens guard them); default any.',
    }),
  }),
  webrtc: Type.Object({
    iceServers: Type.Array(
      Type.Object(
        {
          urls: Type.Array(Type.String({ pattern: '^(stun|stuns|turn|turns):[^\\s<>"]+$', maxLength: 512 }), {
            minItems: 1,
            maxItems: 8,
          }),
          username: Type.Optional(Type.String({ maxLength: 512 })),
          credential: Type.Optional(Type.String({ maxLength: 512 })),
        },
        { additionalProperties: false },
      ),
      {
        maxItems: 8,
        description:
          'STUN/TURN servers handed to viewers (WHEP answer Link headers, the view page), with fixed credentials if any.',
      },
    ),
    turn: Type.Object({
      urls: Type.Array(Type.String({ pattern: '^turns?:[^\\s<>"]+$', maxLength: 512 }), {
        maxItems: 8,
        description:
          'TURN servers that share turn.secret (coturn use-auth-secret), env CASTPOOL_TURN_URLS (comma-separated): each viewer gets short-lived credentials of its own.',
      }),
      secret: Type.String({
        description:
          "The TURN servers' shared secret (env CASTPOOL_TURN_SECRET): credentials are HMAC-SHA1(secret, '<expiry>:<viewer>'). Never logged.",
      }),
      ttlSeconds: Int(
        60,
        604800,
        'How long minted TURN credentials are valid (a connection in progress outlives them).',
      ),
    }),
    udpPortMin: Int(
      0,
      65535,
      "Lowest UDP port of castpool's own media (ICE); 0 with udpPortMax 0 = any free port.",
    ),
    udpPortMax: Int(
      0,
      65535,
      "Highest UDP port of castpool's own media: the range operators open in a firewall.",
    ),
    iceTcp: Type.Boolean({
      description:
        'Also offer ICE over TCP (passive host candidates on the same range): viewers whose UDP is blocked reach castpool directly.',
    }),
    maxPlayoutDelayMs: Int(
      0,
      40950,
      "The most a player may hold a frame before showing it (the playout-delay RTP header extension, which Chromium-based players take); 0 = the player decides (Chromium then showed a still page's changes up to 1 s late, measured).",
    ),
  }),
  urlPolicy: Type.Object({
    allowHosts: Type.Array(Type.String({ minLength: 1 }), {
      description: 'Hosts sessions may open ("example.com", "*.example.com"); empty = any.',
    }),
    denyHosts: Type.Array(Type.String({ minLength: 1 }), { description: 'Hosts always refused (wins).' }),
    allowPrivateHosts: Type.Array(Type.String({ minLength: 1 }), {
      description:
        'Hosts exempt from private-address blocking ("wiki.corp.example", "*.corp.example", "10.1.2.3"): intranet sites, without opening all private space.',
    }),
    blockPrivateAddresses: Type.Boolean({
      description:
        'Refuse hosts resolving to loopback/private/link-local/metadata addresses: documents (every hop, popups, iframes) and subresources (SSRF). On by default; false is the intranet opt-out, logged at start.',
    }),
  }),
  http: Type.Object({
    headersTimeoutMs: Int(
      1000,
      600000,
      'A client must send its request headers within this (slow-header clients).',
    ),
    requestTimeoutMs: Int(
      1000,
      3600000,
      'A client must send its whole request (headers and body) within this.',
    ),
    connectionTimeoutMs: Int(
      1000,
      3600000,
      'An idle socket is closed after this (event streams send a keep-alive every 15 s).',
    ),
    keepAliveTimeoutMs: Int(100, 600000, 'An idle keep-alive connection is closed after this.'),
    maxConnections: Int(16, 1000000, 'Open HTTP connections this node accepts; more are refused.'),
  }),
  limits: Type.Object({
    viewersPerSession: Int(1, 10000, 'WHEP viewers (connected or negotiating) per session; more get 429.'),
    viewersPerNode: Int(1, 100000, 'WHEP viewers across all sessions of this node; more get 429.'),
    eventStreams: Int(1, 100000, 'Open /api/events streams on this node; more get 429.'),
    inputMessagesPerSecond: Int(
      1,
      10000,
      "A controlling viewer's input messages per second (burst: 2 s worth); more are dropped.",
    ),
    inputTextBytesPerSecond: Int(
      64,
      10485760,
      'Text a controlling viewer may insert per second (burst: 2 s worth); more is dropped.',
    ),
    tabsPerSession: Int(
      1,
      100,
      'Tabs a session may have open at once (popups and target=_blank under the `tabs` popup policy); a window past it is closed.',
    ),
    downloadsPerSession: Int(
      0,
      10000,
      'Files a session may download (0 = downloads refused); more are canceled.',
    ),
    downloadMbPerSession: Int(
      0,
      1048576,
      "Megabytes a session's downloads may take together; a download that goes past is canceled and removed.",
    ),
    uploadMb: Int(
      1,
      1024,
      "Files given to a page's file chooser in one request, in megabytes (at most 10 files).",
    ),
    inputQueue: Int(
      1,
      10000,
      'Input events waiting for the page per viewer; more are dropped (a hung page).',
    ),
    thumbnailWidths: Type.Array(Type.Integer({ minimum: 16, maximum: 3840 }), {
      minItems: 1,
      description: 'The thumbnail widths made; a request is served the smallest one at least as wide.',
    }),
  }),
  rateLimit: Type.Object({
    createsPerMinute: Int(
      0,
      100000,
      'Session creations per minute per API token (or client, without tokens); 0 = off.',
    ),
  }),
  inspect: Type.Object({
    enabled: Type.Boolean({
      description: 'Attach the Stately inspector (also `--inspect`, env CASTPOOL_INSPECT=1).',
    }),
    port: Int(0, 65535, 'Loopback port of the inspection relay and its devtools page (0 = any free one).'),
    uiUrl: Type.String({ description: 'The inspector UI the devtools page embeds.' }),
  }),
  logLevel: Type.String({ description: 'pino level (env LOG_LEVEL).' }),
  maxSessions: Int(1, 10000, 'Live sessions this node admits; more get 429 (env CASTPOOL_MAX_SESSIONS).'),
  sessionsPerBrowser: Int(1, 64, 'Session contexts per Chromium process; 1 = a browser per session.'),
  chromiumPath: Type.String({ description: 'Chromium binary (env CHROMIUM_PATH).' }),
  chromiumUser: Type.String({
    description:
      'When castpool runs as root, Chromium runs as this unprivileged user (npm run setup creates castpool-chromium; "nobody" if missing).',
  }),
  chromiumSandbox: Type.Union([Type.Literal('auto'), Type.Literal('off')], {
    description:
      "auto: Chromium's sandbox on, --no-sandbox only as a logged fallback when a sandboxed start fails; off: always --no-sandbox.",
  }),
  gpu: Type.Union([Type.Literal('auto'), Type.Literal('off'), Type.Literal('require')], {
    description:
      'auto: use a GPU found at start (a VA-API render node /dev/dri/renderD*, or NVIDIA /dev/nvidia0 with NVENC) for Chromium and the screencast encoder, else software; off: software; require: refuse to start without one (env CASTPOOL_GPU).',
  }),
  chromiumArgs: Type.Array(Type.String({ pattern: '^--' }), {
    description: 'Extra Chromium switches, after castpool\'s own (e.g. ["--enable-low-end-device-mode"]).',
  }),
  cgroupRoot: Type.String({
    description:
      "Where cgroup v1 hierarchies are mounted; each browser gets a cpu group weighted by its sessions' highest priority (cpu.shares). Where the host does not allow it (a read-only container mount, cgroup v2 only) castpool says so once and goes on without. Empty: off.",
  }),
  renderRate: Type.Union([Type.Literal('capture'), Type.Literal('display')], {
    description:
      'capture: sessions captured at ≤ 30 FPS run in browsers that composite at 30 Hz (their pages animate at 30 Hz; less CPU for the same frames); display: every browser composites at 60 Hz, as a desktop Chromium does.',
  }),
  warmPage: Type.Boolean({
    description:
      'Keep one blank page ready per browser (~65 MB): creates, restarts and resumes skip ~200 ms.',
  }),
  ffmpegPath: Type.String({ description: 'ffmpeg binary.' }),
  dataDir: Type.String({
    description: 'Root for per-browser profiles (env CASTPOOL_DATA_DIR); empty = <tmp>/castpool-<uid>.',
  }),
  allowedSchemes: Type.Array(Type.String({ pattern: '^[a-z][a-z0-9+.-]*:$' }), {
    description: 'URL schemes sessions may open, e.g. ["http:","https:"].',
  }),
  launchTimeoutMs: Int(1000, 300000, 'Chromium start-up limit.'),
  navigationTimeoutMs: Int(1000, 300000, 'Navigation limit.'),
  session: Type.Object({
    viewport: Type.Object({ width: Int(64, 3840, 'px'), height: Int(64, 2160, 'px') }),
    fps: Int(1, 60, 'Default target frame rate.'),
    quality: Int(1, 100, 'Default screencast JPEG quality.'),
    capture: Type.Union([Type.Literal('screencast'), Type.Literal('tab')], {
      description: 'Default capture strategy (see README: which and why).',
    }),
    priority: Int(0, 9, 'Default capture-budget priority (higher keeps its frames longer under load).'),
    dialogs: DialogPolicy,
    dialogTimeoutMs: DialogTimeoutMs,
    popups: PopupPolicy,
    unwatched: UnwatchedPages,
  }),
  recordings: Type.Object({
    maxMbPerSession: Int(
      0,
      1048576,
      "Megabytes a session's recordings may take together (0 = recordings refused); a recording that reaches it is stopped and kept.",
    ),
    maxPerSession: Int(0, 1000, 'Recordings a session keeps at most; delete one to start another.'),
    maxTotalMb: Int(
      0,
      16777216,
      "Megabytes this node's recordings may take together; past it new ones get 507 and running ones stop.",
    ),
    retentionHours: Int(
      1,
      87600,
      'A finished recording is removed this long after it ended (or with its session).',
    ),
    codec: Type.Union([Type.Literal('H264'), Type.Literal('VP8')], {
      description:
        'What a recording of an unwatched session encodes (a watched one records what its viewers get; later viewers must take it).',
    }),
  }),
  contexts: Type.Object({
    withoutKey: Type.Union([Type.Literal('local'), Type.Literal('refuse')], {
      description:
        "Saved contexts hold logins: they are sealed with the fleet's key (fleet.secret, or derived from the API tokens) and kept fleet-wide. Without such a key: 'local' keeps them on this node's disk only (<dataDir>/contexts), sealed with a key file beside them, and says so at start; 'refuse' refuses to start.",
    }),
  }),
  control: Type.Object({
    defaultHolder: Type.Union([Type.Literal('agent'), Type.Literal('first')], {
      description:
        "Who drives a session nobody took control of: 'agent' = its CDP client while one is attached (a person takes over with POST .../control); 'first' = whoever acts or takes first.",
    }),
    idleReleaseMs: Int(
      1000,
      3600000,
      'A hold got by acting (not by take) lapses after this long without input, so a person who walked away does not block others.',
    ),
  }),
  nodeId: Type.String({
    pattern: '^[A-Za-z0-9_-]*$',
    description: 'This node in the fleet (env CASTPOOL_NODE_ID); empty = <hostname>-<pid>.',
  }),
  fleet: Type.Object({
    secret: Type.String({
      description:
        'Shared by every node of a fleet, known to nothing else (env CASTPOOL_FLEET_SECRET): seals registry values (saved cookies and storage) and node-to-node commands. Empty = derived from the API tokens when set, else a random key per process (a node alone; see README "NATS security").',
    }),
  }),
  nats: Type.Object({
    enabled: Type.Boolean({
      description:
        'false: this node alone, without NATS (no fleet, no NATS commands, no embedded nats-server); REST works the same.',
    }),
    url: Type.String({
      description: 'Comma-separated NATS servers (env NATS_URL); empty = start a local nats-server.',
    }),
    user: Type.String({ description: 'User credential (env NATS_USER), optional; with pass.' }),
    pass: Type.String({ description: 'Password credential (env NATS_PASS), optional; with user.' }),
    token: Type.String({ description: 'Token credential (env NATS_TOKEN), optional.' }),
    credsFile: Type.String({
      description:
        'A NATS .creds file (JWT + nkey seed) for the cluster (env NATS_CREDS); see README "NATS security".',
    }),
    subjectPrefix: Type.String({
      pattern: '^[A-Za-z0-9_-]+$',
      description: 'First token of every subject, KV bucket and service name.',
    }),
    serverPath: Type.String({ description: 'nats-server binary for the embedded server.' }),
    embeddedPort: Int(0, 65535, 'Port of the embedded server (0 = a free one).'),
    pingIntervalMs: Int(500, 600000, 'Client ping interval: a dead server is noticed in ~2 intervals.'),
    connectTimeoutMs: Int(100, 60000, 'Per-attempt connect timeout.'),
    requestTimeoutMs: Int(100, 600000, 'Forwarded commands and registry calls give up after this (504).'),
    leaseMs: Int(1000, 600000, 'A node whose lease is not renewed this long is dead (its sessions move).'),
    heartbeatMs: Int(200, 600000, 'Lease renewal and fleet check period (well under leaseMs).'),
    replicas: Int(1, 5, 'JetStream replicas of the KV buckets (3 in a 3-server cluster).'),
  }),
  captureBudget: Type.Object({
    checkMs: Int(200, 60000, 'How often host CPU is sampled and the shares recomputed.'),
    totalFps: Int(0, 100000, 'Fixed ceiling on frames/s captured across watched sessions (0 = none).'),
    adaptive: Type.Boolean({
      description:
        'Shrink the total above cpuHigh while a watched session struggles; grow it back below cpuLow or while every watched session keeps up.',
    }),
    cpuHigh: Type.Number({
      minimum: 0.05,
      maximum: 1,
      description: 'Host CPU share (all cores) that is overload.',
    }),
    cpuLow: Type.Number({
      minimum: 0,
      maximum: 1,
      description: 'Host CPU share below which the budget grows.',
    }),
    shrinkAfterChecks: Int(1, 60, 'Consecutive hot checks before shrinking.'),
    growAfterChecks: Int(1, 60, 'Consecutive cool checks before growing.'),
    shrinkFactor: Type.Number({
      minimum: 0.1,
      maximum: 1,
      description: 'Shrinking sets the total to this share of the frames delivered now.',
    }),
    growStepFps: Int(1, 1000, 'Frames/s added to the total per grow step.'),
    minSessionFps: Int(1, 60, 'No watched session gets less than this (or its own lower target).'),
    saturatedAdmitFactor: Type.Number({
      minimum: 1,
      maximum: 10,
      description:
        'On a host at its limit (CPU over cpuHigh, or over cpuLow with a watched session falling behind), the first viewer of another session is taken only if the frames delivered now, shared by one more session, leave each minSessionFps this many times over (a saturated host shares unevenly); else 503 host_saturated.',
    }),
    maxWarmingSessions: Int(
      0,
      1000,
      'First viewers of at most this many sessions are taken while earlier ones are still warming up (their cost not measured yet); more get 503 host_saturated with Retry-After: 2 (0 = no limit; needs `adaptive`).',
    ),
  }),
  encoder: Type.Object({
    bitrateKbps: Int(100, 50000, 'Encoder target bitrate.'),
    keyframeIntervalMs: Int(100, 10000, 'Forced keyframe period; bounds how long a late viewer waits.'),
    idleRepeatMs: Int(50, 5000, 'Repeat the last frame after this long without a new one (static pages).'),
    simulcast: Type.Boolean({
      description:
        'Tab capture encodes three layers (full, half, quarter picture) and each viewer gets the one its link carries (see README: slow viewers).',
    }),
  }),
  supervision: Type.Object({
    degrade: Type.Object({
      failures: Int(
        1,
        1000,
        'Browser launch failures within windowMs that make the pool refuse new sessions (503).',
      ),
      windowMs: Int(1000, 3600000, 'The degraded-mode window.'),
    }),
    memoryBudgetMb: Int(
      0,
      1048576,
      'Browsers PSS above this hibernates the least recently viewed idle session (0 = off).',
    ),
    memoryCheckMs: Int(100, 600000, 'How often the memory budget is checked.'),
    idleTimeoutMs: Int(0, 86400000, 'A session without viewers this long hibernates (0 = never).'),
    freezeAfterMs: Int(
      0,
      86400000,
      'A session whose `unwatched` is `frozen` freezes its pages after this long without viewers.',
    ),
    silentViewerMs: Int(
      1000,
      60000,
      'A viewer that has reported (RTCP) and then falls silent this long is gone: a closed tab sends no WHEP DELETE, and ICE consent would take 30 s.',
    ),
    browserLingerMs: Int(
      0,
      3600000,
      'A browser whose last session ended (or hibernated) stays up this long for the next one, which then opens in ~0.3 s instead of a ~1–2 s launch; 0 = it closes at once (memory is per browser).',
    ),
    probeIntervalMs: Int(500, 600000, 'How often a live page is probed over CDP (hung renderer detection).'),
    probeTimeoutMs: Int(500, 600000, 'A probe unanswered this long restarts the session.'),
    restart: Type.Object({
      max: Int(0, 100, 'Restarts allowed per session within windowMs; past it the session fails.'),
      windowMs: Int(1000, 3600000, 'The restart budget window.'),
      backoffBaseMs: Int(0, 60000, 'First restart delay; doubles per recent restart.'),
      backoffMaxMs: Int(0, 600000, 'Longest restart delay.'),
    }),
  }),
  throttle: Type.Object({
    warmupWindows: Int(
      0,
      60,
      'Windows after a capture starts that never count as overload (encoder start-up).',
    ),
    enterAfterWindows: Int(1, 60, 'Consecutive overloaded 1 s windows before throttling.'),
    leaveAfterWindows: Int(1, 60, 'Consecutive healthy 1 s windows before streaming again.'),
    dropRatio: Type.Number({
      minimum: 0,
      maximum: 1,
      description: 'Share of frames dropped for encoder backlog that counts as overload.',
    }),
    backlogFrames: Int(1, 600, 'Frames written but not yet out of the encoder that count as overload.'),
    fpsFactor: Type.Number({
      minimum: 0.05,
      maximum: 1,
      description: 'Target fps multiplier while throttled.',
    }),
    minFps: Int(1, 60, 'Lowest throttled fps.'),
  }),
});
export type Config = Static<typeof ConfigSchema>;
