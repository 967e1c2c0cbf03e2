import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWebSocketInspector } from '@statelyai/inspect';
import type { FastifyBaseLogger } from 'fastify';
import { WebSocket, WebSocketServer } from 'ws';
import type { InspectionEvent } from 'xstate';
import { sanitize } from './sanitize.js';

/** Recent events a late devtools window replays, so it sees the actors that already exist. */
const REPLAY = 500;

const bridgePage = (wsUrl: string, uiUrl: string) => `<!doctype html>
<html><head><meta charset="utf-8"><title>castpool inspector</title>
<style>html,body,iframe{margin:0;width:100%;height:100%;border:0}</style></head>
<body><iframe id="ui" src="${uiUrl}"></iframe><script>
  // Relays castpool's inspection events into the Stately inspector UI once it says it is ready.
  const ui = document.getElementById('ui');
  const pending = [];
  let ready = false;
  addEventListener('message', (event) => {
    if (event.data?.type !== '@statelyai.connected') return;
    ready = true;
    for (const data of pending.splice(0)) ui.contentWindow.postMessage(data, '*');
  });
  const socket = new WebSocket(${JSON.stringify(wsUrl)});
  socket.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (ready) ui.contentWindow.postMessage(data, '*'); else pending.push(data);
  };
</script></body></html>`;

export interface Inspection {
  /** The root actor's `inspect` hook. */
  inspect: (event: InspectionEvent) => void;
  /** ws:// URL of the relay and http:// URL of its devtools page. */
  wsUrl: string;
  pageUrl: string;
  close(): Promise<void>;
}

/**
 * The Stately inspector for castpool: a loopback WebSocket relay (and a page that embeds the
 * inspector UI) plus `createWebSocketInspector` feeding it, with every context and event sanitised.
 */
export async function startInspection(
  port: number,
  log: FastifyBaseLogger,
  uiUrl = 'https://stately.ai/inspect',
): Promise<Inspection> {
  // One loopback port: the devtools page over HTTP, the relay over WebSocket upgrades.
  let wsUrl = '';
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(bridgePage(wsUrl, uiUrl));
  });
  const relay = new WebSocketServer({ server });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const { port: actual } = server.address() as AddressInfo;
  wsUrl = `ws://127.0.0.1:${actual}`;
  const recent: string[] = [];
  relay.on('connection', (socket) => {
    for (const message of recent) socket.send(message);
    socket.on('message', (data) => {
      const message = data.toString();
      recent.push(message);
      if (recent.length > REPLAY) recent.shift();
      for (const client of relay.clients)
        if (client !== socket && client.readyState === WebSocket.OPEN) client.send(message);
    });
  });
  const inspector = createWebSocketInspector({
    url: wsUrl,
    sanitizeContext: (context) => sanitize(context) as typeof context,
    sanitizeEvent: (event) => sanitize(event) as typeof event,
  });
  const pageUrl = `http://127.0.0.1:${actual}/`;
  log.info({ wsUrl, pageUrl }, 'Stately inspector attached: open the page (it embeds the inspector UI)');
  return {
    inspect: (event) => inspector.inspect.next?.(event),
    wsUrl,
    pageUrl,
    close: async () => {
      inspector.stop();
      for (const client of relay.clients) client.terminate();
      relay.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
