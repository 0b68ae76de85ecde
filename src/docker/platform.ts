/**
 * Which of the bundled agent images a node's engine gets: the one built for the engine's
 * architecture as `docker info` reports it (Architecture: the kernel's name, e.g. x86_64,
 * aarch64). Pure, so the choice and its error line are unit-tested.
 */
import { OperatorError } from '../errors.js';

/** The image platforms the package carries (agent-image/build.sh): linux/<platform>. */
export const IMAGE_PLATFORMS = ['amd64', 'arm64'] as const;
export type ImagePlatform = (typeof IMAGE_PLATFORMS)[number];

/** `docker info`'s Architecture (uname -m; some engines say Go's name) → the image platform. */
const ENGINE_ARCHITECTURES: Readonly<Record<string, ImagePlatform>> = {
  x86_64: 'amd64',
  amd64: 'amd64',
  aarch64: 'arm64',
  arm64: 'arm64',
};

export function platformOfEngine(architecture: string): ImagePlatform | undefined {
  return Object.hasOwn(ENGINE_ARCHITECTURES, architecture) ? ENGINE_ARCHITECTURES[architecture] : undefined;
}

/** The image of `images` for an engine of `architecture` on `host`, or one line saying there is none. */
export function imageForEngine<T>(images: Partial<Record<ImagePlatform, T>>, architecture: string, host: string): { platform: ImagePlatform; image: T } {
  const platform = platformOfEngine(architecture);
  const image = platform === undefined ? undefined : images[platform];
  if (platform === undefined || image === undefined) {
    const carried = IMAGE_PLATFORMS.filter((p) => images[p] !== undefined).map((p) => `linux/${p}`);
    throw new OperatorError(
      `host ${host}: its Docker engine's architecture is ${architecture || 'not reported'} (docker info), and the bundled backup agent image exists only for ` +
        `${carried.length > 0 ? carried.join(' and ') : 'no architecture (rebuild it with "npm run build:agent-image")'}; pass --backup-image with an image built for it`,
    );
  }
  return { platform, image };
}
