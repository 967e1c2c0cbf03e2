import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Viewport } from '../machines/types.js';
import type { SessionPage } from './page.js';

const Unit = Type.Number({ minimum: 0, maximum: 1 });
const Modifiers = Type.Optional(Type.Integer({ minimum: 0, maximum: 15 }));
const Button = Type.Union([
  Type.Literal('none'),
  Type.Literal('left'),
  Type.Literal('middle'),
  Type.Literal('right'),
]);

/** What a controlling viewer sends over its `control` data channel; x/y are 0–1 of the picture. */
export const ControlMessage = Type.Union([
  Type.Object({
    t: Type.Literal('mouse'),
    type: Type.Union([Type.Literal('down'), Type.Literal('up'), Type.Literal('move')]),
    x: Unit,
    y: Unit,
    button: Type.Optional(Button),
    buttons: Type.Optional(Type.Integer({ minimum: 0, maximum: 31 })),
    clickCount: Type.Optional(Type.Integer({ minimum: 0, maximum: 3 })),
    modifiers: Modifiers,
  }),
  Type.Object({
    t: Type.Literal('wheel'),
    x: Unit,
    y: Unit,
    dx: Type.Number({ minimum: -10000, maximum: 10000 }),
    dy: Type.Number({ minimum: -10000, maximum: 10000 }),
    modifiers: Modifiers,
  }),
  Type.Object({
    t: Type.Literal('key'),
    type: Type.Union([Type.Literal('down'), Type.Literal('up')]),
    key: Type.String({ minLength: 1, maxLength: 32 }),
    code: Type.Optional(Type.String({ maxLength: 32 })),
    keyCode: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
    modifiers: Modifiers,
  }),
  Type.Object({ t: Type.Literal('text'), text: Type.String({ minLength: 1, maxLength: 4096 }) }),
  /** The choice in a menu or picker the page opened (castpool sent it as `{t: 'widget'}`; null: none). */
  Type.Object({
    t: Type.Literal('widget'),
    id: Type.Integer({ minimum: 1 }),
    value: Type.Union([Type.String({ maxLength: 256 }), Type.Null()]),
  }),
  /** Make a tab of the session the active one, or close it (castpool sent the list as `{t: 'tabs'}`). */
  Type.Object({
    t: Type.Literal('tab'),
    op: Type.Union([Type.Literal('activate'), Type.Literal('close')]),
    id: Type.String({ maxLength: 32 }),
  }),
  /** The answer to the JavaScript dialog the page shows (castpool sent it as `{t: 'dialog'}`). */
  Type.Object({
    t: Type.Literal('dialog'),
    accept: Type.Boolean(),
    promptText: Type.Optional(Type.String({ maxLength: 4096 })),
  }),
  /** The control lease: drive (take), let go (release), or ask the person who drives (request). */
  Type.Object({
    t: Type.Literal('control'),
    op: Type.Union([Type.Literal('take'), Type.Literal('release'), Type.Literal('request')]),
  }),
  Type.Object({
    t: Type.Literal('resize'),
    width: Type.Integer({ minimum: 64, maximum: 3840 }),
    height: Type.Integer({ minimum: 64, maximum: 2160 }),
  }),
]);
export type ControlMessage = Static<typeof ControlMessage>;
const isControlMessage = TypeCompiler.Compile(ControlMessage);

const MOUSE_TYPE = { down: 'mousePressed', up: 'mouseReleased', move: 'mouseMoved' } as const;
/** Keys whose keyDown types a character (CDP wants the text with it). */
const KEY_TEXT: Record<string, string> = { Enter: '\r', Tab: '\t' };

/** The message, or undefined for anything that is not one (ignored, counted by the caller). */
export function parseControlMessage(data: string | Buffer): ControlMessage | undefined {
  if (data.length > 8192) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    return undefined;
  }
  return isControlMessage.Check(value) ? value : undefined;
}

/**
 * Applies a viewer's input to the session page with CDP `Input.dispatch*`, coordinates scaled to the
 * viewport. Mouse moves are coalesced (latest wins) while one is in flight; the rest keep their order.
 */
export class RemoteInput {
  private pendingMove: ControlMessage | undefined;
  private moving = false;
  private queue: Promise<unknown> = Promise.resolve();
  /** Events handed to CDP and not yet answered: a page that stops answering must not pile them up. */
  private waiting = 0;

  constructor(
    private page: SessionPage,
    private readonly onResized: (viewport: Viewport) => void,
    private readonly maxWaiting = 256,
  ) {}

  /** The page a restart put in place of the old one. */
  usePage(page: SessionPage): void {
    this.page = page;
  }

  /** Queues the message for the page; false when it was dropped (too many still waiting). */
  apply(message: ControlMessage): boolean {
    if (message.t === 'mouse' && message.type === 'move') {
      this.pendingMove = message;
      if (!this.moving) this.flushMove();
      return true;
    }
    if (this.waiting >= this.maxWaiting) return false;
    this.waiting++;
    this.queue = this.queue
      .then(() => this.dispatch(message))
      .catch(() => {})
      .finally(() => {
        this.waiting--;
      });
    return true;
  }

  private flushMove(): void {
    const move = this.pendingMove;
    if (!move) return;
    this.pendingMove = undefined;
    this.moving = true;
    this.dispatch(move)
      .catch(() => {})
      .finally(() => {
        this.moving = false;
        this.flushMove();
      });
  }

  private async dispatch(message: ControlMessage): Promise<void> {
    const { cdp, viewport } = this.page;
    switch (message.t) {
      case 'mouse':
        await cdp.send('Input.dispatchMouseEvent', {
          type: MOUSE_TYPE[message.type],
          x: message.x * viewport.width,
          y: message.y * viewport.height,
          button: message.button ?? 'none',
          buttons: message.buttons ?? 0,
          clickCount: message.clickCount ?? (message.type === 'move' ? 0 : 1),
          modifiers: message.modifiers ?? 0,
        });
        return;
      case 'wheel':
        await cdp.send('Input.dispatchMouseEvent', {
          type: 'mouseWheel',
          x: message.x * viewport.width,
          y: message.y * viewport.height,
          deltaX: message.dx,
          deltaY: message.dy,
          modifiers: message.modifiers ?? 0,
        });
        return;
      case 'key': {
        const modifiers = message.modifiers ?? 0;
        // Alt (1), Ctrl (2) and Meta (4) make shortcuts, not characters.
        const typed = message.key.length === 1 && (modifiers & 7) === 0 ? message.key : KEY_TEXT[message.key];
        await cdp.send('Input.dispatchKeyEvent', {
          type: message.type === 'up' ? 'keyUp' : typed ? 'keyDown' : 'rawKeyDown',
          key: message.key,
          code: message.code,
          windowsVirtualKeyCode: message.keyCode,
          modifiers,
          ...(message.type === 'down' && typed ? { text: typed, unmodifiedText: typed } : {}),
        });
        return;
      }
      case 'text':
        await cdp.send('Input.insertText', { text: message.text });
        return;
      case 'resize': {
        const viewport = { width: message.width, height: message.height };
        if (viewport.width === this.page.viewport.width && viewport.height === this.page.viewport.height)
          return;
        await this.page.page.setViewport(viewport);
        this.page.viewport = viewport;
        this.onResized(viewport);
      }
    }
  }
}
