import type { Access } from '../access/index.js';
import type { CommandSurface, InputOf } from './operations.js';
import type { MintedViewerToken } from './results.js';

/**
 * `viewer-token` runs on the node the client reached: the session is looked up wherever it runs,
 * and the token is minted here, where the client will bring it back (WHEP on this node).
 */
export const viewerTokenOperation =
  (get: CommandSurface['get'], access: Access) =>
  async ({ id, scope, ttlSeconds }: InputOf<'viewer-token'>): Promise<MintedViewerToken> => {
    const view = await get({ id });
    return access.mintViewerToken(view.id, scope, ttlSeconds);
  };
