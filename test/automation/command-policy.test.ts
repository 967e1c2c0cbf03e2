import { describe, expect, it } from 'vitest';
import { browserRefusal, isBrowserCommand, tabVerdict } from '../../src/automation/command-policy.js';

const none = { ids: new Set<number>(), uniqueIds: new Set<string>() };

describe("what a session's CDP client may send", () => {
  it('passes commands that act inside its tab, and refuses other domains by default', () => {
    for (const method of ['Page.navigate', 'Runtime.evaluate', 'Input.dispatchMouseEvent', 'DOM.getDocument'])
      expect(tabVerdict(method, {}, none)).toEqual({ kind: 'pass' });
    for (const method of [
      'Browser.close',
      'SystemInfo.getInfo',
      'Tracing.start',
      'Storage.getCookies',
      'Memory.simulatePressureNotification',
      'Made.up',
    ])
      expect(tabVerdict(method, {}, none)).toMatchObject({ kind: 'refuse' });
  });

  it('refuses what reaches past the tab from inside it, and castpool worlds and contexts', () => {
    for (const method of [
      'Page.crash',
      'Network.getAllCookies',
      'Network.clearBrowserCookies',
      'Page.setDownloadBehavior',
    ])
      expect(tabVerdict(method, {}, none)).toMatchObject({ kind: 'refuse' });
    expect(tabVerdict('Page.createIsolatedWorld', { worldName: 'castpool-widgets' }, none)).toMatchObject({
      kind: 'refuse',
    });
    expect(tabVerdict('Page.createIsolatedWorld', { worldName: 'mine' }, none)).toEqual({ kind: 'pass' });
    expect(
      tabVerdict('Runtime.addBinding', { name: 'x', executionContextName: 'CASTPOOL-x' }, none),
    ).toMatchObject({ kind: 'refuse' });
    const hidden = { ids: new Set([7]), uniqueIds: new Set(['u7']) };
    expect(tabVerdict('Runtime.evaluate', { expression: '1', contextId: 7 }, hidden)).toMatchObject({
      kind: 'refuse',
    });
    expect(tabVerdict('Runtime.evaluate', { expression: '1', uniqueContextId: 'u7' }, hidden)).toMatchObject({
      kind: 'refuse',
    });
    expect(tabVerdict('DOM.resolveNode', { nodeId: 1, executionContextId: 7 }, hidden)).toMatchObject({
      kind: 'refuse',
    });
    expect(tabVerdict('Runtime.evaluate', { expression: '1', contextId: 8 }, hidden)).toEqual({
      kind: 'pass',
    });
  });

  it("sends Target commands about other targets to castpool's virtual browser; keeps the tab's own", () => {
    expect(tabVerdict('Target.setAutoAttach', {}, none)).toEqual({ kind: 'pass' });
    for (const method of [
      'Target.getTargets',
      'Target.attachToTarget',
      'Target.createTarget',
      'Target.createBrowserContext',
    ])
      expect(tabVerdict(method, {}, none)).toEqual({ kind: 'browser' });
    expect(isBrowserCommand('Target.getTargets')).toBe(true);
    expect(isBrowserCommand('Target.createBrowserContext')).toBe(false);
    expect(browserRefusal('Browser.close')).toMatch(/castpool owns the browser/);
    expect(browserRefusal('Whatever.else')).toMatch(/reaches past the session's tabs/);
  });
});
