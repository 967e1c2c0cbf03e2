// castpool's capture grant. Chromium starts with --allowlisted-extension-id for this extension only,
// so it may mint a tab-capture stream id without a user gesture. Nothing here listens to pages
// (no messaging, no externally_connectable): only castpool, evaluating over CDP, can call it.
// "incognito": "split" gives every session's browser context its own instance, which sees that
// context's tabs.

/** A stream id for the tab of CDP target `targetId`, usable once by that tab's own documents. */
globalThis.castpoolStreamFor = async (targetId) => {
  const targets = await chrome.debugger.getTargets();
  const target = targets.find((t) => t.id === targetId);
  if (!target || target.tabId === undefined) throw new Error(`no tab for target ${targetId}`);
  return new Promise((resolve, reject) =>
    chrome.tabCapture.getMediaStreamId({ targetTabId: target.tabId, consumerTabId: target.tabId }, (id) =>
      chrome.runtime.lastError ? reject(new Error(chrome.runtime.lastError.message)) : resolve(id),
    ),
  );
};
