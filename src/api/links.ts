import type { FastifyRequest } from 'fastify';

/** Absolute base URL for links: configured `publicUrl`, else what the client used to reach us. */
export function baseUrl(request: FastifyRequest, publicUrl: string): string {
  if (publicUrl) return publicUrl.replace(/\/$/, '');
  return `${request.protocol}://${request.host}`;
}

export function sessionLinks(base: string, id: string) {
  const self = `${base}/api/sessions/${id}`;
  return { self, whep: `${self}/whep`, view: `${self}/view` };
}
