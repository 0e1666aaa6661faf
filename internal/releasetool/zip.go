package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// moduleZip builds the zip the go command would serve for module m at
// commit rev, with x/mod/zip's rules: files of nested modules, vendor
// directories and files it cannot hold are left out. It reads the commit
// with git archive, as the go command does, so untracked and ignored files
// never count; unlike zip.CreateFromVCS it also works in a git worktree.
// It returns the zip and the total size of the files in it.
func moduleZip(root, rev string, m publicModule, version string) ([]byte, int64, error) {
	archive, err := git(root, "-c", "core.autocrlf=input", "-c", "core.eol=lf", "archive", "--format=zip", rev)
	if err != nil {
		return nil, 0, err
	}
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		return nil, 0, err
	}
	prefix := ""
	if m.dir != "." {
		prefix = m.dir + "/"
	}
	var files []modzip.File
	haveLicense := false
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, prefix) || strings.HasSuffix(f.Name, "/") {
			continue
		}
		name := strings.TrimPrefix(f.Name, prefix)
		files = append(files, archived{name, f})
		haveLicense = haveLicense || name == "LICENSE"
	}
	if !haveLicense && prefix != "" {
		// The go command gives a sub-module without a LICENSE of its own
		// the repository's.
		if license, err := git(root, "cat-file", "blob", rev+":LICENSE"); err == nil {
			files = append(files, inMemory{"LICENSE", license})
		}
	}
	checked, err := modzip.CheckFiles(files)
	if err != nil {
		return nil, 0, err
	}
	var total int64
	for _, f := range files {
		if !contains(checked.Valid, f.Path()) {
			continue
		}
		info, _ := f.Lstat()
		total += info.Size()
	}
	var buf bytes.Buffer
	mv := module.Version{Path: m.path(), Version: version}
	if err := modzip.Create(&buf, mv, files); err != nil {
		return nil, 0, err
	}
	return buf.Bytes(), total, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// zipSize returns the size of module m's files at rev and of its zip.
func zipSize(root, rev string, m publicModule, version string) (files, zipped int64, err error) {
	z, files, err := moduleZip(root, rev, m, version)
	return files, int64(len(z)), err
}

// runPack lays every public module out as a module proxy in out, at
// version: each one taken from its release tag (rev empty) or all from one
// commit. GOPROXY=file://OUT then serves them as the real proxy would once
// the tags are pushed.
func runPack(root, out, version, rev string) error {
	if root == "" {
		var err error
		if root, err = repoRoot(); err != nil {
			return err
		}
	}
	for _, m := range publicModules {
		r := rev
		if r == "" {
			r = m.tagPrefix() + version
		}
		commit, err := git(root, "rev-parse", r+"^{commit}")
		if err != nil {
			return err
		}
		commitTime, err := git(root, "show", "-s", "--format=%cI", r+"^{commit}")
		if err != nil {
			return err
		}
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(commitTime)))
		if err != nil {
			return err
		}
		z, _, err := moduleZip(root, r, m, version)
		if err != nil {
			return err
		}
		modFile, err := git(root, "show", r+":"+path.Join(m.tagPrefix(), "go.mod"))
		if err != nil {
			return err
		}
		escaped, err := module.EscapePath(m.path())
		if err != nil {
			return err
		}
		dir := filepath.Join(out, filepath.FromSlash(escaped), "@v")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		info, _ := json.Marshal(struct {
			Version string
			Time    time.Time
			Origin  struct{ VCS, Hash string }
		}{version, t.UTC(), struct{ VCS, Hash string }{"git", strings.TrimSpace(string(commit))}})
		for name, data := range map[string][]byte{
			version + ".zip":  z,
			version + ".mod":  modFile,
			version + ".info": info,
			"list":            []byte(version + "\n"),
		} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				return err
			}
		}
		fmt.Printf("packed %s@%s from %s (%s), zip %d bytes\n", m.path(), version, r, strings.TrimSpace(string(commit))[:12], len(z))
	}
	return nil
}

// archived is a file of a git archive, as x/mod/zip reads files.
type archived struct {
	name string
	f    *zip.File
}

func (a archived) Path() string                 { return a.name }
func (a archived) Lstat() (os.FileInfo, error)  { return a.f.FileInfo(), nil }
func (a archived) Open() (io.ReadCloser, error) { return a.f.Open() }

// inMemory is a file made up here (the LICENSE a sub-module inherits).
type inMemory struct {
	name string
	data []byte
}

func (f inMemory) Path() string                 { return f.name }
func (f inMemory) Lstat() (os.FileInfo, error)  { return memInfo{f}, nil }
func (f inMemory) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type memInfo struct{ f inMemory }

func (i memInfo) Name() string       { return path.Base(i.f.name) }
func (i memInfo) Size() int64        { return int64(len(i.f.data)) }
func (i memInfo) Mode() os.FileMode  { return 0o644 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }
