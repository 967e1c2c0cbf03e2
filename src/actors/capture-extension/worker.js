// castpool's capture grant. Chromium starts with --allowlisted-extension-id for this extension only,
// so it may mint a tab-capture stream id without a user gesture. Nothing here listens to pages
// (no messaging, no externally_connectable): only castpool, evaluating over CDP, can call it.
// "incognito": "split" gives every session's browser context its own instance, which sees that
// context's tabs and has its own capturer document.

/** A stream id for the tab of CDP target `targetId`, usable once by this extension's capturer. */
globalThis.castpoolStreamFor = async (targetId) => {
  const targets = await chrome.debugger.getTargets();
  const target = targets.find((t) => t.id === targetId);
  if (!target || target.tabId === undefined) throw new Error(`no tab for target ${targetId}`);
  return new Promise((resolve, reject) =>
    chrome.tabCapture.getMediaStreamId({ targetTabId: target.tabId }, (id) =>
      chrome.runtime.lastError ? reject(new Error(chrome.runtime.lastError.message)) : resolve(id),
    ),
  );
};

/** Opens the capturer (an offscreen document: no tab, no window) unless it is open. */
globalThis.castpoolOpenCapturer = async () => {
  if (await chrome.offscreen.hasDocument()) return;
  await chrome.offscreen.createDocument({
    url: 'capturer.html',
    reasons: ['USER_MEDIA'],
    justification: 'castpool encodes the tabs its viewers watch',
  });
};

/** Closes the capturer once nothing is captured (it holds a renderer process). */
globalThis.castpoolCloseCapturer = async () => {
  if (await chrome.offscreen.hasDocument()) await chrome.offscreen.closeDocument();
};
