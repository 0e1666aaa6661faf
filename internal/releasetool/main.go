// Command releasetool keeps the repository releasable. It lives in a module
// of its own so that golang.org/x/mod and golang.org/x/tools never reach the
// library's go.mod. Run it from anywhere in the repository:
//
//	go -C internal/releasetool run . check            # CI: no binaries, module zips within their limits, API recorded
//	go -C internal/releasetool run . api -update      # record the exported API after an intended change
//	go -C internal/releasetool run . pack -out DIR -version v1.2.3 [-rev REV] [-repo DIR]
//	go -C internal/releasetool run . changelog -version v1.2.3 -date 2026-12-07
//	go -C internal/releasetool run . modules          # the public modules, in dependency order
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// rootPath is the root module's path; the public modules' paths extend it.
const rootPath = "github.com/cookiesession/cookiesession"

// publicModule is a module that users import and that is tagged on release.
type publicModule struct {
	dir string // relative to the repository's root; "." for the root module
	// maxZip is the most bytes its module zip, as the go command builds it,
	// may hold: about one and a half times its size when v1.0.0 was
	// prepared (root 213 KB zipped from 553 KB of files, redisrevocation
	// 41 KB, otelmetrics 11 KB), so that ordinary growth passes and a stray
	// binary, data set or generated tree fails. Raise it on purpose, in a
	// commit that says why.
	maxZip int64
}

// publicModules lists the modules users may import, the root first: the
// order in which they are tagged, since every other one requires the root.
var publicModules = []publicModule{
	{dir: ".", maxZip: 480_000},
	{dir: "redisrevocation", maxZip: 100_000},
	{dir: "otelmetrics", maxZip: 20_000},
	{dir: "promcollector", maxZip: 20_000},
	{dir: "redisrevocation/rueidisdriver", maxZip: 10_000},
	{dir: "redisrevocation/goredisdriver", maxZip: 10_000},
	{dir: "redisrevocation/cmd/cookiesession-revoke", maxZip: 20_000},
}

func (m publicModule) path() string {
	if m.dir == "." {
		return rootPath
	}
	return rootPath + "/" + m.dir
}

// tagPrefix is what a tag of this module starts with before its version.
func (m publicModule) tagPrefix() string {
	if m.dir == "." {
		return ""
	}
	return m.dir + "/"
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	var err error
	switch cmd {
	case "check":
		fs.Parse(args)
		err = runCheck()
	case "api":
		update := fs.Bool("update", false, "rewrite api/*.txt with the current API instead of checking it")
		fs.Parse(args)
		err = runAPI(*update)
	case "pack":
		out := fs.String("out", "", "directory to lay the module proxy out in (GOPROXY=file://DIR)")
		version := fs.String("version", "", "the version to serve every public module at")
		rev := fs.String("rev", "", "the commit to pack (default: each module's tag of -version)")
		repo := fs.String("repo", "", "the repository to pack from (default: the one around the working directory)")
		fs.Parse(args)
		if *out == "" || *version == "" {
			fs.Usage()
			os.Exit(2)
		}
		err = runPack(*repo, *out, *version, *rev)
	case "changelog":
		version := fs.String("version", "", "the version being released, such as v1.2.3")
		date := fs.String("date", "", "its date, YYYY-MM-DD")
		fs.Parse(args)
		if *version == "" || *date == "" {
			fs.Usage()
			os.Exit(2)
		}
		err = runChangelog(*version, *date)
	case "modules":
		fs.Parse(args)
		for _, m := range publicModules {
			fmt.Println(m.dir)
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "releasetool:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: releasetool check | api [-update] | pack -out DIR -version V [-rev REV] [-repo DIR] | changelog -version V -date D | modules")
	os.Exit(2)
}

// repoRoot returns the repository's top directory.
func repoRoot() (string, error) {
	out, err := git("", "rev-parse", "--show-toplevel")
	return strings.TrimSpace(string(out)), err
}

// git runs git in dir and returns its standard output.
func git(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// runCheck fails when a tracked file is an executable binary, a public
// module's zip is past its limit, or the exported API differs from its
// record.
func runCheck() error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	var problems []string
	bins, err := trackedBinaries(root)
	if err != nil {
		return err
	}
	for _, b := range bins {
		problems = append(problems, "tracked executable binary: "+b)
	}
	for _, m := range publicModules {
		files, zipped, err := zipSize(root, "HEAD", m, "v1.0.0")
		if err != nil {
			return err
		}
		fmt.Printf("module %-50s zip %8d bytes (limit %d), files %8d bytes\n", m.path(), zipped, m.maxZip, files)
		if zipped > m.maxZip {
			problems = append(problems, fmt.Sprintf("module %s: its zip is %d bytes, past its limit of %d (see publicModules in internal/releasetool)", m.path(), zipped, m.maxZip))
		}
	}
	if err := runAPI(false); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problem(s):\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	return nil
}
