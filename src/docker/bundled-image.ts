import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { BundledImage } from './image.js';
import { OperatorError, messageOf } from '../errors.js';

/** Built by agent-image/build.sh next to the compiled CLI: <package>/dist/agent-image/. */
export const BUNDLED_IMAGE_DIR = fileURLToPath(new URL('../../agent-image/', import.meta.url));

interface ImageManifest {
  tag: string;
  tar: string;
}

/** The backup agent image this CLI carries, to be loaded onto nodes that lack it. */
export async function locateBundledAgentImage(directory = BUNDLED_IMAGE_DIR): Promise<BundledImage> {
  const manifestPath = path.join(directory, 'image.json');
  let manifest: ImageManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as ImageManifest;
  } catch (error) {
    throw new OperatorError(
      `the backup agent image is not built (${manifestPath}: ${messageOf(error)}); run "npm run build:agent-image", or pass --backup-image`,
    );
  }
  if (typeof manifest.tag !== 'string' || typeof manifest.tar !== 'string') {
    throw new OperatorError(`${manifestPath} is malformed; rebuild it with "npm run build:agent-image"`);
  }
  return { tag: manifest.tag, tarPath: path.join(directory, manifest.tar) };
}
