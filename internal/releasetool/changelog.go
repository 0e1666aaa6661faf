package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// runChangelog moves CHANGELOG.md's Unreleased entries under the version's
// heading, dated.
func runChangelog(version, date string) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	file := filepath.Join(root, "CHANGELOG.md")
	text, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	out, err := releaseChangelog(string(text), version, date)
	if err != nil {
		return err
	}
	return os.WriteFile(file, []byte(out), 0o644)
}

var (
	semver   = regexp.MustCompile(`^v(\d+\.\d+\.\d+)$`)
	isoDate  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	headingV = regexp.MustCompile(`^## \[([^\]]+)\](.*)$`)
)

// releaseChangelog returns the changelog with the entries of its
// "## [Unreleased]" section under "## [X.Y.Z] - DATE", and an empty
// Unreleased section on top for what comes next. A section for the version
// prepared in advance ("## [X.Y.Z] - not yet released") is dated and
// receives the Unreleased entries, each under its "### Kind" heading. A
// version already dated, or nothing to release, is an error.
func releaseChangelog(text, version, date string) (string, error) {
	m := semver.FindStringSubmatch(version)
	if m == nil {
		return "", fmt.Errorf("version %q is not vMAJOR.MINOR.PATCH", version)
	}
	if !isoDate.MatchString(date) {
		return "", fmt.Errorf("date %q is not YYYY-MM-DD", date)
	}
	number := m[1]
	lines := strings.Split(text, "\n")
	unreleased, prepared := -1, -1
	for i, l := range lines {
		h := headingV.FindStringSubmatch(l)
		switch {
		case h == nil:
		case h[1] == "Unreleased":
			unreleased = i
		case h[1] == number && isoDate.MatchString(strings.TrimPrefix(strings.TrimSpace(h[2]), "- ")):
			return "", fmt.Errorf("CHANGELOG.md already has %s, released on %s", number, strings.TrimPrefix(strings.TrimSpace(h[2]), "- "))
		case h[1] == number:
			prepared = i
		}
	}
	if unreleased < 0 {
		return "", fmt.Errorf("CHANGELOG.md has no \"## [Unreleased]\" section")
	}
	end := nextHeading(lines, unreleased+1)
	entries := lines[unreleased+1 : end]
	heading := fmt.Sprintf("## [%s] - %s", number, date)
	if prepared < 0 {
		if blank(entries) {
			return "", fmt.Errorf("nothing to release: the Unreleased section of CHANGELOG.md is empty")
		}
		out := append([]string{}, lines[:unreleased+1]...)
		out = append(out, "", heading)
		out = append(out, lines[unreleased+1:]...)
		return strings.Join(out, "\n"), nil
	}
	if prepared < unreleased {
		return "", fmt.Errorf("CHANGELOG.md's section for %s stands above Unreleased", number)
	}
	// Fold each "### Kind" block of Unreleased into the prepared section.
	pEnd := nextHeading(lines, prepared+1)
	section := append([]string{heading}, lines[prepared+1:pEnd]...)
	var preamble []string
	kinds := map[string][]string{}
	var order []string
	kind := ""
	for _, l := range entries {
		if strings.HasPrefix(l, "### ") {
			kind = l
			order = append(order, kind)
			continue
		}
		if kind == "" {
			preamble = append(preamble, l)
		} else {
			kinds[kind] = append(kinds[kind], l)
		}
	}
	if !blank(preamble) {
		return "", fmt.Errorf("the Unreleased section of CHANGELOG.md has text outside a \"### Kind\" heading; file it under one")
	}
	for _, k := range order {
		items := trimBlank(kinds[k])
		if len(items) == 0 {
			continue
		}
		at := -1
		for i, l := range section {
			if l == k {
				at = i
				break
			}
		}
		if at < 0 {
			// A kind the prepared section lacks goes before its first kind.
			first := len(section)
			for i, l := range section {
				if strings.HasPrefix(l, "### ") {
					first = i
					break
				}
			}
			block := append(append([]string{k, ""}, items...), "")
			section = append(section[:first], append(block, section[first:]...)...)
			continue
		}
		// After the heading and its blank line.
		insert := append(items, "")
		pos := at + 2
		section = append(section[:pos], append(insert, section[pos:]...)...)
	}
	out := append([]string{}, lines[:unreleased+1]...)
	out = append(out, "")
	out = append(out, lines[end:prepared]...)
	out = append(out, section...)
	out = append(out, lines[pEnd:]...)
	return strings.Join(out, "\n"), nil
}

// nextHeading returns the index of the first "## " line at or after from,
// or len(lines).
func nextHeading(lines []string, from int) int {
	for i := from; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "## ") {
			return i
		}
	}
	return len(lines)
}

func blank(lines []string) bool {
	return len(trimBlank(lines)) == 0
}

func trimBlank(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}
