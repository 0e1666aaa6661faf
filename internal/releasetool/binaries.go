package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// executableMagic are the first bytes of the executable and object formats
// a Go toolchain writes: ELF, Mach-O (both byte orders, 32 and 64 bit, and
// universal), PE (the DOS header) and WebAssembly.
var executableMagic = [][]byte{
	[]byte("\x7fELF"),
	{0xfe, 0xed, 0xfa, 0xce}, {0xce, 0xfa, 0xed, 0xfe},
	{0xfe, 0xed, 0xfa, 0xcf}, {0xcf, 0xfa, 0xed, 0xfe},
	{0xca, 0xfe, 0xba, 0xbe},
	[]byte("MZ"),
	[]byte("\x00asm"),
}

// isExecutableBinary reports whether a file starting with head is a
// compiled program: a known executable format, or a file marked executable
// that is not a script.
func isExecutableBinary(head []byte, executableBit bool) bool {
	for _, magic := range executableMagic {
		if bytes.HasPrefix(head, magic) {
			return true
		}
	}
	return executableBit && !bytes.HasPrefix(head, []byte("#!"))
}

// trackedBinaries lists the files git tracks, in the index, that are
// executable binaries.
func trackedBinaries(root string) ([]string, error) {
	out, err := git(root, "ls-files", "-s", "-z")
	if err != nil {
		return nil, err
	}
	var found []string
	for _, entry := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		// "<mode> <object> <stage>\t<path>"
		meta, name, ok := strings.Cut(entry, "\t")
		if !ok {
			continue
		}
		mode := strings.Fields(meta)[0]
		if mode == "160000" || mode == "120000" { // submodule, symlink
			continue
		}
		head, err := readHead(filepath.Join(root, name))
		if err != nil {
			return nil, err
		}
		if isExecutableBinary(head, mode == "100755") {
			found = append(found, name)
		}
	}
	return found, nil
}

func readHead(name string) ([]byte, error) {
	f, err := os.Open(name)
	if os.IsNotExist(err) {
		return nil, nil // deleted in the work tree; the index still names it
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, 4)
	n, err := io.ReadFull(f, head)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	return head[:n], err
}
