import type { Protocol } from 'puppeteer-core';
import { fromCallback } from 'xstate';
import type { PageHandle, PageWidget, WidgetCommand } from '../machines/types.js';
import type { ActorDeps } from './deps.js';
import type { SessionPage } from './page.js';

/** castpool's own world in the page: the page's scripts cannot see its functions or call its binding. */
const WORLD = 'castpool-widgets';
const BINDING = '__castpoolWidget';

/**
 * Runs in castpool's isolated world of the active tab's top document. A `<select>` menu or a date,
 * time or colour picker is drawn by Chromium outside the page, where no capture sees it: the press
 * that would open one is stopped (the page still gets its events) and the widget described to
 * castpool instead; `__castpoolChoose(id, value)` applies a viewer's choice as a person's would
 * (the value set, then `input` and `change`).
 */
const WORLD_SCRIPT = `(() => {
  if (window.top !== window || globalThis.__castpoolChoose) return;
  const report = globalThis.${BINDING};
  const PICKERS = new Set(['date', 'time', 'datetime-local', 'month', 'week', 'color']);
  let next = 0;
  let open = null;
  const widgetOf = (el) => {
    if (!(el instanceof Element)) return null;
    const target = el.closest('select, input');
    if (!target || target.disabled) return null;
    if (target.tagName === 'SELECT') return target.multiple || target.size > 1 ? null : target;
    return PICKERS.has(target.type) && !target.readOnly ? target : null;
  };
  const describe = (el, id) => {
    if (el.tagName === 'SELECT') {
      const options = Array.from(el.options).slice(0, 500).map((option) => ({
        label: (option.label || option.text).trim().slice(0, 200),
        ...(option.parentElement && option.parentElement.tagName === 'OPTGROUP'
          ? { group: String(option.parentElement.label).slice(0, 200) } : {}),
        disabled: option.disabled || (option.parentElement && option.parentElement.disabled) === true,
      }));
      return { id, kind: 'select', options, selectedIndex: el.selectedIndex };
    }
    const field = (name) => (el.getAttribute(name) ? { [name]: String(el.getAttribute(name)).slice(0, 64) } : {});
    return { id, kind: 'input', inputType: el.type, value: el.value.slice(0, 64), ...field('min'), ...field('max'), ...field('step') };
  };
  const show = (event, el) => {
    event.preventDefault();
    el.focus();
    open = { id: ++next, el };
    report(JSON.stringify(describe(el, open.id)));
  };
  addEventListener('mousedown', (event) => {
    const el = widgetOf(event.composedPath()[0]);
    if (el && el.tagName === 'SELECT' && event.button === 0) show(event, el);
  }, true);
  addEventListener('click', (event) => {
    const el = widgetOf(event.composedPath()[0]);
    if (el && el.tagName === 'INPUT') show(event, el);
  }, true);
  addEventListener('keydown', (event) => {
    const el = widgetOf(event.composedPath()[0]);
    const opens = event.key === 'F4' || (event.altKey && (event.key === 'ArrowDown' || event.key === 'ArrowUp')) ||
      (el && el.tagName === 'SELECT' && (event.key === ' ' || event.key === 'Enter'));
    if (el && opens) show(event, el);
  }, true);
  globalThis.__castpoolChoose = (id, value) => {
    if (!open || open.id !== id) return false;
    const el = open.el;
    open = null;
    if (value === null || !el.isConnected || el.disabled) return false;
    if (el.tagName === 'SELECT') {
      const index = Number(value);
      const option = el.options[index];
      if (!Number.isInteger(index) || !option || option.disabled) return false;
      if (el.selectedIndex === index) return true;
      el.selectedIndex = index;
    } else {
      el.value = value;
    }
    el.dispatchEvent(new Event('input', { bubbles: true, composed: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
    return true;
  };
})();`;

/** A widget as the page's script described it, checked: the page's document is not trusted. */
function widgetFrom(payload: string): PageWidget | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const w = value as Partial<Record<string, unknown>>;
  if (!w || typeof w.id !== 'number' || !Number.isInteger(w.id) || w.id < 1) return undefined;
  if (w.kind === 'select' && Array.isArray(w.options) && typeof w.selectedIndex === 'number') {
    const options = w.options
      .slice(0, 500)
      .map((o: { label?: unknown; group?: unknown; disabled?: unknown }) => ({
        label: String(o?.label ?? '').slice(0, 200),
        ...(typeof o?.group === 'string' ? { group: o.group.slice(0, 200) } : {}),
        disabled: o?.disabled === true,
      }));
    return { id: w.id, kind: 'select', options, selectedIndex: w.selectedIndex };
  }
  const types = ['date', 'time', 'datetime-local', 'month', 'week', 'color'] as const;
  const inputType = types.find((type) => type === w.inputType);
  if (w.kind === 'input' && inputType) {
    const text = (key: string) =>
      typeof w[key] === 'string' ? { [key]: (w[key] as string).slice(0, 64) } : ({} as Record<string, never>);
    return {
      id: w.id,
      kind: 'input',
      inputType,
      value: String(w.value ?? '').slice(0, 64),
      ...text('min'),
      ...text('max'),
      ...text('step'),
    };
  }
  return undefined;
}

/**
 * The active tab's native pop-up widgets: each `<select>` menu or picker the page would open is
 * reported (`widget.opened`) for controlling viewers to draw, and the choice they send back is
 * applied in the page. A navigation takes the widget with it (`widget.closed`).
 */
export function widgetsActor(deps: ActorDeps) {
  return fromCallback<WidgetCommand, { page: PageHandle }>(({ input, sendBack, receive }) => {
    const tab = input.page as SessionPage;
    const { cdp, sessionId } = tab;
    let world: number | undefined;
    let stopped = false;
    const onCalled = (event: Protocol.Runtime.BindingCalledEvent) => {
      if (event.name !== BINDING) return;
      const widget = widgetFrom(event.payload);
      if (!widget) return;
      world = event.executionContextId;
      sendBack({ type: 'widget.opened', widget });
    };
    const onNavigated = (event: Protocol.Page.FrameNavigatedEvent) => {
      if (!event.frame.parentId) sendBack({ type: 'widget.closed' });
    };
    cdp.on('Runtime.bindingCalled', onCalled);
    cdp.on('Page.frameNavigated', onNavigated);
    let scriptId: string | undefined;
    const undo = async () => {
      if (scriptId)
        await cdp.send('Page.removeScriptToEvaluateOnNewDocument', { identifier: scriptId }).catch(() => {});
      await cdp.send('Runtime.disable').catch(() => {});
    };
    (async () => {
      // Binding calls reach sessions that enabled the Runtime domain (this one, while the tab is active).
      await cdp.send('Runtime.enable');
      await cdp.send('Runtime.addBinding', { name: BINDING, executionContextName: WORLD });
      const added = await cdp.send('Page.addScriptToEvaluateOnNewDocument', {
        source: WORLD_SCRIPT,
        worldName: WORLD,
      });
      scriptId = added.identifier;
      // The document already there gets it too.
      const { executionContextId } = await cdp.send('Page.createIsolatedWorld', {
        frameId: tab.frameId,
        worldName: WORLD,
      });
      await cdp.send('Runtime.evaluate', { expression: WORLD_SCRIPT, contextId: executionContextId });
      if (stopped) await undo();
    })().catch((error: Error) =>
      deps.log.debug({ sessionId, reason: error.message }, 'pop-up widgets not intercepted on this page'),
    );
    receive((command) => {
      if (world === undefined) return;
      cdp
        .send('Runtime.evaluate', {
          expression: `globalThis.__castpoolChoose(${command.id}, ${JSON.stringify(command.value)})`,
          contextId: world,
        })
        .catch(() => {
          // the document went meanwhile
        });
    });
    return () => {
      stopped = true;
      cdp.off('Runtime.bindingCalled', onCalled);
      cdp.off('Page.frameNavigated', onNavigated);
      void undo();
    };
  });
}
