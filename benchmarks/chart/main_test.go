package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sample = `goos: linux
BenchmarkCycle/cookiesession/typical-2   50000   24000 ns/op   1471 wire-B/op   11306 B/op   62 allocs/op
BenchmarkCycle/cookiesession/typical-2   50000   26000 ns/op   1471 wire-B/op   11306 B/op   62 allocs/op
BenchmarkCycle/cookiesession/typical-2   50000   25000 ns/op   1471 wire-B/op   11306 B/op   62 allocs/op
BenchmarkCycle/scs-memstore/typical-2    16000   72000 ns/op    188.0 wire-B/op  9000 B/op  298 allocs/op
BenchmarkCycle/scs-memstore/large-2      12000   97000 ns/op    188.0 wire-B/op  9000 B/op  298 allocs/op
PASS
`

func TestParseTakesMediansOfOneSize(t *testing.T) {
	rows, err := parse(strings.NewReader(sample), "typical")
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, row{"cookiesession", 25, 1471}, rows[0], "fastest first, median of three")
	assert.Equal(t, row{"scs-memstore", 72, 188}, rows[1])

	_, err = parse(strings.NewReader("BenchmarkCycle/x/typical-2 1 abc ns/op"), "typical")
	assert.Error(t, err)
}

func TestRenderDrawsEveryImplementation(t *testing.T) {
	rows, err := parse(strings.NewReader(sample), "typical")
	require.NoError(t, err)
	var svg bytes.Buffer
	require.NoError(t, render(&svg, rows))
	assert.True(t, strings.HasPrefix(svg.String(), "<?xml"), svg.String()[:40])
	for _, name := range []string{"cookiesession", "scs-memstore", "Time per request", "Bytes on the wire"} {
		assert.Contains(t, svg.String(), name)
	}
}
