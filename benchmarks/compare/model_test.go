//go:build linux

package main

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUploadIsBitsOverTheBitRate(t *testing.T) {
	assert.InDelta(t, 10_000, uploadMicros(1250, link{"1 Mbit/s", 1}), 1e-9, "1250 B are 10,000 bits: 10 ms at 1 Mbit/s")
	assert.InDelta(t, 100, uploadMicros(1250, link{"100 Mbit/s", 100}), 1e-9)
	assert.Zero(t, uploadMicros(1250, link{"loopback only", 0}))
	ph := &phase{P50us: 400}
	assert.InDelta(t, 400+2000, feltMicros(ph, 2500, link{"10 Mbit/s", 10}), 1e-9)
}

func TestCrossover(t *testing.T) {
	sizes := []int{64, 512, 2048, 8192}
	nan := math.NaN()
	for _, tc := range []struct {
		name          string
		cookie, store []float64
		want          crossing
	}{
		// Between 512 (log2 9) and 2048 (log2 11) the difference goes
		// from -1 to +1: they meet half-way, at 2^10.
		{"between two sizes", []float64{1, 2, 4, 8}, []float64{3, 3, 3, 3}, crossing{"at", 1024, 3}},
		{"cookie faster throughout", []float64{1, 1, 1, 1}, []float64{2, 2, 2, 2}, crossing{Kind: "never"}},
		{"store faster throughout", []float64{3, 3, 3, 3}, []float64{2, 2, 2, 2}, crossing{Kind: "always"}},
		// Noise near the start: the store is ahead at 64 B, behind at
		// 512 B, ahead for good from 2048 B; the last crossing counts.
		// From 512 to 2048 B the difference goes from -1 to +3: a
		// quarter of the way, 2^9.5 B.
		{"last crossing", []float64{3, 1, 5, 9}, []float64{2, 2, 2, 2}, crossing{"at", math.Exp2(9.5), 2}},
		// The store failed at 2048 B: the crossing is interpolated
		// between 512 and 8192 B, where the difference goes from -1 to
		// +3: a quarter of the way on the log scale, 2^10.
		{"a failed size skipped", []float64{1, 2, 4, 8}, []float64{3, 3, nan, 5}, crossing{"at", 1024, 3.5}},
		{"cookie faster at the last size", []float64{1, 5, 5, 1}, []float64{2, 2, 2, 2}, crossing{Kind: "never"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := crossover(sizes, tc.cookie, tc.store)
			assert.Equal(t, tc.want.Kind, got.Kind)
			assert.InDelta(t, tc.want.At, got.At, 1e-6)
			assert.InDelta(t, tc.want.Y, got.Y, 1e-6)
		})
	}
}

func TestCrossingSays(t *testing.T) {
	assert.Equal(t, "≈ 700 B", crossing{Kind: "at", At: 700}.String())
	assert.Equal(t, "≈ 1.5 KB", crossing{Kind: "at", At: 1536}.String())
	assert.Equal(t, "≈ 2 KB", crossing{Kind: "at", At: 2048}.String())
	assert.Equal(t, "never", crossing{Kind: "never"}.String())
}

// TestCrossoverPerProtocol: the crossovers use each protocol's bytes on
// the wire. An unchanged cookie that HTTP/2 sends as an index costs no
// upload until it outgrows the table; HTTP/1.1 sends it whole.
func TestCrossoverPerProtocol(t *testing.T) {
	sizes := []int{64, 2048, 8192}
	res := &results{Plan: plan{Sizes: sizes}}
	add := func(name string, rtt int, p50 float64, h1, h2 []float64) {
		for i, size := range sizes {
			res.Rows = append(res.Rows, row{
				Impl: name, Size: size, RTTms: rtt,
				Phases: []phase{{Route: "read", Mode: "rate", Requests: 100, P50us: p50}},
				Wire:   []wireFigure{{Proto: "h1", Route: "read", UpB: h1[i]}, {Proto: "h2", Route: "read", UpB: h2[i]}},
			})
		}
	}
	add("cookiesession", 0, 1000, []float64{1000, 4000, 15000}, []float64{50, 50, 12000})
	add("scs-redis", 5, 7000, []float64{800, 800, 800}, []float64{50, 50, 50})
	st := storeAt{impl{"scs-redis", "redis"}, 5}
	mbit := link{"1 Mbit/s", 1}

	h1 := res.latencyCrossing("cookiesession", st, "read", "h1", mbit)
	require.Equal(t, "at", h1.Kind)
	assert.Less(t, h1.At, 2048.0, "1000 B up at 64 B of session is faster, 4000 B at 2 KB is not")
	h2 := res.latencyCrossing("cookiesession", st, "read", "h2", mbit)
	require.Equal(t, "at", h2.Kind)
	assert.Greater(t, h2.At, 2048.0, "indexed up to 2 KB")
	assert.Equal(t, "never", res.latencyCrossing("cookiesession", st, "read", "h2", link{"loopback", 0}).Kind)
}
