package relink

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// maxArchive bounds what is read of a compiled package: the compiler's own output, but a
// corrupted cache is no reason to read without end.
const maxArchive = 1 << 30

// sameExport reports whether two compiled packages (the compiler's archives) have the same
// export data: what a package that imports them is compiled against. The object header before
// it (with the build ID) is not compared.
func sameExport(a, b string) (bool, error) {
	ea, err := exportData(a)
	if err != nil {
		return false, err
	}
	eb, err := exportData(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ea, eb), nil
}

// exportData is the export data in the __.PKGDEF member of a Go archive, from its "$$B" mark on.
func exportData(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxArchive {
		return nil, fmt.Errorf("%s: %d bytes, more than a compiled package has", file, st.Size())
	}
	const magic = "!<arch>\n"
	head := make([]byte, len(magic)+60)
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if string(head[:len(magic)]) != magic {
		return nil, fmt.Errorf("%s is not an archive", file)
	}
	h := head[len(magic):]
	if name := strings.TrimSpace(string(h[:16])); name != "__.PKGDEF" {
		return nil, fmt.Errorf("%s: first member is %q, not __.PKGDEF", file, name)
	}
	size, err := strconv.ParseInt(strings.TrimSpace(string(h[48:58])), 10, 64)
	if err != nil || size < 0 || size > st.Size() {
		return nil, fmt.Errorf("%s: bad __.PKGDEF size %q", file, h[48:58])
	}
	body := make([]byte, size)
	if _, err := f.ReadAt(body, int64(len(head))); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	i := bytes.Index(body, []byte("\n$$B\n"))
	if i < 0 {
		return nil, errors.New(file + ": no export data")
	}
	return body[i:], nil
}
