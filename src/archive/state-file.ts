import { rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { CONTAINER_KUBERNETES_DIR } from '../model/paths.js';
import { writeFileAtomically } from './atomic-file.js';

/** The state file's name beside the snapshot, as rke-tools names it. */
export function stateFileName(snapshotName: string): string {
  return `${snapshotName}.rkestate`;
}

/**
 * Places the cluster state file as /etc/kubernetes/NAME.rkestate (mode 0400), as RKE
 * does for a snapshot. The caller removes it afterwards (removeStateFile), whatever happens.
 */
export async function deployStateFile(kubernetesDir: string, snapshotName: string, bytes: Buffer): Promise<void> {
  const fileName = stateFileName(snapshotName);
  await writeFileAtomically(
    {
      dir: kubernetesDir,
      fileName,
      mode: 0o400,
      overwrite: true,
      displayPath: posix.join(CONTAINER_KUBERNETES_DIR, fileName),
    },
    (file) => file.writeFile(bytes),
  );
}

export async function removeStateFile(kubernetesDir: string, snapshotName: string): Promise<void> {
  await rm(join(kubernetesDir, stateFileName(snapshotName)), { force: true });
}
