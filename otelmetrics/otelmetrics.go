// Package otelmetrics exports what a cookiesession Manager counts
// (Manager.Counts) as OpenTelemetry instruments, so that refused cookies,
// a rotation's progress and sessions nearing the 4 KB limit show on an
// operator's dashboards. It is a module of its own, so OpenTelemetry never
// reaches the library's go.mod.
//
// The instruments are asynchronous: they read the counts when the SDK
// collects, and the request path pays nothing more than the Manager's own
// atomic adds. Names follow OpenTelemetry's semantic-convention style
// (dotted, lower case, the unit in UCUM annotation form):
//
//	cookiesession.session.reads    {session}  outcome, reason, secret.fingerprint
//	cookiesession.session.writes   {save}     outcome
//	cookiesession.cookies.written  {cookie}
//	cookiesession.cookie.size      {save}     size.le: largest Set-Cookie line at most that many bytes
//	cookiesession.header.size      {request}  size.le: session's share of the Cookie header, likewise
//
// Every instrument carries cookie.name, the Manager's cookie name. A secret
// is named by its fingerprint, not its index, which changes as secrets
// rotate; the size counts are cumulative, as Prometheus's le buckets are
// (size.le "+Inf" counts all).
package otelmetrics

import (
	"context"
	"strconv"

	"github.com/cookiesession/cookiesession"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Register creates the instruments on meter and registers one callback
// that reads m's counts at each collection. cookie names the Manager in
// the cookie.name attribute (its Options.Name). Unregister the returned
// registration to stop.
func Register(meter metric.Meter, m *cookiesession.Manager, cookie string) (metric.Registration, error) {
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
	lineSize, err := meter.Int64ObservableCounter("cookiesession.cookie.size", metric.WithUnit("{save}"),
		metric.WithDescription("Saves that wrote, by the size of their largest Set-Cookie line: at most size.le bytes (against the 4096 browsers keep; size.le \"+Inf\" counts them all)."))
	if err != nil {
		return nil, err
	}
	headerSize, err := meter.Int64ObservableCounter("cookiesession.header.size", metric.WithUnit("{request}"),
		metric.WithDescription("Requests with a session cookie, by its share of the Cookie header: at most size.le bytes (against the 8 KB proxies accept; size.le \"+Inf\" counts them all)."))
	if err != nil {
		return nil, err
	}
	name := attribute.String("cookie.name", cookie)
	return meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		c := m.Counts()
		obs := func(inst metric.Int64Observable, n uint64, attrs ...attribute.KeyValue) {
			o.ObserveInt64(inst, int64(n), metric.WithAttributes(append(attrs, name)...))
		}
		for _, s := range c.Secrets {
			obs(reads, s.Verified, attribute.String("outcome", "verified"), attribute.String("secret.fingerprint", s.Fingerprint))
		}
		obs(reads, c.Migrated, attribute.String("outcome", "migrated"))
		obs(reads, c.NoCookie, attribute.String("outcome", "no_cookie"))
		for r, n := range c.Refused {
			obs(reads, n, attribute.String("outcome", "refused"), attribute.String("reason", cookiesession.Refusal(r).String()))
		}
		for outcome, n := range map[string]uint64{"written": c.Written, "unchanged": c.Unchanged, "deleted": c.Deleted, "too_large": c.TooLarge, "failed": c.Failed} {
			obs(writes, n, attribute.String("outcome", outcome))
		}
		obs(cookies, c.Cookies)
		cumulative(c.CookieLine, func(le string, n uint64) { obs(lineSize, n, attribute.String("size.le", le)) })
		cumulative(c.CookieHeader, func(le string, n uint64) { obs(headerSize, n, attribute.String("size.le", le)) })
		return nil
	}, reads, writes, cookies, lineSize, headerSize)
}

// cumulative calls f with each bucket's bound and the observations at most
// that large, the last bound "+Inf".
func cumulative(buckets []cookiesession.Bucket, f func(le string, n uint64)) {
	total := uint64(0)
	for _, b := range buckets {
		total += b.Count
		le := "+Inf"
		if b.Le >= 0 {
			le = strconv.Itoa(b.Le)
		}
		f(le, total)
	}
}
