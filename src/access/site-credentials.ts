/** A user name and password for one origin's HTTP sign-in challenge (Basic, Digest, NTLM). */
export interface SiteCredential {
  origin: string;
  username: string;
  password: string;
}

/**
 * Sessions' HTTP sign-in credentials, kept on the node that runs each session and nowhere else: not
 * in the session's state (snapshots, inspection, the fleet registry), logs or events. A session
 * re-created on another node after a failover has none (its pages then get the sites' 401s).
 */
export class SiteCredentials {
  private readonly bySession = new Map<string, SiteCredential[]>();
  private readonly proxies = new Map<string, { username: string; password: string }>();

  /** The answer to the session's proxy's challenge. */
  setProxy(sessionId: string, credential: { username: string; password: string }): void {
    this.proxies.set(sessionId, credential);
  }

  proxy(sessionId: string): { username: string; password: string } | undefined {
    return this.proxies.get(sessionId);
  }

  set(sessionId: string, credentials: SiteCredential[]): void {
    if (credentials.length > 0) this.bySession.set(sessionId, credentials);
  }

  has(sessionId: string): boolean {
    return this.bySession.has(sessionId) || this.proxies.has(sessionId);
  }

  /** The credential for `origin` (as Chromium names a challenge's origin: scheme://host[:port]). */
  find(sessionId: string, origin: string): SiteCredential | undefined {
    return this.bySession.get(sessionId)?.find((c) => c.origin === origin);
  }

  forget(sessionId: string): void {
    this.bySession.delete(sessionId);
    this.proxies.delete(sessionId);
  }
}
