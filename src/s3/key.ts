/** The object key of a snapshot: `<folder>/NAME.zip`, or `NAME.zip` without a folder. `folder` is normalized (normalizeFolder). */
export function snapshotObjectKey(folder: string, name: string): string {
  return folder === '' ? `${name}.zip` : `${folder}/${name}.zip`;
}

/**
 * `--pki-bundle --s3`: the node's pki.bundle.tar.gz goes next to the snapshot as
 * `<folder>/NAME.pki.bundle.tar.gz`. Named after the snapshot (the node's file is not),
 * so that each run's certificates stay beside that run's snapshot instead of one key
 * being replaced by every run; RKE v0.1.x had no S3 step to follow here.
 */
export function pkiBundleObjectKey(folder: string, name: string): string {
  const fileName = `${name}.pki.bundle.tar.gz`;
  return folder === '' ? fileName : `${folder}/${fileName}`;
}
