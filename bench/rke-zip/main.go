// rke-zip writes the zip of an etcd snapshot the way rke-tools' one-time backup does after
// `etcdctl snapshot save`, for the bench's reference figure (docs/performance.md): Go's
// archive/zip, deflate at its default level, each entry named by its absolute path, the
// modification time fixed at the Unix epoch, then mode 0600 and the raw file removed.
// It is a bench tool only; it is not part of the product.
//
// Usage: rke-zip OUT.zip FILE [FILE...]
package main

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: rke-zip OUT.zip FILE [FILE...]")
		os.Exit(2)
	}
	if err := writeZip(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "rke-zip:", err)
		os.Exit(1)
	}
	// rke-tools removes the raw snapshot once it is zipped.
	if err := os.Remove(os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "rke-zip:", err)
		os.Exit(1)
	}
}

func writeZip(out string, files []string) error {
	archive, err := os.Create(out)
	if err != nil {
		return err
	}
	defer archive.Close()
	writer := zip.NewWriter(archive)
	for _, name := range files {
		if err := addFile(writer, name); err != nil {
			return err
		}
	}
	if err := writer.Close(); err != nil {
		return err
	}
	if err := archive.Close(); err != nil {
		return err
	}
	return os.Chmod(out, 0o600)
}

func addFile(writer *zip.Writer, name string) error {
	file, err := os.Open(name)
	if err != nil {
		return err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return err
	}
	header, err := zip.FileInfoHeader(info)
	if err != nil {
		return err
	}
	header.Name = name
	header.Method = zip.Deflate
	header.Modified = time.Unix(0, 0)
	entry, err := writer.CreateHeader(header)
	if err != nil {
		return err
	}
	_, err = io.Copy(entry, file)
	return err
}
