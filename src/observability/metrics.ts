import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { EventHub } from './events.js';

const MS_BUCKETS = [2, 5, 10, 20, 35, 50, 75, 100, 150, 250, 500, 1000, 2500];

/**
 * Prometheus instruments the actors feed. Observations are a few array writes (no labels on the
 * per-frame histograms beyond the strategy), so the frame path can afford them.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly captureToSendMs = new Histogram({
    name: 'castpool_frame_capture_to_send_ms',
    help: 'From the compositor frame (screencast timestamp) to its encoded packets leaving for viewers; tab: encode + send delay per frame, averaged each second',
    labelNames: ['capture'],
    buckets: MS_BUCKETS,
    registers: [this.registry],
  });
  readonly encodeMs = new Histogram({
    name: 'castpool_frame_encode_ms',
    help: 'Encoder time per frame (screencast: written to ffmpeg → out; tab: Chromium totalEncodeTime per frame, each second)',
    labelNames: ['capture'],
    buckets: MS_BUCKETS,
    registers: [this.registry],
  });
  readonly restarts = new Counter({
    name: 'castpool_session_restarts_total',
    help: 'Session restarts after a browser/page crash or a hung renderer',
    registers: [this.registry],
  });
  readonly failures = new Counter({
    name: 'castpool_session_failures_total',
    help: 'Sessions that went to failed (restart budget spent)',
    registers: [this.registry],
  });
  readonly hibernations = new Counter({
    name: 'castpool_hibernations_total',
    help: 'Sessions hibernated',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly resumes = new Counter({
    name: 'castpool_resumes_total',
    help: 'Hibernated sessions woken',
    registers: [this.registry],
  });
  readonly resumeMs = new Histogram({
    name: 'castpool_resume_ms',
    help: 'From resume to live again',
    buckets: [100, 200, 300, 500, 750, 1000, 2000, 5000, 10000],
    registers: [this.registry],
  });
  readonly refusals = new Counter({
    name: 'castpool_admission_refusals_total',
    help: 'Requests refused: capacity (429), rate_limited (429), unavailable (503), host_saturated (503: a new watcher the CPU cannot serve), url_refused, unauthorized, forbidden',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly thumbnails = new Counter({
    name: 'castpool_thumbnails_total',
    help: 'Thumbnails served: from the streamed frame, a screenshot, or the 1 s cache',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly iceRestarts = new Counter({
    name: 'castpool_viewer_ice_restarts_total',
    help: "Viewers' ICE restarts (WHEP PATCH with new credentials, after a network change): done, failed",
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly layerSwitches = new Counter({
    name: 'castpool_viewer_layer_switches_total',
    help: 'Viewers moved to another simulcast layer (to: 0 full picture, 1 half, 2 quarter), as their link allowed',
    labelNames: ['to'],
    registers: [this.registry],
  });
  readonly viewerConnections = new Counter({
    name: 'castpool_viewer_connections_total',
    help: 'WHEP viewers whose media connected (connected), or never did: ICE/DTLS failed or 15 s passed (failed)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly recordings = new Counter({
    name: 'castpool_recordings_total',
    help: 'Recordings ended: completed (a finalised file), failed (nothing or a broken file was written)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly controlInputs = new Counter({
    name: 'castpool_control_inputs_total',
    help: 'Remote-control messages from viewers: applied, refused (view-only), malformed, dropped (over the input budget)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  constructor() {
    // The event-loop delay histogram samples with a timer: prom-client's 10 ms was most of an idle
    // castpool's wake-ups (strace, 10 s idle: 2020 epoll waits, 312 with 100 ms). A 100 ms timer still
    // sees every stall that matters to media (they last longer).
    collectDefaultMetrics({
      register: this.registry,
      prefix: 'castpool_process_',
      eventLoopMonitoringPrecision: 100,
    });
  }
}

const LIVE = new Set(['idle', 'frozen', 'streaming', 'throttled']);

/** Restarts, failures, hibernations and resumes, counted from the sessions' transitions. */
export function countTransitions(metrics: Metrics, events: EventHub): () => void {
  const resumingSince = new Map<string, number>();
  return events.subscribe((event) => {
    if (event.kind !== 'session') return;
    const { sessionId, from, to } = event;
    if (to === 'restarting') metrics.restarts.inc();
    else if (to === 'failed') metrics.failures.inc();
    else if (to === 'hibernated') metrics.hibernations.inc({ reason: event.reason ?? 'unknown' });
    else if (to === 'resuming') resumingSince.set(sessionId, performance.now());
    if (to === 'closed' || to === 'failed') resumingSince.delete(sessionId);
    const since = resumingSince.get(sessionId);
    if (since !== undefined && LIVE.has(to) && from !== null) {
      resumingSince.delete(sessionId);
      metrics.resumes.inc();
      metrics.resumeMs.observe(performance.now() - since);
    }
  });
}

/** Refusals worth watching (admission, rate, URL policy, auth), by error code. */
const REFUSALS = new Set([
  'capacity',
  'rate_limited',
  'unavailable',
  'host_saturated',
  'url_refused',
  'unauthorized',
  'forbidden',
]);
export function countRefusal(metrics: Metrics, code: string): void {
  if (REFUSALS.has(code)) metrics.refusals.inc({ reason: code });
}

/**
 * Frame timing between the capture and the fan-out: each frame written to the encoder is queued
 * with its capture time; each frame leaving (RTP marker) takes the oldest. A fixed ring, no allocation.
 */
export class FrameTimer {
  private readonly capturedAt = new Float64Array(64);
  private readonly writtenAt = new Float64Array(64);
  private head = 0;
  private size = 0;

  constructor(
    private readonly captureToSend: Histogram<'capture'>,
    private readonly encode: Histogram<'capture'>,
    private readonly strategy: string,
  ) {}

  /** A frame went to the encoder; `capturedAtMs` is epoch ms (Date.now() scale). */
  written(capturedAtMs: number): void {
    const at = (this.head + this.size) % 64;
    this.capturedAt[at] = capturedAtMs;
    this.writtenAt[at] = performance.now();
    if (this.size < 64) this.size++;
    else this.head = (this.head + 1) % 64; // the encoder fell far behind or dropped: forget the oldest
  }

  /** An encoded frame left for the viewers. */
  sent(): void {
    if (this.size === 0) return;
    const at = this.head;
    this.head = (this.head + 1) % 64;
    this.size--;
    this.encode.observe({ capture: this.strategy }, performance.now() - (this.writtenAt[at] ?? 0));
    this.captureToSend.observe({ capture: this.strategy }, Date.now() - (this.capturedAt[at] ?? 0));
  }

  /** A new encoder: what the old one held never comes out. */
  reset(): void {
    this.size = 0;
  }
}
