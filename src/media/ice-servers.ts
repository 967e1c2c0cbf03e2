import { createHmac } from 'node:crypto';

/** An ICE server as RTCPeerConnection and the WHEP Link header take it. */
export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/** What decides a viewer's ICE servers (config `webrtc`). */
export interface IceServerConfig {
  iceServers: IceServer[];
  turn: { urls: string[]; secret: string; ttlSeconds: number };
}

/**
 * The servers a viewer is given: the fixed ones, and the shared-secret TURN servers with credentials
 * minted for this viewer alone ("TURN REST API": username `<expiry>:<label>`, password
 * base64(HMAC-SHA1(secret, username)), what coturn's `use-auth-secret` checks). A leaked credential
 * dies at its expiry; the secret never leaves the node.
 */
export function iceServersFor(config: IceServerConfig, label: string, nowMs: number): IceServer[] {
  const servers = config.iceServers.map((server) => ({ ...server, urls: [...server.urls] }));
  if (config.turn.urls.length > 0 && config.turn.secret) {
    const username = `${Math.floor(nowMs / 1000) + config.turn.ttlSeconds}:${label}`;
    const credential = createHmac('sha1', config.turn.secret).update(username).digest('base64');
    servers.push({ urls: [...config.turn.urls], username, credential });
  }
  return servers;
}

const quoted = (value: string) => `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;

/** WHEP/WHIP `Link` header values, one per URL (`rel="ice-server"`, RFC 9725 §4.6). */
export function iceServerLinks(servers: IceServer[]): string[] {
  const links: string[] = [];
  for (const server of servers)
    for (const url of server.urls) {
      let link = `<${url}>; rel="ice-server"`;
      if (server.username !== undefined && server.credential !== undefined)
        link += `; username=${quoted(server.username)}; credential=${quoted(server.credential)}; credential-type="password"`;
      links.push(link);
    }
  return links;
}
