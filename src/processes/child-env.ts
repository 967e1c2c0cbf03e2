/** A child such as ffmpeg needs no secret of the service's environment: only where programs are. */
export function childEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
}
