package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeModule(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/m\n\ngo 1.25.0\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "m.go"), []byte(src), 0o644))
	return dir
}

const v1 = `// Package m is a fixture.
package m

import "context"

// numKinds is how many kinds there are.
const numKinds = 3

// Limit is the most.
const Limit = 10

// Counts counts.
type Counts struct {
	// Kinds by kind; its length is numKinds.
	Kinds [numKinds]uint64
	hidden int
}

// Store stores.
type Store interface {
	Put(ctx context.Context, key string) error
}

// Get gets.
func Get[T any](key string, opts ...int) (v T, ok bool) { return v, false }

// Size is a size.
func (c *Counts) Size() int { return c.hidden }
`

func TestModuleAPI(t *testing.T) {
	api, unexported, err := moduleAPI(writeModule(t, v1))
	require.NoError(t, err)
	assert.Equal(t, []string{
		"pkg example.com/m, const Limit untyped int = 10",
		"pkg example.com/m, func Get[T any](string, ...int) (T, bool)",
		"pkg example.com/m, method (*Counts) Size() int",
		"pkg example.com/m, type Counts struct",
		"pkg example.com/m, type Counts struct, Kinds [3]uint64",
		"pkg example.com/m, type Store interface { Put(context.Context, string) error }",
	}, api)
	assert.Equal(t, []string{
		"Counts.Kinds (doc): godoc would show the unexported numKinds",
		"Counts.Kinds: godoc would show the unexported numKinds",
		"example.com/m: no runnable Example function",
	}, unexported)

	// Renaming a parameter changes nothing; adding a method to the
	// interface and removing a field change lines; a new function adds one.
	v2 := `package m

import "context"

const Limit = 10

type Counts struct{}

type Store interface {
	Put(c context.Context, k string) error
	Delete(c context.Context, k string) error
}

func Get[T any](name string, opts ...int) (v T, ok bool) { return v, false }

func (c *Counts) Size() int { return 0 }

func New() *Counts { return nil }
`
	dir := writeModule(t, v2)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "example_test.go"), []byte("package m\n\nfunc ExampleNew() {}\n"), 0o644))
	api2, unexported, err := moduleAPI(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"example.com/m: no package doc comment"}, unexported)
	removed, added := diff(api, api2)
	assert.Equal(t, []string{
		"pkg example.com/m, type Counts struct, Kinds [3]uint64",
		"pkg example.com/m, type Store interface { Put(context.Context, string) error }",
	}, removed)
	assert.Equal(t, []string{
		"pkg example.com/m, func New() *Counts",
		"pkg example.com/m, type Store interface { Delete(context.Context, string) error; Put(context.Context, string) error }",
	}, added)
}
