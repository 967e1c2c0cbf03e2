import { chmod, chown, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CDPSession, Protocol } from 'puppeteer-core';
import { fromCallback } from 'xstate';
import type { SiteCredentials } from '../access/site-credentials.js';
import type { DownloadRecord, PageHandle } from '../machines/types.js';
import type { ActorDeps } from './deps.js';
import type { SessionPage } from './page.js';
import type { RecordingArchive } from './recording-archive.js';

/** A session's downloads directory: named after the service PID, so a successor removes a leftover. */
export const downloadsDir = (dataDir: string, sessionId: string) =>
  join(dataDir, `d-${process.pid}-${sessionId}`);

/** Progress is reported at most this often per download (Chromium reports many times a second). */
const PROGRESS_EVERY_MS = 500;

/** A suggested file name as a client may show and save it: no path, no control characters, bounded. */
export function safeName(suggested: string): string {
  const name = suggested
    .replace(/[\\/]/g, '_')
    .replace(/[\p{Cc}\p{Cf}]/gu, '')
    .trim()
    .slice(0, 200);
  return name && name !== '.' && name !== '..' ? name : 'download';
}

/**
 * The live page's downloads: Chromium saves them in the session's directory (named by its download id),
 * within the session's count and size limits; each is reported (`download.begun`, `download.progress`).
 * A download over a limit is canceled and its file removed. Earlier downloads (before a restart) count.
 */
export function downloadsActor(deps: ActorDeps) {
  return fromCallback<{ type: 'noop' }, { page: PageHandle; downloads: DownloadRecord[] }>(
    ({ input, sendBack }) => {
      const handle = input.page as SessionPage;
      const { sessionId, context } = handle;
      const dir = downloadsDir(deps.config.dataDir, sessionId);
      const { downloadsPerSession, downloadMbPerSession } = deps.config.limits;
      const quotaBytes = downloadMbPerSession * 1024 * 1024;
      // Bytes of earlier downloads that are still on disk (completed ones), and how many were started.
      let keptBytes = input.downloads.reduce((sum, d) => sum + (d.state === 'completed' ? d.bytes : 0), 0);
      let started = input.downloads.length;
      const active = new Map<string, { bytes: number; reportedAt: number }>();
      const early = new Map<string, Protocol.Browser.DownloadProgressEvent>();
      let cdp: CDPSession | undefined;
      let stopped = false;

      const cancel = (guid: string, reason: string) => {
        active.delete(guid);
        sendBack({ type: 'download.progress', id: guid, bytes: 0, state: 'canceled', reason });
        cdp?.send('Browser.cancelDownload', { guid, browserContextId: context.id }).catch(() => {});
        // Chromium may still hold the partial file a moment: remove it after the cancel.
        setTimeout(() => void rm(join(dir, guid), { force: true }), 200).unref();
      };
      /** The browser-wide events name a frame: this page's main frame or one of its iframes. */
      const ownsFrame = async (frameId: string): Promise<boolean> => {
        if (frameId === handle.frameId) return true;
        const { frameTree } = await handle.cdp.send('Page.getFrameTree');
        const walk = (tree: Protocol.Page.FrameTree): boolean =>
          tree.frame.id === frameId || (tree.childFrames ?? []).some(walk);
        return walk(frameTree);
      };
      const onBegin = async (event: Protocol.Browser.DownloadWillBeginEvent) => {
        if (!(await ownsFrame(event.frameId).catch(() => false)) || stopped) {
          early.delete(event.guid); // another session's
          return;
        }
        const download: DownloadRecord = {
          id: event.guid,
          name: safeName(event.suggestedFilename),
          url: event.url.slice(0, 8192),
          bytes: 0,
          state: 'in-progress',
          startedAt: Date.now(),
        };
        sendBack({ type: 'download.begun', download });
        started++;
        active.set(event.guid, { bytes: 0, reportedAt: 0 });
        if (started > downloadsPerSession) {
          cancel(event.guid, `over the session's ${downloadsPerSession} downloads`);
          return;
        }
        const waiting = early.get(event.guid);
        early.delete(event.guid);
        if (waiting) onProgress(waiting);
      };
      const onProgress = (event: Protocol.Browser.DownloadProgressEvent) => {
        const entry = active.get(event.guid);
        if (!entry) {
          // Before its begin was matched to this page (a small file completes at once): kept for it.
          if (early.size < 64) early.set(event.guid, event);
          return;
        }
        entry.bytes = event.receivedBytes;
        let inFlight = 0;
        for (const { bytes } of active.values()) inFlight += bytes;
        if (keptBytes + inFlight > quotaBytes) {
          cancel(event.guid, `over the session's download quota (${downloadMbPerSession} MB)`);
          return;
        }
        const now = Date.now();
        if (event.state === 'inProgress') {
          if (now - entry.reportedAt < PROGRESS_EVERY_MS) return;
          entry.reportedAt = now;
          sendBack({
            type: 'download.progress',
            id: event.guid,
            bytes: event.receivedBytes,
            state: 'in-progress',
          });
          return;
        }
        active.delete(event.guid);
        if (event.state === 'completed') keptBytes += event.receivedBytes;
        sendBack({
          type: 'download.progress',
          id: event.guid,
          bytes: event.receivedBytes,
          state: event.state === 'completed' ? 'completed' : 'canceled',
          ...(event.state === 'canceled' ? { reason: 'canceled by the page or the server' } : {}),
        });
      };

      (async () => {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        const user = deps.browserUser.user;
        if (user) {
          // Chromium writes here as its own user; castpool (its owner's parent) reads.
          await chown(dir, user.uid, user.gid);
          await chmod(dir, 0o700);
        }
        const session = await context.browser().target().createCDPSession();
        if (stopped) {
          await session.detach().catch(() => {});
          return;
        }
        cdp = session;
        session.on('Browser.downloadWillBegin', onBegin);
        session.on('Browser.downloadProgress', onProgress);
        await session.send('Browser.setDownloadBehavior', {
          behavior: downloadsPerSession > 0 ? 'allowAndName' : 'deny',
          browserContextId: context.id,
          downloadPath: dir,
          eventsEnabled: true,
        });
      })().catch((error: Error) => {
        // A page closed meanwhile (a session hibernated or deleted at once) took its context along.
        if (stopped) return;
        deps.log.warn({ sessionId, reason: error.message }, 'downloads could not be set up for this page');
      });

      return () => {
        stopped = true;
        cdp?.off('Browser.downloadWillBegin', onBegin);
        cdp?.off('Browser.downloadProgress', onProgress);
        void cdp?.detach().catch(() => {});
      };
    },
  );
}

/**
 * The session's own files and sign-in credentials, removed with the session (its last page is gone by
 * then); its recordings are kept (the archive serves them until their retention time is over).
 */
export function sessionFilesActor(deps: ActorDeps, credentials: SiteCredentials, archive: RecordingArchive) {
  return fromCallback<{ type: 'noop' }, { sessionId: string }>(({ input }) => {
    const { sessionId } = input;
    return () => {
      credentials.forget(sessionId);
      archive.release(sessionId);
      const dir = downloadsDir(deps.config.dataDir, sessionId);
      void rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
    };
  });
}
