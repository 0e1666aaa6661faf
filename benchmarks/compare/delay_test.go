//go:build linux

package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoServer answers every connection with what it sends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrips times n one-byte exchanges over a connection to addr.
func roundTrips(t *testing.T, addr string, n int) *samples {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	s := &samples{}
	buf := []byte{0}
	for range n {
		start := time.Now()
		_, err := c.Write(buf)
		require.NoError(t, err)
		_, err = io.ReadFull(c, buf)
		require.NoError(t, err)
		s.latencies = append(s.latencies, time.Since(start))
	}
	return s
}

func TestDelayProxyAddsTheRoundTripAskedFor(t *testing.T) {
	echo := echoServer(t)
	direct := roundTrips(t, echo, 30).quantile(0.5)
	for _, rtt := range []time.Duration{time.Millisecond, 5 * time.Millisecond} {
		t.Run(rtt.String(), func(t *testing.T) {
			proxy, err := startDelayProxy(echo, rtt)
			require.NoError(t, err)
			defer proxy.stop()
			s := roundTrips(t, proxy.Addr, 30)
			assert.GreaterOrEqual(t, s.quantile(0), rtt, "no round trip is quicker than the delay")
			// Go's timers wake up to a millisecond late on an idle
			// machine, less when busy: the report prints what was measured.
			added := s.quantile(0.5) - direct
			assert.Less(t, added, rtt+time.Millisecond, "median round trip %s, direct %s", s.quantile(0.5), direct)
		})
	}
}

func TestDelayProxyPassesDataUnchanged(t *testing.T) {
	proxy, err := startDelayProxy(echoServer(t), 2*time.Millisecond)
	require.NoError(t, err)
	defer proxy.stop()
	c, err := net.Dial("tcp", proxy.Addr)
	require.NoError(t, err)
	defer c.Close()
	sent := make([]byte, 256<<10)
	_, _ = rand.Read(sent)
	go func() { _, _ = c.Write(sent) }()
	got := make([]byte, len(sent))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(sent, got), "the bytes came back in order and whole")
}

func TestDelayProxyRefusesPartsOfAMillisecond(t *testing.T) {
	_, err := startDelayProxy("127.0.0.1:1", 1500*time.Microsecond)
	assert.ErrorContains(t, err, "whole number of milliseconds")
}
