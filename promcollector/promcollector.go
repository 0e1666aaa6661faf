// Package promcollector exposes what a cookiesession Manager counts
// (Manager.Counts) to prometheus/client_golang, for services that use it
// without OpenTelemetry (the otelmetrics module is the other way). It is a
// module of its own, so client_golang never reaches the library's go.mod,
// and OpenTelemetry never reaches this one's.
//
// A Collector reads the counts at each scrape: the request path pays
// nothing more than the Manager's own atomic adds, and the sizes are the
// Manager's own bucket counts, handed over as they are. Every series
// carries cookie_name, the Manager's cookie name (Manager.Name):
//
//	cookiesession_session_reads_total     counter    outcome (verified, migrated, no_cookie, refused), reason, secret_fingerprint
//	cookiesession_session_writes_total    counter    outcome (written, unchanged, deleted, too_large, failed)
//	cookiesession_cookies_written_total   counter
//	cookiesession_cookie_size_bytes       histogram  largest Set-Cookie line of each save that wrote (browsers keep 4096)
//	cookiesession_header_size_bytes       histogram  the session's share of each request's Cookie header (proxies take 8 KB)
//	cookiesession_secret_index            gauge      secret_fingerprint: 0 seals, 1 and on only verify, -1 removed
//	cookiesession_signing_since_seconds   gauge      when the first secret began sealing, Unix time
//
// A secret removed from force (Manager.ReplaceSecrets, WatchSecretsFile)
// keeps its series for the life of the process: its verified count stays
// at its last value and its cookiesession_secret_index becomes -1. A
// secret put back continues its count. So within one process a counter
// never goes down, and rate and increase read a rotation without a false
// reset; after a restart every count starts again from zero, as for any
// counter.
//
// The names are those OpenTelemetry's Prometheus exporter gives the
// otelmetrics instruments, so one set of dashboards and alerting rules
// (alerts/ in the repository) serves both.
package promcollector

import (
	"github.com/cookiesession/cookiesession"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector is a prometheus.Collector of one Manager's counts. Make it
// with New.
type Collector struct {
	m                         *cookiesession.Manager
	reads, writes, cookies    *prometheus.Desc
	lineSize, headerSize      *prometheus.Desc
	secretIndex, signingSince *prometheus.Desc
}

// New returns a Collector of m's counts, labelled with m's cookie name.
// Register it with a prometheus.Registerer, once per Manager.
func New(m *cookiesession.Manager) *Collector {
	labels := prometheus.Labels{"cookie_name": m.Name()}
	desc := func(name, help string, variable ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, variable, labels)
	}
	return &Collector{
		m: m,
		reads: desc("cookiesession_session_reads_total",
			"Sessions used by requests, by how their cookies were read: verified (by secret), migrated, no_cookie, or refused (by reason).",
			"outcome", "reason", "secret_fingerprint"),
		writes: desc("cookiesession_session_writes_total",
			"Saves of sessions, by outcome: written, unchanged, deleted, too_large or failed.", "outcome"),
		cookies: desc("cookiesession_cookies_written_total", "Cookies set by the saves that wrote."),
		lineSize: desc("cookiesession_cookie_size_bytes",
			"Size of the largest Set-Cookie line of each save that wrote, against the 4096 bytes browsers keep."),
		headerSize: desc("cookiesession_header_size_bytes",
			"The session's share of each request's Cookie header, against the 8 KB proxies accept for the whole field."),
		secretIndex: desc("cookiesession_secret_index",
			"Position of each secret in the secrets in force: 0 seals, 1 and on only verify, -1 removed while the process ran.",
			"secret_fingerprint"),
		signingSince: desc("cookiesession_signing_since_seconds",
			"When the first secret began sealing in this process, Unix time."),
	}
}

// Describe sends the descriptions of every series the Collector makes.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.reads, c.writes, c.cookies, c.lineSize, c.headerSize, c.secretIndex, c.signingSince} {
		ch <- d
	}
}

// Collect reads the Manager's counts and sends them.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counts := c.m.Counts()
	counter := func(d *prometheus.Desc, n uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for i, s := range counts.Secrets {
		counter(c.reads, s.Verified, "verified", "", s.Fingerprint)
		gauge(c.secretIndex, float64(i), s.Fingerprint)
	}
	for _, s := range counts.Removed {
		counter(c.reads, s.Verified, "verified", "", s.Fingerprint)
		gauge(c.secretIndex, -1, s.Fingerprint)
	}
	counter(c.reads, counts.Migrated, "migrated", "", "")
	counter(c.reads, counts.NoCookie, "no_cookie", "", "")
	for r, n := range counts.Refused {
		counter(c.reads, n, "refused", cookiesession.Refusal(r).String(), "")
	}
	for _, w := range []struct {
		outcome string
		n       uint64
	}{{"written", counts.Written}, {"unchanged", counts.Unchanged}, {"deleted", counts.Deleted},
		{"too_large", counts.TooLarge}, {"failed", counts.Failed}} {
		counter(c.writes, w.n, w.outcome)
	}
	counter(c.cookies, counts.Cookies)
	ch <- histogram(c.lineSize, counts.CookieLine, counts.CookieLineSum)
	ch <- histogram(c.headerSize, counts.CookieHeader, counts.CookieHeaderSum)
	if !counts.SigningSince.IsZero() {
		gauge(c.signingSince, float64(counts.SigningSince.UnixNano())/1e9)
	}
}

// histogram hands the Manager's buckets over as a Prometheus histogram:
// its buckets count each size once, Prometheus's count all sizes up to
// their bound; the last, unbounded one is +Inf, which the count gives.
func histogram(d *prometheus.Desc, buckets []cookiesession.Bucket, sum uint64) prometheus.Metric {
	cumulative := make(map[float64]uint64, len(buckets))
	total := uint64(0)
	for _, b := range buckets {
		total += b.Count
		if b.Le >= 0 {
			cumulative[float64(b.Le)] = total
		}
	}
	return prometheus.MustNewConstHistogram(d, total, float64(sum), cumulative)
}

// NewPending returns a collector of the gauge
// cookiesession_revocations_pending: the revocations this process has
// made and not yet shared, read from pending at each scrape. Give it the
// shared revocation list's count of revocations waiting to be written to
// Redis (and replicated, where the list waits for replicas); a gauge that
// stays above zero means other replicas still accept sessions this one
// revoked.
func NewPending(pending func() int) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cookiesession_revocations_pending",
		Help: "Revocations made by this process and not yet shared with the other replicas (written to Redis).",
	}, func() float64 { return float64(pending()) })
}
