import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PythonZipEntry {
  name: string;
  size: number;
  compressSize: number;
  crc: number;
  compressType: number;
  flagBits: number;
  unixMode: number;
  sha256: string;
}

const INSPECT = `
import hashlib, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as archive:
    bad = archive.testzip()
    entries = [{
        "name": info.filename, "size": info.file_size, "compressSize": info.compress_size,
        "crc": info.CRC, "compressType": info.compress_type, "flagBits": info.flag_bits,
        "unixMode": info.external_attr >> 16,
        "sha256": hashlib.sha256(archive.read(info)).hexdigest(),
    } for info in archive.infolist()]
print(json.dumps({"bad": bad, "entries": entries}))
`;

/** Reads a zip with Python's zipfile: entries, and testzip()'s first bad entry (null when all CRCs match). */
export async function inspectWithPython(path: string): Promise<{ bad: string | null; entries: PythonZipEntry[] }> {
  const { stdout } = await run('python3', ['-c', INSPECT, path], { maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as { bad: string | null; entries: PythonZipEntry[] };
}

/** Extracts one entry's bytes with Python (unzip rewrites absolute names when extracting). */
export async function extractWithPython(zipPath: string, entryName: string, outputPath: string): Promise<void> {
  const script = `
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as archive, archive.open(sys.argv[2]) as source, open(sys.argv[3], "wb") as target:
    shutil.copyfileobj(source, target, 1024 * 1024)
`;
  await run('python3', ['-c', script, zipPath, entryName, outputPath]);
}

/** `unzip -t` (tests every entry's CRC) and `unzip -Z1` (names): throws if unzip reports a problem. */
export async function checkWithUnzip(path: string): Promise<{ names: string[]; testOutput: string }> {
  const test = await run('unzip', ['-t', path]);
  const list = await run('unzip', ['-Z1', path]);
  return { names: list.stdout.split('\n').filter((line) => line !== ''), testOutput: test.stdout };
}

/** Writes a deflated zip with Python, entries named exactly as given (absolute names kept, as rke-tools writes them). */
export async function zipWithPython(zipPath: string, entries: Array<[name: string, sourcePath: string]>): Promise<void> {
  const script = `
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as archive:
    for name, source in zip(sys.argv[2::2], sys.argv[3::2]):
        info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(source, "rb") as data, archive.open(info, "w") as target:
            while chunk := data.read(1024 * 1024):
                target.write(chunk)
`;
  await run('python3', ['-c', script, zipPath, ...entries.flat()]);
}
