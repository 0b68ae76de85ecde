import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { BundledImage, BundledImages } from './image.js';
import { IMAGE_PLATFORMS } from './platform.js';
import { OperatorError, messageOf } from '../errors.js';

/** Built by agent-image/build.sh next to the compiled CLI: <package>/dist/agent-image/. */
export const BUNDLED_IMAGE_DIR = fileURLToPath(new URL('../../agent-image/', import.meta.url));

interface ImageManifest {
  images?: Record<string, { tag?: unknown; tar?: unknown }>;
}

/** The backup agent images this CLI carries, one per node architecture, to be loaded onto nodes that lack theirs. */
export async function locateBundledAgentImage(directory = BUNDLED_IMAGE_DIR): Promise<BundledImages> {
  const manifestPath = path.join(directory, 'image.json');
  let manifest: ImageManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as ImageManifest;
  } catch (error) {
    throw new OperatorError(
      `the backup agent image is not built (${manifestPath}: ${messageOf(error)}); run "npm run build:agent-image", or pass --backup-image`,
    );
  }
  const images: BundledImages = {};
  for (const platform of IMAGE_PLATFORMS) {
    const entry = manifest.images?.[platform];
    if (entry === undefined) continue;
    if (typeof entry.tag !== 'string' || typeof entry.tar !== 'string') {
      throw new OperatorError(`${manifestPath} is malformed (images.${platform}); rebuild it with "npm run build:agent-image"`);
    }
    images[platform] = { tag: entry.tag, tarPath: path.join(directory, entry.tar) } satisfies BundledImage;
  }
  if (Object.keys(images).length === 0) {
    throw new OperatorError(`${manifestPath} lists no image; rebuild it with "npm run build:agent-image"`);
  }
  return images;
}
