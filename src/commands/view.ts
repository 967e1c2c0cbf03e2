import type { SessionPage } from '../actors/page.js';
import { controlView } from '../machines/control-lease.js';
import { captureFps, type SessionActorRef, sessionStateName, tabList } from '../machines/session.machine.js';
import type { SessionView } from './results.js';

/** A session as clients see it, read from its actor's snapshot. */
export function sessionView(node: string, id: string, ref: SessionActorRef): SessionView {
  const snapshot = ref.getSnapshot();
  const { context } = snapshot;
  const watched = snapshot.hasTag('watched');
  return {
    id,
    node,
    state: sessionStateName(snapshot.value),
    url: context.url,
    viewport: context.params.viewport,
    capture: context.captureStrategy,
    ...(context.captureFallback ? { captureFallback: context.captureFallback } : {}),
    audio: context.params.audio,
    ...(context.failure ? { failure: context.failure } : {}),
    ...(context.lastNavigation
      ? { lastNavigation: { url: context.lastNavigation.url, error: context.lastNavigation.error } }
      : {}),
    ...(context.dialog
      ? {
          dialog: {
            type: context.dialog.type,
            message: context.dialog.message,
            defaultPrompt: context.dialog.defaultPrompt,
            url: context.dialog.url,
            openedAt: new Date(context.dialog.openedAt).toISOString(),
          },
        }
      : {}),
    dialogs: context.params.dialogs,
    control: controlView(context.control, context.controlRules),
    tabs: tabList(context),
    ...(context.fileChooser
      ? {
          fileChooser: {
            mode: context.fileChooser.mode,
            openedAt: new Date(context.fileChooser.openedAt).toISOString(),
          },
        }
      : {}),
    targetFps: context.params.fps,
    currentFps: watched ? captureFps(context) : 0,
    priority: context.params.priority,
    shareFps: watched ? context.shareFps : null,
    deliveredFps: context.stats.deliveredFps,
    droppedFrames: context.stats.droppedTotal,
    viewers: Object.keys(context.viewers).length,
    viewerLinks: Object.values(context.viewers).flatMap((viewer) => (viewer.link ? [viewer.link()] : [])),
    encoders: (context.page as SessionPage | undefined)?.encoders ?? 0,
    restarts: context.restartsTotal,
    ...(context.hibernation
      ? {
          hibernation: {
            at: new Date(context.hibernation.at).toISOString(),
            reason: context.hibernation.reason,
          },
        }
      : {}),
    codec: watched ? (context.codec ?? null) : null,
    createdAt: new Date(context.createdAt).toISOString(),
  };
}
