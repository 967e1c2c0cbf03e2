import { fromCallback } from 'xstate';
import type { CaptureCommand, CaptureInput } from '../machines/types.js';
import type { CapturePipeline, CaptureReport } from './capture-pipeline.js';
import type { ActorDeps } from './deps.js';
import type { SessionPage } from './page.js';
import { ScreencastPipeline } from './screencast-capture.js';
import { TabCapturePipeline } from './tab-capture.js';

/** The capture actor: the strategy the session uses now, started when watched, stopped when not. */
export function captureActor(deps: ActorDeps) {
  return fromCallback<CaptureCommand, CaptureInput>(({ input, sendBack, receive }) => {
    const page = input.page as SessionPage;
    const report = sendBack as (event: CaptureReport) => void;
    const pipeline: CapturePipeline =
      input.strategy === 'tab'
        ? new TabCapturePipeline(page, input, deps, report)
        : new ScreencastPipeline(page, input, deps, report);
    // The window is shown while the capture runs (a minimized one draws nothing to capture).
    const release = page.window.hold();
    let stopped = false;
    let starting = false;
    const started = page.window
      .apply()
      .then(() => {
        if (stopped) return;
        starting = true;
        return pipeline.start();
      })
      .catch((error: Error) => report({ type: 'capture.failed', reason: error.message }));
    receive((command) => pipeline.handle(command));
    return () => {
      stopped = true;
      void started
        .then(() => (starting ? pipeline.stop() : undefined))
        .catch((error: Error) =>
          deps.log.warn({ err: error, sessionId: page.sessionId }, 'capture stop failed'),
        )
        .finally(release);
    };
  });
}
