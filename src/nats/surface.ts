import type { Commands } from '../commands.js';
import type { Fleet } from './fleet.js';

/** What REST calls: the fleet when NATS is up, else this node alone (same methods, same errors). */
export type CommandSurface = Pick<
  Fleet,
  | 'create'
  | 'list'
  | 'get'
  | 'delete'
  | 'navigate'
  | 'hibernate'
  | 'resume'
  | 'attachViewer'
  | 'patchViewer'
  | 'detachViewer'
  | 'thumbnail'
  | 'snapshot'
>;

export function localSurface(local: Commands): CommandSurface {
  return {
    create: (body) => local.create(body),
    list: async () => local.list(),
    get: async (id) => local.get(id),
    delete: (id) => local.delete(id),
    navigate: (id, url) => local.navigate(id, url),
    hibernate: (id) => local.hibernate(id),
    resume: (id) => local.resume(id),
    attachViewer: (id, offer, scope) => local.attachViewer(id, offer, scope),
    patchViewer: async (id, viewerId, fragment, ifMatch) =>
      local.patchViewer(id, viewerId, fragment, ifMatch),
    detachViewer: async (id, viewerId) => local.detachViewer(id, viewerId),
    thumbnail: (id, width) => local.thumbnail(id, width),
    snapshot: async (id) => local.snapshot(id),
  };
}
