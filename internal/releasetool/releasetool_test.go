package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIsExecutableBinary(t *testing.T) {
	for _, tc := range []struct {
		name string
		head string
		exec bool
		want bool
	}{
		{"ELF", "\x7fELF", false, true},
		{"Mach-O 64", "\xcf\xfa\xed\xfe", false, true},
		{"PE", "MZ\x90\x00", false, true},
		{"wasm", "\x00asm", false, true},
		{"executable without #!", "\x01\x02\x03\x04", true, true},
		{"script", "#!/u", true, false},
		{"text", "pack", false, false},
		{"empty", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, isExecutableBinary([]byte(tc.head), tc.exec))
		})
	}
}

// newRepo makes a git repository with a root module, a public sub-module
// and a nested private module, and commits it.
func newRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "\x7fELF") {
			mode = 0o755
		}
		require.NoError(t, os.WriteFile(p, []byte(content), mode))
	}
	for _, args := range [][]string{
		{"init", "-q"}, {"add", "-A"},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "x"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
	}
	return dir
}

func TestTrackedBinariesAndModuleZip(t *testing.T) {
	binary := "\x7fELF" + strings.Repeat("\x00", 100_000)
	dir := newRepo(t, map[string]string{
		"go.mod":                    "module " + rootPath + "\n\ngo 1.25.0\n",
		"LICENSE":                   "license text\n",
		"a.go":                      "package cookiesession\n",
		"cmd/tool/tool":             binary,
		"redisrevocation/go.mod":    "module " + rootPath + "/redisrevocation\n\ngo 1.25.0\n",
		"redisrevocation/list.go":   "package redisrevocation\n",
		"e2e/go.mod":                "module " + rootPath + "/e2e\n\ngo 1.25.0\n",
		"e2e/big.go":                strings.Repeat("// padding\n", 10_000),
		"redisrevocation/vendor/x/": "",
	})
	bins, err := trackedBinaries(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"cmd/tool/tool"}, bins)

	root := publicModule{dir: "."}
	z, files, err := moduleZip(dir, "HEAD", root, "v1.0.0")
	require.NoError(t, err)
	// The binary counts; the nested module's files do not.
	assert.Equal(t, int64(len("module "+rootPath+"\n\ngo 1.25.0\n")+len("license text\n")+len("package cookiesession\n")+len(binary)), files)
	assert.Less(t, len(z), 2_000, "the zeros compress, the nested module is left out")

	sub := publicModule{dir: "redisrevocation"}
	z, files, err = moduleZip(dir, "HEAD", sub, "v1.0.0")
	require.NoError(t, err)
	assert.Equal(t, int64(len("module "+rootPath+"/redisrevocation\n\ngo 1.25.0\n")+len("package redisrevocation\n")+len("license text\n")), files,
		"the sub-module gets the repository's LICENSE, as from the go command")
	assert.NotEmpty(t, z)
}

func TestReleaseChangelog(t *testing.T) {
	const prepared = `# Changelog

Intro.

## [Unreleased]

### Added

- A new option.

### Fixed

- A bug.

## [1.0.0] - not yet released

The first release.

### Added

- Everything.

### Changed

- A default.
`
	got, err := releaseChangelog(prepared, "v1.0.0", "2026-12-24")
	require.NoError(t, err)
	assert.Equal(t, `# Changelog

Intro.

## [Unreleased]

## [1.0.0] - 2026-12-24

The first release.

### Fixed

- A bug.

### Added

- A new option.

- Everything.

### Changed

- A default.
`, got)

	// The next release: Unreleased becomes the version's section.
	next := strings.Replace(got, "## [Unreleased]\n", "## [Unreleased]\n\n### Fixed\n\n- Another bug.\n", 1)
	got, err = releaseChangelog(next, "v1.0.1", "2027-01-05")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(got, "# Changelog\n\nIntro.\n\n## [Unreleased]\n\n## [1.0.1] - 2027-01-05\n\n### Fixed\n\n- Another bug.\n\n## [1.0.0] - 2026-12-24\n"), got)

	_, err = releaseChangelog(got, "v1.0.1", "2027-01-06")
	assert.ErrorContains(t, err, "already has 1.0.1, released on 2027-01-05")
	_, err = releaseChangelog(got, "v1.0.2", "2027-01-06")
	assert.ErrorContains(t, err, "nothing to release")
	_, err = releaseChangelog(got, "1.0.2", "2027-01-06")
	assert.ErrorContains(t, err, "not vMAJOR.MINOR.PATCH")
}
