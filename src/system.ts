import type { FastifyBaseLogger } from 'fastify';
import { createActor, type InspectionEvent, waitFor } from 'xstate';
import { Access } from './access/index.js';
import { SiteCredentials } from './access/site-credentials.js';
import { chooseBrowserUser } from './actors/browser-user.js';
import { captureActor } from './actors/capture.js';
import { closeBrowserActor, launchBrowserActor, watchBrowserActor } from './actors/chromium.js';
import type { ActorDeps } from './actors/deps.js';
import { dialogsActor } from './actors/dialogs.js';
import { downloadsActor, sessionFilesActor } from './actors/downloads.js';
import { fileChooserActor } from './actors/file-chooser.js';
import { freezePagesActor } from './actors/freeze-pages.js';
import { hostLoadActor } from './actors/host-load.js';
import { memoryWatchActor } from './actors/memory.js';
import { closePageActor, hibernatePageActor, openPageActor } from './actors/page.js';
import { navigatePageActor } from './actors/page-navigation.js';
import { pageStateActor } from './actors/page-state.js';
import { watchPageActor } from './actors/page-watch.js';
import { widgetsActor } from './actors/page-widgets.js';
import { recorderActor, removeRecordingActor } from './actors/recorder.js';
import { RecordingArchive } from './actors/recording-archive.js';
import { RecordingSpace } from './actors/recording-space.js';
import { tabsActor } from './actors/tabs.js';
import { thumbnailActor } from './actors/thumbnail.js';
import { viewerActor } from './actors/viewer.js';
import type { Config } from './config.js';
import { Contexts } from './contexts/contexts.js';
import { browserHostMachine } from './machines/browser-host.machine.js';
import { type MachineClock, realClock } from './machines/clock.js';
import { hostPriorities, type PoolActorRef, poolMachine } from './machines/pool.machine.js';
import { sessionMachine } from './machines/session.machine.js';
import { EventHub } from './observability/events.js';
import { countTransitions, Metrics } from './observability/metrics.js';
import { type CpuGroups, cpuGroups } from './processes/cpu-groups.js';
import { detectGpu, ffmpegEncoders, type Gpu, gpuRefusal, gpuSummary } from './processes/gpu.js';
import { sweepLeftovers } from './processes/leftovers.js';
import { ProcessTracker } from './processes/tracker.js';

export interface Castpool {
  config: Config;
  /** Tokens, URL policy and rate limits. */
  access: Access;
  metrics: Metrics;
  pool: PoolActorRef;
  processes: ProcessTracker;
  /** The browsers' CPU groups (or why there are none). */
  cpuGroups: CpuGroups;
  log: FastifyBaseLogger;
  /** Every session transition and pool event of this node. */
  events: EventHub;
  /** Sessions' HTTP sign-in credentials (never in session state). */
  siteCredentials: SiteCredentials;
  /** Where saved contexts are kept (the fleet's KV, or this node's disk). */
  contexts: Contexts;
  /** What this node's recordings take on disk (their node-wide limit). */
  recordingSpace: RecordingSpace;
  /** Recordings of sessions that ended (or of an earlier run), until their retention time is over. */
  recordingArchive: RecordingArchive;
  /** The host's GPU as castpool uses it (found at start). */
  gpu: Gpu;
  /** Closes every session and browser, then ends any process still tracked. */
  shutdown(): Promise<void>;
}

/** The one place machines meet their effect actors. */
export function createCastpool(
  config: Config,
  log: FastifyBaseLogger,
  inspect?: (event: InspectionEvent) => void,
  clock: MachineClock = realClock,
): Castpool {
  const gpu = detectGpu(config.gpu, () => ffmpegEncoders(config.ffmpegPath));
  const refusal = gpuRefusal(config.gpu, gpu);
  if (refusal) throw new Error(refusal);
  log.info({ gpu }, gpuSummary(gpu));
  const leftovers = sweepLeftovers(config.dataDir);
  if (leftovers.killed + leftovers.removed > 0)
    log.warn(leftovers, 'removed what a previous castpool left behind');
  const processes = new ProcessTracker();
  const events = new EventHub(config.nodeId);
  const access = new Access(config);
  const siteCredentials = new SiteCredentials();
  const metrics = new Metrics();
  countTransitions(metrics, events);
  // One line per state change: a session's life can be followed by its id alone.
  events.subscribe((event) => {
    if (event.kind !== 'session') return;
    const { sessionId, from, to, reason } = event;
    const level = to === 'failed' || to === 'restarting' ? 'warn' : 'info';
    log[level]({ sessionId, from, to, ...(reason ? { reason } : {}) }, `session ${to}`);
  });
  const browserUser = chooseBrowserUser(config, log);
  const cpu = cpuGroups(config.cgroupRoot, log);
  const deps: ActorDeps = {
    config,
    processes,
    cpuGroups: cpu,
    log,
    urls: access.urls,
    metrics,
    browserUser,
    gpu,
  };
  const recordingSpace = new RecordingSpace(config.recordings.maxTotalMb * 1024 * 1024);
  const recordingArchive = new RecordingArchive(
    config.dataDir,
    config.recordings.retentionHours * 3600_000,
    recordingSpace,
  );
  const kept = recordingArchive.load();
  if (kept.recordings > 0) log.info(kept, 'recordings kept from an earlier run');
  const session = sessionMachine.provide({
    actors: {
      openPage: openPageActor(deps, siteCredentials),
      closePage: closePageActor(deps),
      navigatePage: navigatePageActor(deps),
      watchPage: watchPageActor(deps),
      dialogs: dialogsActor(deps),
      downloads: downloadsActor(deps),
      tabs: tabsActor(deps, siteCredentials),
      widgets: widgetsActor(deps),
      fileChooser: fileChooserActor(deps),
      sessionFiles: sessionFilesActor(deps, siteCredentials, recordingArchive),
      hibernatePage: hibernatePageActor(deps),
      capture: captureActor(deps),
      freezePages: freezePagesActor(deps),
      viewer: viewerActor(deps),
      recorder: recorderActor(deps, recordingSpace, recordingArchive),
      removeRecording: removeRecordingActor(recordingArchive),
      thumbnail: thumbnailActor(deps),
      pageState: pageStateActor(),
    },
  });
  const browserHost = browserHostMachine.provide({
    actors: {
      launchBrowser: launchBrowserActor(deps),
      watchBrowser: watchBrowserActor(),
      closeBrowser: closeBrowserActor(deps),
    },
  });
  const pool = createActor(
    poolMachine.provide({
      actors: { session, browserHost, memoryWatch: memoryWatchActor(deps), hostLoad: hostLoadActor(deps) },
    }),
    {
      input: {
        maxSessions: config.maxSessions,
        sessionsPerBrowser: config.sessionsPerBrowser,
        renderRate: config.renderRate,
        throttle: config.throttle,
        restart: config.supervision.restart,
        idleTimeoutMs: config.supervision.idleTimeoutMs,
        freezeAfterMs: config.supervision.freezeAfterMs,
        maxTabs: config.limits.tabsPerSession,
        control: config.control,
        recordingLimits: {
          maxBytes: config.recordings.maxMbPerSession * 1024 * 1024,
          maxCount: config.recordings.maxPerSession,
          retentionMs: config.recordings.retentionHours * 3600_000,
          codec: config.recordings.codec,
        },
        browserLingerMs: config.supervision.browserLingerMs,
        degrade: config.supervision.degrade,
        captureBudget: config.captureBudget,
        now: () => clock.now(),
      },
      clock,
      inspect: (event) => {
        events.inspect(event);
        inspect?.(event);
      },
    },
  );
  pool.subscribe({
    // Each browser weighs what its most important session asks (cgroup cpu.shares, where allowed).
    next: (snapshot) => {
      for (const [hostId, priority] of Object.entries(hostPriorities(snapshot.context)))
        cpu.weigh(hostId, priority);
    },
    error: (error) => log.error({ err: error }, 'pool actor failed'),
  });
  pool.start();

  let shuttingDown: Promise<void> | undefined;
  const shutdown = () => {
    shuttingDown ??= (async () => {
      pool.send({ type: 'pool.shutdown' });
      await waitFor(
        pool,
        (s) => Object.keys(s.context.sessions).length === 0 && Object.keys(s.context.hosts).length === 0,
        { timeout: 20_000 },
      ).catch(() => log.warn('sessions did not close in time; killing their processes'));
      // The embedded nats-server outlives the sessions: their last registry writes go through it.
      await processes.stopAll(500, (p) => p.kind !== 'nats-server');
      cpu.close();
      recordingArchive.close();
      pool.stop();
    })();
    return shuttingDown;
  };
  const contexts = new Contexts(config);
  return {
    config,
    access,
    metrics,
    pool,
    processes,
    cpuGroups: cpu,
    log,
    events,
    siteCredentials,
    contexts,
    recordingSpace,
    recordingArchive,
    gpu,
    shutdown,
  };
}
