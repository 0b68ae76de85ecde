import type { ImageSource } from '../../docker/image.js';

/** How the node's engine runs the jobs: what the docker runtime is told once per run. */
export interface DockerRuntimeOptions {
  /** The bundled agent, or --backup-image. */
  image: ImageSource;
  /** --backup-image-contract: how to drive the image (rke-tools-image.ts); absent: auto. */
  imageContract?: ImageContractChoice;
  /** --ignore-docker-version, or the cluster's ignore_docker_version. */
  ignoreDockerVersion: boolean;
}

/** How the CLI talks to the backup image: our agent's protocol, or rke-tools' command line. */
export type ImageContract = 'native' | 'rke-tools';
export type ImageContractChoice = 'auto' | ImageContract;
export const IMAGE_CONTRACT_CHOICES: readonly ImageContractChoice[] = ['auto', 'native', 'rke-tools'];
