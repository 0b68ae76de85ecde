import { rm } from 'node:fs/promises';
import { join } from 'node:path';

/** The state file's name beside the snapshot, as rke-tools names it (the archive entry /etc/kubernetes/NAME.rkestate). */
export function stateFileName(snapshotName: string): string {
  return `${snapshotName}.rkestate`;
}

/** rke-tools' contract: RKE placed /etc/kubernetes/NAME.rkestate for the snapshot; it goes once the snapshot is done. */
export async function removeStateFile(kubernetesDir: string, snapshotName: string): Promise<void> {
  await rm(join(kubernetesDir, stateFileName(snapshotName)), { force: true });
}
