package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cookiesession/cookiesession"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLogoutsAreLimited: a client that logs a fresh session in and out in
// a loop adds at most the limiter's burst of entries at once, and is
// answered 429 beyond it.
func TestLogoutsAreLimited(t *testing.T) {
	list := cookiesession.NewMemoryRevocations()
	h, err := newHandler([][]byte{[]byte("logoutlimit-key-0001-use-GenerateSecret-instead")}, list, 0.001, 5)
	require.NoError(t, err)
	login := func() string {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "https://example.com/login", nil))
		return w.Result().Cookies()[0].String()
	}
	logout := func(cookie string) int {
		r := httptest.NewRequest(http.MethodPost, "https://example.com/logout", nil)
		r.Header.Set("Cookie", cookie)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	codes := map[int]int{}
	for range 50 {
		codes[logout(login())]++
	}
	assert.Equal(t, map[int]int{http.StatusOK: 5, http.StatusTooManyRequests: 45}, codes)
	assert.Equal(t, 5, list.Len(), "one entry per logout let through")
}
