package cookiesession

import (
	"errors"
	"fmt"
	"go/ast"
	goparser "go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The documentation's claims about the repository itself, checked against
// it; its figures are checked against their results files in
// figures_test.go.

// readDoc returns a documentation file of the repository.
func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(path))
	require.NoError(t, err)
	return string(b)
}

// assertSays fails the test unless the document named doc says want, without
// printing the whole document.
func assertSays(t *testing.T, doc, text, want string, msgAndArgs ...any) bool {
	t.Helper()
	return assert.True(t, strings.Contains(text, want), "%s does not say %q: %s", doc, want, fmt.Sprint(msgAndArgs...))
}

// TestFuzzTargetsAreCounted: SECURITY.md counts the root package's fuzz
// targets right, and docs/testing.md and .ci/run name every one.
func TestFuzzTargetsAreCounted(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	require.NoError(t, err)
	var targets []string
	fuzzRe := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(f \*testing\.F\)`)
	for _, f := range files {
		for _, m := range fuzzRe.FindAllStringSubmatch(readDoc(t, f), -1) {
			targets = append(targets, m[1])
		}
	}
	require.NotEmpty(t, targets)
	words := []string{"no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"}
	require.Less(t, len(targets), len(words))
	assertSays(t, "SECURITY.md", readDoc(t, "SECURITY.md"), words[len(targets)]+" fuzz targets", targets)
	testingDoc, ci := readDoc(t, "docs/testing.md"), readDoc(t, ".ci/run")
	ciTargets := regexp.MustCompile(`(?m)^for target in (.*); do`).FindStringSubmatch(ci)
	require.NotNil(t, ciTargets, ".ci/run's fuzz loop")
	assert.ElementsMatch(t, targets, strings.Fields(ciTargets[1]), ".ci/run fuzzes every target")
	for _, target := range targets {
		assertSays(t, "docs/testing.md", testingDoc, "-fuzz '^"+target+"$'", "how to fuzz it longer")
	}
}

// TestModulesAreListed: every module beside the library's is named in
// docs/testing.md and in CONTRIBUTING.md's table of suites.
func TestModulesAreListed(t *testing.T) {
	mods, err := filepath.Glob("*/go.mod")
	require.NoError(t, err)
	require.NotEmpty(t, mods)
	testingDoc, contributing := readDoc(t, "docs/testing.md"), readDoc(t, "CONTRIBUTING.md")
	for _, mod := range mods {
		dir := "`" + filepath.ToSlash(filepath.Dir(mod)) + "/`"
		assertSays(t, "docs/testing.md", testingDoc, dir)
		assertSays(t, "CONTRIBUTING.md", contributing, "| "+dir+" |", "in the table of suites")
	}
}

// TestErrWeakSecretNamesWhoJudgesStrength: the first sentence of
// ErrWeakSecret's documentation, which says who returns it for a short
// secret, names exactly the functions that do.
func TestErrWeakSecretNamesWhoJudgesStrength(t *testing.T) {
	file, err := goparser.ParseFile(token.NewFileSet(), "rotation.go", nil, goparser.ParseComments)
	require.NoError(t, err)
	first := ""
	for _, decl := range file.Decls {
		if g, ok := decl.(*ast.GenDecl); ok && g.Tok == token.VAR && g.Doc != nil && strings.HasPrefix(g.Doc.Text(), "ErrWeakSecret ") {
			first, _, _ = strings.Cut(strings.Join(strings.Fields(g.Doc.Text()), " "), ". ")
		}
	}
	require.Contains(t, first, "shorter than 32 bytes", "ErrWeakSecret's first sentence is about strength")

	const short = "short"
	t.Setenv("COOKIESESSION_TEST_SHORT_SECRET", short)
	path := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.WriteFile(path, []byte(short), 0o600))
	m, err := New(Options{Secrets: [][]byte{testKey(1)}})
	require.NoError(t, err)
	refuses := map[string]func() error{
		"[New]":                    func() error { _, err := New(Options{Secrets: [][]byte{[]byte(short)}}); return err },
		"[Manager.ReplaceSecrets]": func() error { return m.ReplaceSecrets([][]byte{[]byte(short)}) },
		"[SecretsFromEnv]":         func() error { _, err := SecretsFromEnv("COOKIESESSION_TEST_SHORT_SECRET"); return err },
		"[SecretsFromFile]":        func() error { _, err := SecretsFromFile(path); return err },
		"[ParseSecrets]":           func() error { _, err := ParseSecrets(short, "text"); return err },
	}
	for name, call := range refuses {
		assert.Equal(t, errors.Is(call(), ErrWeakSecret), strings.Contains(first, name),
			"%s refuses a short secret with ErrWeakSecret if and only if the first sentence names it: %q", name, first)
	}
}
