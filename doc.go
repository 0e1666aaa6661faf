// Package cookiesession keeps HTTP sessions entirely in the client's
// cookies, encrypted and signed, so a service needs no session store: every
// replica that holds the secrets reads every session.
//
// A [Manager] is built once with [New]; its [Manager.Middleware] gives each
// request a [Session], found with [Manager.FromContext]:
//
//	secrets, err := cookiesession.SecretsFromEnv("COOKIESESSION_SECRETS")
//	...
//	sessions, err := cookiesession.New(cookiesession.Options{Secrets: secrets})
//	...
//	http.ListenAndServe(addr, http.NewCrossOriginProtection().Handler(sessions.Middleware(mux)))
//
//	func handler(w http.ResponseWriter, r *http.Request) {
//		s := sessions.FromContext(r.Context())
//		visits, _ := cookiesession.Value[int](s, "visits")
//		s.Set("visits", visits+1)
//	}
//
// Values are stored as JSON and read back into the caller's type with
// [Value]. The session also carries an ID, its creation time, an absolute
// expiry and (with an idle timeout) its last activity, all inside the
// sealed payload and checked on every read. Without net/http, use
// [Manager.LoadHeader] and [Manager.SaveHeader].
//
// The examples show the first thing each user does: the middleware
// ([Manager.Middleware]), a login with "remember me"
// ([Session.SetTransient]), rotating secrets (the rotation example of
// [Options]) and revoking sessions ([Manager.RevokeSubject]).
//
// # Cross-site request forgery
//
// Every request the browser makes to the site carries the session cookie.
// SameSite=Lax, the default, keeps it off cross-site posts, but not off
// requests from a sibling subdomain; wrap the handler with
// net/http's CrossOriginProtection, as above.
//
// # What is sent, and when
//
// The cookie is decoded only when a handler first uses the session, and a
// Set-Cookie header is sent only when the session changed, was destroyed or
// renewed, was sealed with an older secret, or its idle window needs renewing.
// A cookie that is missing, tampered with, sealed with an unknown secret,
// expired or otherwise invalid gives the handler a new empty session, and
// the response clears the bad cookies.
//
// # Size
//
// Browsers drop a cookie over about 4 KB silently. The Manager counts every
// cookie it writes against Options.MaxCookieSize (4096 bytes for the whole
// Set-Cookie line) and returns [ErrTooLarge], with a [*SizeError] naming the
// sizes, rather than write one the browser would drop. With
// Options.MaxChunks above 1 a large session is split across several
// cookies, and cookies it no longer needs are deleted. Sessions of up to 16
// cookies are read whatever MaxChunks is, so it can change one replica at a
// time.
//
// # Secrets
//
// Options.Secrets lists secrets newest first, each at least 32 random bytes
// ([GenerateSecret]). Sub-keys for each purpose are derived with HKDF-SHA256.
// The first seals; every one opens; a cookie opened by an older one is
// re-issued with the first. The default format, [FormatCompact], seals with
// XChaCha20-Poly1305 and authenticates the cookie name with it;
// [FormatSecureCookie] is gorilla/securecookie's (AES-256-CTR, then
// HMAC-SHA256 over the cookie name and the ciphertext), for sharing cookies
// with it, and holds a quarter less per cookie;
// [FormatSignOnly] lets the client read but not change the session; and
// [FormatExpress] shares sessions with Express's cookie-session. Any
// [Format] may be given: the sub-packages format/iron (iron-session) and
// format/authjs (Auth.js, next-auth) share a login with a Next.js or Node
// application, while chunking, rotation, expiry and revocation stay the
// Manager's.
//
// # Revocation
//
// A copied cookie stays valid until it expires, unless it is revoked.
// With Options.Revocations set to a [RevocationList],
// [Manager.RevokeSession] logs one session out everywhere,
// [Manager.RevokeSubject] every session of a user (see
// [Session.SetSubject]) and [Manager.RevokeAll] everyone. The check runs
// from memory on every request that uses a session; the redisrevocation
// module shares the list between replicas through Redis.
//
// # Operations and migration
//
// [Manager.Counts] reports what the Manager did (sessions read by outcome
// and by secret, cookies refused by [Refusal], saves, cookie sizes); the
// otelmetrics module exports them as OpenTelemetry instruments.
// [Manager.WatchSecretsFile] keeps the secrets current from a file, and
// [Manager.SafeToRemove] says when an old secret may go. [Manager.Inspect]
// decodes a cookie for debugging, as the cookiesession command's inspect
// does. Options.Gorilla reads the cookies of gorilla/sessions'
// CookieStore, and [FormatExpress] those of Express's cookie-session, so
// moving to this package logs nobody out.
//
// # Modules
//
// This module requires only gorilla/securecookie and golang.org/x/crypto.
// What needs more lives in modules of its own, released with it:
// github.com/cookiesession/cookiesession/redisrevocation (a
// [RevocationList] on Redis) and
// github.com/cookiesession/cookiesession/otelmetrics (the counts as
// OpenTelemetry instruments).
package cookiesession
