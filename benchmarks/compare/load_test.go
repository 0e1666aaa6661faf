//go:build linux

package main

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// TestJarKeepsOneSessionPerClient loads a server with clients flat out,
// as a phase of the comparison does, and checks that each client kept a
// session of its own: its counter holds exactly the increments the
// server acknowledged to it, and no two clients share a cookie. The 8 KB
// cookiesession spans several cookies, which must stay together.
func TestJarKeepsOneSessionPerClient(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		size int
	}{{"cookiesession", 8192}, {"cookiesession-compact", 512}, {"scs-memstore", 512}} {
		t.Run(tc.name, func(t *testing.T) {
			base := serveImpl(t, tc.name, "", "")
			var w wire
			clients := make([]*client, 4)
			for i := range clients {
				clients[i] = newClient(&w, 1)
				defer clients[i].close()
				_, _, err := clients[i].do(ctx, http.MethodPost, base+"/grow?size="+strconv.Itoa(tc.size))
				require.NoError(t, err)
			}
			got := attack(ctx, clients, vegeta.Target{Method: http.MethodPost, URL: base + "/incr"}, 300*time.Millisecond, flatOut)
			assert.Zero(t, got.errors, got.firstErr)
			u, err := url.Parse(base)
			require.NoError(t, err)
			cookies := map[string]bool{}
			total := 0
			for i, c := range clients {
				n, size, err := c.do(ctx, http.MethodGet, base+"/read")
				require.NoError(t, err)
				assert.Positive(t, c.incrs, "client %d was served", i)
				assert.Equal(t, c.incrs, n, "client %d's counter holds its own acknowledged increments", i)
				assert.Equal(t, tc.size+len(strconv.Itoa(n))-1, size, "and its blob")
				total += c.incrs
				jar := c.http.Jar.Cookies(u)
				require.NotEmpty(t, jar)
				for _, ck := range jar {
					assert.False(t, cookies[ck.Value], "client %d shares a cookie with another", i)
					cookies[ck.Value] = true
				}
			}
			assert.Equal(t, total, len(got.latencies), "every success was one client's increment")
		})
	}
}

// TestOneClientLosesNothingOneRequestAtATime: the lost-update test counts
// what concurrency loses, not what the harness loses; with one request
// in flight nothing is lost.
func TestOneClientLosesNothingOneRequestAtATime(t *testing.T) {
	ctx := context.Background()
	base := serveImpl(t, "cookiesession", "", "")
	var w wire
	c := newClient(&w, 1)
	defer c.close()
	_, _, err := c.do(ctx, http.MethodPost, base+"/grow?size=64")
	require.NoError(t, err)
	acked, errs := sameJar(ctx, c, base+"/incr", 1, 50)
	assert.Equal(t, 50, acked)
	assert.Zero(t, errs)
	n, _, err := c.do(ctx, http.MethodGet, base+"/read")
	require.NoError(t, err)
	assert.Equal(t, 50, n)
	assert.Equal(t, int64(1+50+1), w.read().Requests, "grow, 50 increments, read: each request counted once")
}

func TestAtRateSpreadsTheClients(t *testing.T) {
	pace := atRate(400, 32)
	first, wait0 := pace(0)
	_, wait1 := pace(1)
	_, wait31 := pace(31)
	assert.Zero(t, wait0)
	assert.Equal(t, 80*time.Millisecond/32, wait1-wait0, "one request every 2.5 ms in all")
	assert.Equal(t, 31*80*time.Millisecond/32, wait31)
	assert.InDelta(t, 12.5, first.Rate(0), 1e-9, "each of 32 clients sends 400/32 a second")
}

func TestSamplesQuantile(t *testing.T) {
	s := &samples{}
	for i := 100; i >= 1; i-- {
		s.latencies = append(s.latencies, time.Duration(i)*time.Millisecond)
	}
	assert.Equal(t, 50*time.Millisecond, s.quantile(0.5))
	assert.Equal(t, 99*time.Millisecond, s.quantile(0.99))
	assert.Equal(t, time.Millisecond, s.quantile(0))
	assert.Equal(t, 100*time.Millisecond, s.quantile(1))
	assert.Zero(t, (&samples{}).quantile(0.5))
}
