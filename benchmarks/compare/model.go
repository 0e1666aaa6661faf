//go:build linux

package main

import (
	"fmt"
	"math"
	"strings"
)

// link is a client's upstream link in the model of the client's side of
// the wire.
type link struct {
	Name string
	Mbps float64 // upstream bit rate; 0 for none (the loopback alone)
}

// links are the upstream links the results are modelled on.
var links = []link{{"loopback only", 0}, {"100 Mbit/s up", 100}, {"10 Mbit/s up", 10}, {"1 Mbit/s up", 1}}

// uploadMicros is the model: the time to upload a request of the given
// bytes is bytes × 8 / the link's bit rate. Bits over Mbit/s are
// microseconds. The bytes are what the client wrote on its connection over
// TLS (measured, per protocol); the model leaves out TCP/IP headers,
// congestion windows and the round trips of a slow link.
func uploadMicros(requestBytes float64, l link) float64 {
	if l.Mbps == 0 {
		return 0
	}
	return requestBytes * 8 / l.Mbps
}

// feltMicros is the per-request time a user feels on link l: the median
// latency measured on loopback, plus the upload of the request's bytes on
// the wire.
func feltMicros(ph *phase, upB float64, l link) float64 {
	return ph.P50us + uploadMicros(upB, l)
}

// crossing is where a store starts to win over a cookie session, as the
// session grows.
type crossing struct {
	// Kind is "at" (between two sizes measured: the cookie is faster
	// below At), "never" (the cookie is faster at the largest size
	// measured) or "always" (the store is faster at every size).
	Kind string
	At   float64 // session bytes, interpolated
	Y    float64 // the two curves' value there, interpolated
}

// crossover finds the smallest size from which the store is faster at
// every larger size measured, and interpolates between it and the size
// before, on a log scale of size, where the two curves meet. Taking the
// last crossing, not the first, keeps noise where the two are close from
// reporting a crossover that a larger size undoes. A NaN (the store
// failed at that size) is skipped.
func crossover(sizes []int, cookie, store []float64) crossing {
	from := len(sizes)
	for i := len(sizes) - 1; i >= 0; i-- {
		if math.IsNaN(store[i]) || math.IsNaN(cookie[i]) {
			continue
		}
		if cookie[i] <= store[i] {
			break
		}
		from = i
	}
	switch {
	case from == len(sizes):
		return crossing{Kind: "never"}
	case from == 0:
		return crossing{Kind: "always"}
	}
	before := from - 1
	for before >= 0 && (math.IsNaN(store[before]) || math.IsNaN(cookie[before])) {
		before--
	}
	if before < 0 {
		return crossing{Kind: "always"}
	}
	d0, d1 := cookie[before]-store[before], cookie[from]-store[from] // d0 <= 0 < d1
	t := d0 / (d0 - d1)
	l0, l1 := math.Log2(float64(sizes[before])), math.Log2(float64(sizes[from]))
	return crossing{
		Kind: "at",
		At:   math.Exp2(l0 + t*(l1-l0)),
		Y:    cookie[before] + t*(cookie[from]-cookie[before]),
	}
}

// String says where the cookie session stops being the faster, for a
// table cell.
func (c crossing) String() string {
	switch c.Kind {
	case "never":
		return "never"
	case "always":
		return "always"
	}
	return "≈ " + bytesLabel(c.At)
}

// bytesLabel writes a size as "700 B", "1.3 KB" or "2 KB" (1 KB = 1024 B,
// as the sizes swept).
func bytesLabel(b float64) string {
	if b < 1000 {
		return fmt.Sprintf("%.0f B", b)
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", b/1024), ".0") + " KB"
}
