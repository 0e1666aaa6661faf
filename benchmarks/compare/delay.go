//go:build linux

package main

import (
	"fmt"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// delayProxy moves a store away: a TCP proxy on loopback that adds a
// round-trip time to every exchange with the upstream server.
//
// It is Shopify's toxiproxy, run as a library in this process, with its
// latency toxic: a well-kept proxy whose delay is timed per chunk from
// when the chunk arrived, so that data in flight is not held up twice.
// The toxic counts whole milliseconds, one way: the added round trip is
// split into the request's way (rounded up) and the answer's way.
type delayProxy struct {
	proxy *toxiproxy.Proxy
	// Addr is where clients connect instead of the upstream server.
	Addr string
}

// startDelayProxy starts a proxy to upstream that adds rtt, a whole number
// of milliseconds, to each round trip.
func startDelayProxy(upstream string, rtt time.Duration) (*delayProxy, error) {
	if rtt < 0 || rtt%time.Millisecond != 0 {
		return nil, fmt.Errorf("delay proxy: %s is not a whole number of milliseconds", rtt)
	}
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(server, "store", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("delay proxy to %s: %w", upstream, err)
	}
	if rtt > 0 {
		toxic := fmt.Sprintf(`{"type":"latency","stream":"upstream","attributes":{"latency":%d}}`, rtt.Milliseconds())
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
			p.Stop()
			return nil, fmt.Errorf("delay proxy to %s: %w", upstream, err)
		}
	}
	return &delayProxy{proxy: p, Addr: p.Listen}, nil
}

// stop closes the proxy's listener and every connection through it.
func (d *delayProxy) stop() error {
	d.proxy.Stop()
	return nil
}
