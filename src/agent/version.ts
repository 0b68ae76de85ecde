// Replaced with the package version by esbuild's `define` when the image is built.
declare const __RKE_SNAPSHOT_AGENT_VERSION__: string | undefined;

export const AGENT_VERSION: string =
  typeof __RKE_SNAPSHOT_AGENT_VERSION__ === 'string' ? __RKE_SNAPSHOT_AGENT_VERSION__ : 'development';
