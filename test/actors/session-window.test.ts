import type { CDPSession } from 'puppeteer-core';
import { describe, expect, it } from 'vitest';
import { SessionWindow } from '../../src/actors/session-window.js';

/** A tab whose CDP session records the window commands Chromium would get. */
function tabRecording() {
  const sent: string[] = [];
  const cdp = {
    send: async (method: string, params?: { bounds?: { windowState?: string } }) => {
      if (method === 'Browser.getWindowForTarget') return { windowId: 7 };
      sent.push(`${method} ${params?.bounds?.windowState ?? ''}`.trim());
      return {};
    },
  } as unknown as CDPSession;
  return { tab: { cdp, page: { isClosed: () => false } }, sent };
}

describe('a session window', () => {
  it('is minimized while nothing holds it, shown while anything does, and told only of changes', async () => {
    const { tab, sent } = tabRecording();
    const window = new SessionWindow(new Set([tab]), true);
    await window.apply();
    expect(sent).toEqual(['Browser.setWindowBounds minimized']);
    const capture = window.hold();
    const thumbnail = window.hold();
    await window.apply();
    capture();
    capture(); // a second release of the same hold changes nothing
    await window.apply();
    expect(sent).toEqual(['Browser.setWindowBounds minimized', 'Browser.setWindowBounds normal']);
    thumbnail();
    await window.apply();
    expect(sent.at(-1)).toBe('Browser.setWindowBounds minimized');
    expect(sent).toHaveLength(3);
  });

  it('never sends a window command for a session whose pages stay visible', async () => {
    const { tab, sent } = tabRecording();
    const window = new SessionWindow(new Set([tab]), false);
    await window.apply();
    window.hold()();
    await window.apply();
    expect(sent).toEqual([]);
  });
});
