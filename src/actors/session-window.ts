import type { CDPSession } from 'puppeteer-core';

/** What the window needs of the session's tabs: a CDP session of one still open. */
interface Tab {
  readonly cdp: CDPSession;
  readonly page: { isClosed(): boolean };
}

/**
 * The browser window a session's tabs share. Chromium renders a visible page at 60 Hz whether or not
 * anyone looks; a minimized window's pages are hidden (`document.visibilityState`), draw nothing and
 * keep running their scripts and timers (castpool's Chromium does not throttle background timers).
 * Measured with a 64 px CSS spinner: 13.6 % of a core shown, 2.0 % minimized. So while nobody watches
 * (and the session's `unwatched` is `hidden`) the window is minimized; a capture or a screenshot holds
 * it shown for as long as it runs. A frozen session conceals it: a frozen page runs no script, but
 * its compositor animations would still be drawn (measured: 0.9 % of a core per frozen typical page
 * shown, against 0.3 % hidden).
 */
export class SessionWindow {
  private holds = 0;
  private conceals = 0;
  private windowId: number | undefined;
  private applied: 'normal' | 'minimized' | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly tabs: ReadonlySet<Tab>,
    /** False: the window stays shown (pages that stop their work when hidden). */
    private readonly hideWhenUnwatched: boolean,
  ) {
    // A new window is shown: a session that never hides it never sends Chromium a window command.
    if (!hideWhenUnwatched) this.applied = 'normal';
  }

  /** Keeps the window shown until the returned release is called (once). */
  hold(): () => void {
    return this.take('holds');
  }

  /** Minimizes the window (unless something holds it shown) until the returned release is called (once). */
  conceal(): () => void {
    return this.take('conceals');
  }

  private take(kind: 'holds' | 'conceals'): () => void {
    this[kind]++;
    void this.apply();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this[kind]--;
      void this.apply();
    };
  }

  /** Puts the window in the state its holds ask for; resolves once Chromium has done it (or failed). */
  apply(): Promise<void> {
    this.queue = this.queue.then(async () => {
      // Decided when its turn comes: the holds may have changed while an earlier change ran.
      const hidden = this.hideWhenUnwatched || this.conceals > 0;
      const wanted = this.holds > 0 || !hidden ? 'normal' : 'minimized';
      if (this.applied === wanted) return;
      const cdp = [...this.tabs].find((tab) => !tab.page.isClosed())?.cdp;
      if (!cdp) return;
      try {
        this.windowId ??= (await cdp.send('Browser.getWindowForTarget')).windowId;
        await cdp.send('Browser.setWindowBounds', {
          windowId: this.windowId,
          bounds: { windowState: wanted },
        });
        this.applied = wanted;
      } catch {
        // the page or browser is going away: nothing to show or hide
      }
    });
    return this.queue;
  }
}
