package cookiesession

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocSnippetsAreCopiedFromTestedCode: every Go snippet in the
// documentation (the README, docs/, SECURITY.md, CONTRIBUTING.md and the
// modules' READMEs) stands, line for line (indentation aside), in a .go
// file of the repository, where it is compiled and tested. A snippet
// edited in one place only fails here.
func TestDocSnippetsAreCopiedFromTestedCode(t *testing.T) {
	var sources [][]string
	var docs []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != ".":
			return filepath.SkipDir
		case !d.IsDir() && strings.HasSuffix(path, ".go"):
			data, err := os.ReadFile(path)
			sources = append(sources, codeLines(string(data)))
			return err
		case !d.IsDir() && strings.HasSuffix(path, ".md"):
			docs = append(docs, path)
		}
		return nil
	})
	require.NoError(t, err)
	require.Contains(t, docs, "README.md")
	require.Contains(t, docs, filepath.Join("docs", "revocation.md"))

	total := 0
	for _, doc := range docs {
		text, err := os.ReadFile(doc)
		require.NoError(t, err)
		for _, snippet := range goSnippets(string(text)) {
			total++
			lines := codeLines(snippet)
			found := false
			for _, src := range sources {
				if containsRun(src, lines) {
					found = true
					break
				}
			}
			assert.True(t, found, "%s: snippet not found in any .go file:\n%s", doc, snippet)
		}
	}
	assert.Greater(t, total, 10, "the documentation's snippets were found")
}

// goSnippets returns the bodies of the README's ```go blocks.
func goSnippets(readme string) []string {
	var out []string
	for _, block := range strings.Split(readme, "```go\n")[1:] {
		body, _, _ := strings.Cut(block, "```")
		out = append(out, body)
	}
	return out
}

// codeLines returns the non-blank lines of code, trimmed.
func codeLines(code string) []string {
	var out []string
	for _, line := range strings.Split(code, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// containsRun reports whether want stands in src as a contiguous run.
func containsRun(src, want []string) bool {
	for i := 0; i+len(want) <= len(src); i++ {
		match := true
		for j := range want {
			if src[i+j] != want[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}
