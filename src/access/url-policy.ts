import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';

export interface UrlPolicyConfig {
  allowedSchemes: string[];
  /** Host patterns a session may open (`example.com`, `*.example.com`); empty = any host. */
  allowHosts: string[];
  /** Host patterns always refused; wins over allowHosts. */
  denyHosts: string[];
  /** Refuse hosts that are or resolve to loopback, private, link-local or other non-public addresses. */
  blockPrivateAddresses: boolean;
  /** Hosts (names or literal addresses, `*.corp.example`) exempt from private-address blocking: intranet sites. */
  allowPrivateHosts?: string[];
}

/** Why a URL is refused, or undefined when it may be opened. */
export type Refusal = string | undefined;

const hostMatches = (host: string, pattern: string) => {
  const p = pattern.toLowerCase();
  if (p.startsWith('*.')) return host.endsWith(p.slice(1)) || host === p.slice(2);
  return host === p;
};

const normalHost = (url: URL) =>
  url.hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');

/** A host's addresses are reused this long by the request guard (Chromium resolves again anyway). */
const LOOKUP_CACHE_MS = 10_000;
const LOOKUP_CACHE_SIZE = 1024;

/** Address ranges that are not the public internet (SSRF targets). */
function isPrivateAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return true;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress())
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range() !== 'unicast';
}

type Resolve = (host: string) => Promise<string[]>;
const resolveAll: Resolve = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

/**
 * Where sessions may go. Checked by the command layer before a navigation and, for every document
 * request the page makes (redirects included), by the page's request interception.
 */
export class UrlPolicy {
  constructor(
    readonly config: UrlPolicyConfig,
    private readonly resolve: Resolve = resolveAll,
  ) {}

  /** True when document requests must be checked inside the page (redirects, links, scripts). */
  get watchesRequests(): boolean {
    const { allowHosts, denyHosts, blockPrivateAddresses } = this.config;
    return allowHosts.length > 0 || denyHosts.length > 0 || blockPrivateAddresses;
  }

  /** Scheme and host lists only (no DNS): what can be said from the URL alone. */
  refusalByName(url: URL): Refusal {
    const { allowedSchemes, allowHosts, denyHosts } = this.config;
    if (!allowedSchemes.includes(url.protocol))
      return `url scheme "${url.protocol}" is not allowed (allowed: ${allowedSchemes.join(', ')})`;
    const host = normalHost(url);
    if (!host) return undefined; // e.g. about:blank when allowed
    if (denyHosts.some((pattern) => hostMatches(host, pattern))) return `host "${host}" is denied`;
    if (allowHosts.length > 0 && !allowHosts.some((pattern) => hostMatches(host, pattern)))
      return `host "${host}" is not in the allowed hosts`;
    return undefined;
  }

  /** The full check, resolving the host now when private addresses are refused. */
  async refusal(url: URL): Promise<Refusal> {
    const byName = this.refusalByName(url);
    if (byName || !url.hostname) return byName;
    return this.addressRefusal(url);
  }

  /**
   * A page's subresource (image, script, XHR, a worker's fetch): denied hosts and private addresses
   * only. Host allow lists name the sites sessions may open, not every CDN those sites use.
   */
  async subresourceRefusal(url: URL): Promise<Refusal> {
    if (!url.hostname || !/^(https?|wss?):$/.test(url.protocol)) return undefined;
    const host = normalHost(url);
    if (this.config.denyHosts.some((pattern) => hostMatches(host, pattern)))
      return `host "${host}" is denied`;
    return this.addressRefusal(url);
  }

  private async addressRefusal(url: URL): Promise<Refusal> {
    if (!this.config.blockPrivateAddresses) return undefined;
    const name = normalHost(url);
    if ((this.config.allowPrivateHosts ?? []).some((pattern) => hostMatches(name, pattern))) return undefined;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let addresses: string[];
    try {
      addresses = ipaddr.isValid(host) ? [host] : await this.lookupCached(host.toLowerCase());
    } catch (error) {
      return `host "${host}" does not resolve (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
    }
    const inside = addresses.find(isPrivateAddress);
    return inside ? `host "${host}" is a private or loopback address (${inside})` : undefined;
  }

  /** Lookups for the request guard: every subresource of a page would otherwise ask the resolver. */
  private readonly lookups = new Map<string, { at: number; addresses: Promise<string[]> }>();

  private lookupCached(host: string): Promise<string[]> {
    const now = Date.now();
    const cached = this.lookups.get(host);
    if (cached && now - cached.at < LOOKUP_CACHE_MS) return cached.addresses;
    if (this.lookups.size >= LOOKUP_CACHE_SIZE) this.lookups.clear();
    const addresses = this.resolve(host);
    this.lookups.set(host, { at: now, addresses });
    addresses.catch(() => this.lookups.delete(host));
    return addresses;
  }
}
