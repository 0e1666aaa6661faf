// Package otelmetrics exports what a cookiesession Manager counts
// (Manager.Counts) to OpenTelemetry, so that refused cookies, a
// rotation's progress and sessions nearing the 4 KB limit show on an
// operator's dashboards. It is a module of its own, so OpenTelemetry never
// reaches the library's go.mod, and prometheus/client_golang never reaches
// this one's (the promcollector module is the client_golang way).
//
// Register creates asynchronous instruments that read the counts when the
// SDK collects; NewProducer hands the Manager's size histograms to a
// reader as they are, bucket counts and sum, for the OpenTelemetry API has
// no asynchronous histogram. Either way the request path pays nothing more
// than the Manager's own atomic adds. Names follow OpenTelemetry's
// semantic-convention style (dotted, lower case, the unit in UCUM form):
//
//	cookiesession.session.reads     counter    {session}  outcome, reason, secret.fingerprint
//	cookiesession.session.writes    counter    {save}     outcome
//	cookiesession.cookies.written   counter    {cookie}
//	cookiesession.secret.index      gauge                 secret.fingerprint: 0 seals, 1 and on only verify, -1 removed
//	cookiesession.signing.since     gauge      s          when the first secret began sealing, Unix time
//	cookiesession.cookie.size       histogram  By         largest Set-Cookie line of each save that wrote (NewProducer)
//	cookiesession.header.size       histogram  By         the session's share of each request's Cookie header (NewProducer)
//	cookiesession.revocations.pending gauge    {revocation}  revocations not yet shared (RegisterPending)
//
// Every instrument but the last carries cookie.name, the Manager's cookie
// name (Manager.Name). A secret is named by its fingerprint, not its
// index, which changes as secrets rotate; a secret removed from force
// keeps its series for the life of the process, at its last count, with
// index -1, and one put back continues its count, so no counter goes down
// within a process. Through OpenTelemetry's Prometheus exporter the names
// become those of the promcollector module (cookiesession_session_reads_total,
// cookiesession_cookie_size_bytes_bucket, …), so one set of dashboards and
// alerting rules serves both.
package otelmetrics

import (
	"context"
	"time"

	"github.com/cookiesession/cookiesession"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// scope names what this package produces.
const scope = "github.com/cookiesession/cookiesession/otelmetrics"

// Register creates the instruments on meter and registers one callback
// that reads m's counts at each collection; every instrument carries m's
// cookie name. Give NewProducer to the reader as well for the sizes.
// Unregister the returned registration to stop.
func Register(meter metric.Meter, m *cookiesession.Manager) (metric.Registration, error) {
	reads, err := meter.Int64ObservableCounter("cookiesession.session.reads", metric.WithUnit("{session}"),
		metric.WithDescription("Sessions used by requests, by how their cookies were read: verified (by secret), migrated, no_cookie, or refused (by reason)."))
	if err != nil {
		return nil, err
	}
	writes, err := meter.Int64ObservableCounter("cookiesession.session.writes", metric.WithUnit("{save}"),
		metric.WithDescription("Saves of sessions, by outcome: written, unchanged, deleted, too_large or failed."))
	if err != nil {
		return nil, err
	}
	cookies, err := meter.Int64ObservableCounter("cookiesession.cookies.written", metric.WithUnit("{cookie}"),
		metric.WithDescription("Cookies set by the saves that wrote."))
	if err != nil {
		return nil, err
	}
	index, err := meter.Int64ObservableGauge("cookiesession.secret.index",
		metric.WithDescription("Position of each secret in the secrets in force: 0 seals, 1 and on only verify, -1 removed while the process ran."))
	if err != nil {
		return nil, err
	}
	since, err := meter.Float64ObservableGauge("cookiesession.signing.since", metric.WithUnit("s"),
		metric.WithDescription("When the first secret began sealing in this process, Unix time."))
	if err != nil {
		return nil, err
	}
	name := attribute.String("cookie.name", m.Name())
	return meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		c := m.Counts()
		obs := func(inst metric.Int64Observable, n int64, attrs ...attribute.KeyValue) {
			o.ObserveInt64(inst, n, metric.WithAttributes(append(attrs, name)...))
		}
		verified := attribute.String("outcome", "verified")
		for i, s := range c.Secrets {
			fp := attribute.String("secret.fingerprint", s.Fingerprint)
			obs(reads, int64(s.Verified), verified, fp)
			obs(index, int64(i), fp)
		}
		for _, s := range c.Removed {
			fp := attribute.String("secret.fingerprint", s.Fingerprint)
			obs(reads, int64(s.Verified), verified, fp)
			obs(index, -1, fp)
		}
		obs(reads, int64(c.Migrated), attribute.String("outcome", "migrated"))
		obs(reads, int64(c.NoCookie), attribute.String("outcome", "no_cookie"))
		for r, n := range c.Refused {
			obs(reads, int64(n), attribute.String("outcome", "refused"), attribute.String("reason", cookiesession.Refusal(r).String()))
		}
		for outcome, n := range map[string]uint64{"written": c.Written, "unchanged": c.Unchanged, "deleted": c.Deleted, "too_large": c.TooLarge, "failed": c.Failed} {
			obs(writes, int64(n), attribute.String("outcome", outcome))
		}
		obs(cookies, int64(c.Cookies))
		if !c.SigningSince.IsZero() {
			o.ObserveFloat64(since, float64(c.SigningSince.UnixNano())/1e9, metric.WithAttributes(name))
		}
		return nil
	}, reads, writes, cookies, index, since)
}

// producer hands a Manager's size histograms to a reader.
type producer struct {
	m     *cookiesession.Manager
	start time.Time
}

// NewProducer returns a Producer of m's two size histograms,
// cookiesession.cookie.size and cookiesession.header.size, with cumulative
// temporality: at each collection it reads the Manager's own bucket
// counts and sum, so nothing is aggregated twice and the request path
// pays nothing for it. Give it to the reader that exports the other
// instruments, with sdkmetric.WithProducer (a periodic or manual reader)
// or the Prometheus exporter's WithProducer. The series start when the
// producer is made; make it with the Manager.
func NewProducer(m *cookiesession.Manager) sdkmetric.Producer {
	return &producer{m: m, start: time.Now()}
}

// Produce returns the histograms as they stand.
func (p *producer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	c := p.m.Counts()
	now := time.Now()
	attrs := attribute.NewSet(attribute.String("cookie.name", p.m.Name()))
	histogram := func(name, description string, buckets []cookiesession.Bucket, sum uint64) metricdata.Metrics {
		dp := metricdata.HistogramDataPoint[int64]{Attributes: attrs, StartTime: p.start, Time: now, Sum: int64(sum)}
		for _, b := range buckets {
			dp.Count += b.Count
			dp.BucketCounts = append(dp.BucketCounts, b.Count) // each size once, as OpenTelemetry counts
			if b.Le >= 0 {
				dp.Bounds = append(dp.Bounds, float64(b.Le))
			}
		}
		return metricdata.Metrics{Name: name, Description: description, Unit: "By", Data: metricdata.Histogram[int64]{
			Temporality: metricdata.CumulativeTemporality, DataPoints: []metricdata.HistogramDataPoint[int64]{dp},
		}}
	}
	return []metricdata.ScopeMetrics{{
		Scope: instrumentation.Scope{Name: scope},
		Metrics: []metricdata.Metrics{
			histogram("cookiesession.cookie.size", "Size of the largest Set-Cookie line of each save that wrote, against the 4096 bytes browsers keep.",
				c.CookieLine, c.CookieLineSum),
			histogram("cookiesession.header.size", "The session's share of each request's Cookie header, against the 8 KB proxies accept for the whole field.",
				c.CookieHeader, c.CookieHeaderSum),
		},
	}}, nil
}

// RegisterPending creates the gauge cookiesession.revocations.pending on
// meter: the revocations this process has made and not yet shared with
// the other replicas, read from pending at each collection. Give it the
// shared revocation list's count of revocations waiting to be written to
// Redis; a gauge that stays above zero means other replicas still accept
// sessions this one revoked.
func RegisterPending(meter metric.Meter, pending func() int) (metric.Registration, error) {
	gauge, err := meter.Int64ObservableGauge("cookiesession.revocations.pending", metric.WithUnit("{revocation}"),
		metric.WithDescription("Revocations made by this process and not yet shared with the other replicas (written to Redis)."))
	if err != nil {
		return nil, err
	}
	return meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(gauge, int64(pending()))
		return nil
	}, gauge)
}
