package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoad drives the demo site on loopback with 64 concurrent clients,
// each with its own cookie jar, for a fixed number of requests. Every
// client's visit counter must equal its request count: no errors, no lost
// updates. Skipped with -short.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: run without -short")
	}
	const clients, requests = 64, 40
	h, err := newDemo(cookiesession.Options{Secrets: [][]byte{[]byte(keyNew)}})
	require.NoError(t, err)
	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	transport := srv.Client().Transport.(*http.Transport)
	transport.MaxIdleConnsPerHost = clients

	visits := regexp.MustCompile(`<strong id="visits">(\d+)</strong>`)
	errs := make(chan error, clients)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jar, _ := cookiejar.New(nil)
			client := &http.Client{Transport: transport, Jar: jar, Timeout: 30 * time.Second}
			for i := 1; i <= requests; i++ {
				resp, err := client.Get(srv.URL + "/")
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				m := visits.FindSubmatch(body)
				if resp.StatusCode != http.StatusOK || m == nil {
					errs <- fmt.Errorf("client %d request %d: status %d", c, i, resp.StatusCode)
					return
				}
				if n, _ := strconv.Atoi(string(m[1])); n != i {
					errs <- fmt.Errorf("client %d: request %d counted %d: an update was lost", c, i, n)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	elapsed := time.Since(start)
	for err := range errs {
		assert.NoError(t, err)
	}
	t.Logf("%d clients x %d requests in %v: %.0f requests/s", clients, requests, elapsed.Round(time.Millisecond),
		float64(clients*requests)/elapsed.Seconds())
}
