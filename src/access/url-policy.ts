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
}

/** Why a URL is refused, or undefined when it may be opened. */
export type Refusal = string | undefined;

const hostMatches = (host: string, pattern: string) => {
  const p = pattern.toLowerCase();
  if (p.startsWith('*.')) return host.endsWith(p.slice(1)) || host === p.slice(2);
  return host === p;
};

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
    const host = url.hostname
      .toLowerCase()
      .replace(/^\[|\]$/g, '')
      .replace(/\.$/, '');
    if (!host) return undefined; // e.g. about:blank when allowed
    if (denyHosts.some((pattern) => hostMatches(host, pattern))) return `host "${host}" is denied`;
    if (allowHosts.length > 0 && !allowHosts.some((pattern) => hostMatches(host, pattern)))
      return `host "${host}" is not in the allowed hosts`;
    return undefined;
  }

  /** The full check, resolving the host now when private addresses are refused. */
  async refusal(url: URL): Promise<Refusal> {
    const byName = this.refusalByName(url);
    if (byName || !this.config.blockPrivateAddresses || !url.hostname) return byName;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let addresses: string[];
    try {
      addresses = ipaddr.isValid(host) ? [host] : await this.resolve(host);
    } catch (error) {
      return `host "${host}" does not resolve (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
    }
    const inside = addresses.find(isPrivateAddress);
    return inside ? `host "${host}" is a private or loopback address (${inside})` : undefined;
  }
}
