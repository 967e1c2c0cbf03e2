import { randomUUID } from 'node:crypto';
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Protocol } from 'puppeteer-core';
import { fromCallback } from 'xstate';
import type { FileChooserCommand, PageHandle } from '../machines/types.js';
import type { ActorDeps } from './deps.js';
import { downloadsDir, safeName } from './downloads.js';
import type { SessionPage } from './page.js';

/**
 * The page's file choosers (an `<input type=file>` clicked): intercepted, so no native picker waits
 * headless, and reported (`fileChooser.opened`); when the session passes files on, they are written
 * to the session's own directory (readable by Chromium's user) and given to that input.
 */
export function fileChooserActor(deps: ActorDeps) {
  return fromCallback<FileChooserCommand, { page: PageHandle }>(({ input, sendBack, receive }) => {
    const handle = input.page as SessionPage;
    const { cdp, sessionId } = handle;
    let backendNodeId: number | undefined;
    const onOpened = (event: Protocol.Page.FileChooserOpenedEvent) => {
      backendNodeId = event.backendNodeId;
      sendBack({ type: 'fileChooser.opened', mode: event.mode });
    };
    cdp.on('Page.fileChooserOpened', onOpened);
    cdp
      .send('Page.enable')
      .then(() => cdp.send('Page.setInterceptFileChooserDialog', { enabled: true }))
      .catch(() => {});
    receive((command) => {
      const node = backendNodeId;
      backendNodeId = undefined;
      give(deps, handle, command, node).then(
        () => sendBack({ type: 'fileChooser.done' }),
        (error: Error) => {
          deps.log.info({ sessionId, reason: error.message }, 'files not given to the page');
          sendBack({ type: 'fileChooser.done', error: error.message });
        },
      );
    });
    return () => {
      cdp.off('Page.fileChooserOpened', onOpened);
    };
  });
}

async function give(
  deps: ActorDeps,
  handle: SessionPage,
  command: FileChooserCommand,
  backendNodeId: number | undefined,
): Promise<void> {
  if (backendNodeId === undefined) throw new Error('the file chooser is gone');
  // One directory per answer: two files of the same name from two answers never meet.
  const dir = join(downloadsDir(deps.config.dataDir, handle.sessionId), 'uploads', randomUUID());
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const user = deps.browserUser.user;
  const paths: string[] = [];
  for (const file of command.files) {
    const path = join(dir, safeName(file.name));
    await writeFile(path, file.data, { mode: 0o600 });
    if (user) await chown(path, user.uid, user.gid);
    paths.push(path);
  }
  if (user) {
    // Chromium reads them as its own user: the session directory and this one are its.
    for (const owned of [join(dir, '..'), dir]) {
      await chown(owned, user.uid, user.gid);
      await chmod(owned, 0o700);
    }
  }
  await handle.cdp.send('DOM.setFileInputFiles', { files: paths, backendNodeId });
}
