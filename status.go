package cookiesession

import (
	"encoding/json"
	"net/http"
	"time"
)

// StatusHandler returns a handler that serves, as JSON, what m counts
// (Counts) and the state of each secret in force: its fingerprint, its
// counts, and SafeToRemove's answer for quiet with its reason; then the
// secrets removed while m ran, with their last counts. Secrets appear by
// fingerprint only, never themselves.
//
// Mount it on an internal or admin listener, never on the public mux:
// the counts tell an outsider how many sessions the service refuses and
// when its secrets changed, and a fingerprint lets whoever sees it test
// guesses of a guessable secret (see SecretFingerprint). It answers GET
// and HEAD; the figures are this process's (see SafeToRemove).
func (m *Manager) StatusHandler(quiet time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := json.MarshalIndent(m.status(quiet), "", "  ")
		if err != nil { // only values encoding/json always encodes
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(append(body, '\n'))
	})
}

// status is what StatusHandler serves; its JSON names are part of the
// handler's contract.
type status struct {
	Cookie       string          `json:"cookie"`
	Time         time.Time       `json:"time"`
	SigningSince time.Time       `json:"signing_since"`
	Quiet        string          `json:"quiet"`
	Secrets      []secretStatus  `json:"secrets"`
	Removed      []secretStatus  `json:"removed_secrets"`
	Reads        readStatus      `json:"reads"`
	Writes       writeStatus     `json:"writes"`
	InvalidUTF8  uint64          `json:"invalid_utf8"`
	Sizes        map[string]size `json:"sizes"`
}

type secretStatus struct {
	Index        *int       `json:"index,omitempty"` // nil for a removed secret
	Fingerprint  string     `json:"fingerprint"`
	Verified     uint64     `json:"verified"`
	Recent       uint64     `json:"verified_last_hour"`
	LastVerified *time.Time `json:"last_verified"`
	SafeToRemove *bool      `json:"safe_to_remove,omitempty"`
	Reason       string     `json:"reason,omitempty"`
}

type readStatus struct {
	Migrated uint64            `json:"migrated"`
	NoCookie uint64            `json:"no_cookie"`
	Refused  map[string]uint64 `json:"refused"` // by Refusal.String
}

type writeStatus struct {
	Written   uint64 `json:"written"`
	Cookies   uint64 `json:"cookies"`
	Unchanged uint64 `json:"unchanged"`
	Deleted   uint64 `json:"deleted"`
	TooLarge  uint64 `json:"too_large"`
	Failed    uint64 `json:"failed"`
}

type size struct {
	Buckets []bucketStatus `json:"buckets"`
	Sum     uint64         `json:"sum"`
}

type bucketStatus struct {
	Le    int    `json:"le"` // -1: no bound
	Count uint64 `json:"count"`
}

func (m *Manager) status(quiet time.Duration) status {
	set := m.secrets.Load() // one set for the counts and the answers
	c := m.counts(set)
	st := status{
		Cookie:       m.name,
		Time:         m.now().UTC(),
		SigningSince: c.SigningSince.UTC(),
		Quiet:        quiet.String(),
		Secrets:      make([]secretStatus, len(c.Secrets)),
		Removed:      make([]secretStatus, len(c.Removed)),
		Reads:        readStatus{Migrated: c.Migrated, NoCookie: c.NoCookie, Refused: map[string]uint64{}},
		Writes: writeStatus{Written: c.Written, Cookies: c.Cookies, Unchanged: c.Unchanged,
			Deleted: c.Deleted, TooLarge: c.TooLarge, Failed: c.Failed},
		InvalidUTF8: c.InvalidUTF8,
		Sizes: map[string]size{
			"cookie_line":   sizeStatus(c.CookieLine, c.CookieLineSum),
			"cookie_header": sizeStatus(c.CookieHeader, c.CookieHeaderSum),
		},
	}
	for r, n := range c.Refused {
		st.Reads.Refused[Refusal(r).String()] = n
	}
	for i, s := range c.Secrets {
		ok, why := m.safeToRemove(set, i, quiet)
		st.Secrets[i] = secretStatusOf(s)
		st.Secrets[i].Index, st.Secrets[i].SafeToRemove, st.Secrets[i].Reason = &i, &ok, why
	}
	for i, s := range c.Removed {
		st.Removed[i] = secretStatusOf(s)
	}
	return st
}

func secretStatusOf(s SecretCounts) secretStatus {
	st := secretStatus{Fingerprint: s.Fingerprint, Verified: s.Verified, Recent: s.Recent}
	if !s.LastVerified.IsZero() {
		last := s.LastVerified.UTC()
		st.LastVerified = &last
	}
	return st
}

func sizeStatus(buckets []Bucket, sum uint64) size {
	s := size{Buckets: make([]bucketStatus, len(buckets)), Sum: sum}
	for i, b := range buckets {
		s.Buckets[i] = bucketStatus(b)
	}
	return s
}
