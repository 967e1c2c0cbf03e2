import type { FastifyRequest } from 'fastify';

/**
 * The base URL links are made of: `publicUrl` when configured; else the client's `Host` only when it
 * names a trusted host (`trustedHosts`, loopback names by default), so a forged `Host` cannot plant
 * its own address in `links`, WHEP `Location` or a minted `viewUrl`; else this node's own address.
 */
export function linkBase(options: {
  publicUrl: string;
  trustedHosts: readonly string[];
  selfUrl: () => string;
}): (request: FastifyRequest) => string {
  const trusted = new Set(options.trustedHosts.map((h) => h.toLowerCase().replace(/^\[|\]$/g, '')));
  return (request) => {
    if (options.publicUrl) return options.publicUrl.replace(/\/$/, '');
    const host = request.hostname.toLowerCase().replace(/^\[|\]$/g, '');
    if (trusted.has(host)) return `${request.protocol}://${request.host}`;
    return options.selfUrl();
  };
}
