/** The object key of a snapshot: `<folder>/NAME.zip`, or `NAME.zip` without a folder. `folder` is normalized (normalizeFolder). */
export function snapshotObjectKey(folder: string, name: string): string {
  return folder === '' ? `${name}.zip` : `${folder}/${name}.zip`;
}
