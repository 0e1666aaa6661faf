package cookiesession

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/securecookie"
)

// Defaults applied by [New] to zero fields of [Options].
const (
	defaultName   = "session"
	defaultMaxAge = 24 * time.Hour
)

// maxCookieLifetime is the longest Max-Age browsers honour (RFC 6265bis
// caps cookie lifetime at 400 days); a longer session would outlive its
// cookie without anyone noticing.
const maxCookieLifetime = 400 * 24 * time.Hour

// Options configures a [Manager]. The zero value of every field but Secrets is
// a safe default: a cookie named "session", HttpOnly, Secure,
// SameSite=Lax, Path=/, encrypted and signed, valid for 24 hours, in one
// cookie of at most 4096 bytes.
type Options struct {
	// Secrets are what the cookies are sealed with, newest first, each
	// at least 32 random bytes; see GenerateSecret and SecretsFromEnv. The
	// first seals every cookie written; every secret opens cookies. A
	// cookie that only an older secret opens is re-issued with the first on
	// the same response. Anyone who has or guesses a secret can forge
	// sessions.
	Secrets [][]byte

	// Name is the cookie name, "session" by default. Chunks are named
	// Name.1, Name.2 and so on. A name starting with "__Host-" makes the
	// browser enforce Secure, Path=/ and no Domain, which New checks too;
	// it is the safest choice for production.
	Name string

	// Path scopes the cookie to a path prefix, "/" by default.
	Path string

	// Domain, when set, shares the cookie with every subdomain of it; by
	// default the cookie stays with the exact host that set it. A shared
	// domain lets any subdomain read the session and set cookies of its
	// name (cookie tossing, which a __Host- name rules out); set it only
	// when the subdomains must share the session.
	Domain string

	// Insecure drops the Secure attribute, so the cookie is also sent over
	// plain HTTP. Chromium and Firefox keep Secure cookies from
	// http://localhost, so local development works there without it;
	// Safari and other WebKit browsers drop them, so test locally over
	// HTTPS or set Insecure in development only. Behind a proxy that
	// terminates TLS, keep Secure: the browser sees HTTPS.
	Insecure bool

	// ScriptAccess drops the HttpOnly attribute, so page scripts can read
	// the cookie. New refuses it with the encrypted formats, where scripts
	// could not read the session but any injected script could copy it.
	ScriptAccess bool

	// SameSite defaults to http.SameSiteLaxMode, which keeps the cookie off
	// cross-site subrequests and POSTs (a CSRF defence). SameSiteNoneMode
	// requires Secure.
	SameSite http.SameSite

	// Partitioned sets the Partitioned attribute (CHIPS), for sessions in
	// third-party iframes. It requires Secure.
	Partitioned bool

	// MaxAge is the absolute lifetime of a session from its creation (or
	// its last Renew), 24 hours by default, 400 days at most. It is
	// enforced from the time inside the sealed payload, not from the
	// cookie's Max-Age, so a client that keeps the cookie longer gains
	// nothing. Session.SetMaxAge overrides it for one session, except
	// where its doc says: with revocation on, a format whose cookies
	// carry no creation time takes it as the expiry less MaxAge, so there
	// changing MaxAge refuses the live sessions sealed for longer than the
	// new one (counted as revoked) and makes the others look older.
	MaxAge time.Duration

	// IdleTimeout, when set, ends a session that has not been used for
	// that long. Activity is recorded (and the cookie re-sent) at most once
	// per tenth of IdleTimeout, so the effective window lies between 90%
	// and 100% of it, and responses in between carry no Set-Cookie. Only
	// requests whose handler touches the session count as activity.
	IdleTimeout time.Duration

	// Transient makes the cookie last only until the browser closes (no
	// Max-Age), as for a "remember me" box left unticked. MaxAge and
	// IdleTimeout still apply. Session.SetTransient overrides it for one
	// session.
	Transient bool

	// Format selects how the session is sealed: FormatCompact (the
	// default), FormatSecureCookie, FormatSignOnly or FormatExpress, or the
	// format of another stack from a sub-package of format/. Managers of
	// the two encrypted formats read each other's cookies and re-issue
	// them in their own format.
	Format Format

	// Compress deflates the session JSON before sealing it, when that
	// makes it smaller. Off by default: when a session holds a secret
	// (a CSRF token, say) next to data an attacker can influence, the
	// length of the compressed cookie tells the attacker whether a guess
	// matched part of the secret (the CRIME/BREACH attacks). Turn it on
	// only for sessions without such a mix. Managers with and without
	// it read each other's cookies.
	Compress bool

	// MaxChunks is how many cookies one session may span when written, 1
	// by default (no chunking), 16 at most. A session too large for them
	// is an ErrTooLarge error, never a cookie the browser would drop. Every
	// chunk travels on every request, and proxies limit the whole Cookie
	// header (nginx and Apache to 8 KB), so keep this small. Sessions of up
	// to 16 cookies are read whatever MaxChunks is, so that changing it
	// one replica at a time logs nobody out.
	MaxChunks int

	// MaxCookieSize is the per-cookie budget in bytes: the whole
	// Set-Cookie line after the header name, attributes included, 4096
	// by default and at most: that fits every current browser, and New
	// refuses more. Lower it to leave room for other cookies under a
	// proxy's header limit. Cookies of up to 4096 bytes are read whatever
	// it is.
	MaxCookieSize int

	// NotBefore, when set, rejects every session created (or last renewed)
	// before it: a kill switch that logs everyone out without rotating
	// keys, fixed at start-up. Manager.RevokeAll does the same at run time
	// through Revocations. A format whose cookies carry no creation time
	// (LacksCreated) needs MaxAge set for either, as the lifetime both
	// applications seal every session with: Session.SetMaxAge with another
	// fails the save, and a session read with an expiry more than MaxAge
	// (and a minute) ahead is refused.
	NotBefore time.Time

	// Revocations, when set, is asked about every verified session and
	// rejects those it lists: see Manager.RevokeSession, RevokeSubject and
	// RevokeAll. NewMemoryRevocations serves one replica; with several,
	// use a shared list such as the redisrevocation module's, which keeps
	// a copy in each replica's memory so that no request waits on the
	// network. It is asked at most once per request, and only for requests
	// that use the session.
	Revocations RevocationList

	// Gorilla, when set, also reads the cookies of a gorilla/sessions
	// CookieStore with these keys, converts each to a session of this
	// Manager and re-issues it in Format on the same response, so moving
	// from gorilla/sessions logs nobody out. Keep it until every such
	// cookie has expired (the store's MaxAge).
	Gorilla *GorillaCookies

	// ErrorHandler is called by Middleware when the session cannot be
	// saved, before any header has been written, typically with an
	// ErrTooLarge error. The default logs the error and answers 500.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Logger receives rejected cookies (at debug level, with the reason,
	// never the contents), their summary (at warning level) and save
	// errors. It defaults to slog.Default().
	Logger *slog.Logger

	// RefusalSummary is how often, at most, one warning sums up the
	// cookies refused since the last one, by reason (see Refusal), with a
	// hint where the counts suggest a cause: one minute by default; a
	// negative value turns it off. The warning is written one such period
	// after the first refusal it counts, whatever traffic follows. Each refused cookie is also logged at
	// debug level, and all are counted (Manager.Counts).
	RefusalSummary time.Duration
}

// Manager reads and writes sessions for one cookie configuration. It is
// safe for concurrent use; create it once with [New].
type Manager struct {
	name      string
	format    Format        // as configured, for reports
	builtin   BuiltinFormat // the format, unless foreign
	foreign   bool          // not a BuiltinFormat: sealed through the secret set's Sealer
	traits    Traits
	secrets   atomic.Pointer[secretSet]
	replacing sync.Mutex // held by ReplaceSecrets
	chunks    chunker
	// The cookie attributes as net/http renders them, before and after
	// Max-Age: each response only splices in name, value and Max-Age.
	attrsBefore, attrsAfter string
	maxAge                  time.Duration
	idle                    time.Duration
	transient               bool
	compress                bool
	notBefore               int64 // Unix milliseconds; 0: none
	revocations             RevocationList
	gorilla                 *GorillaCookies
	gorillaCodecs           []securecookie.Codec
	onError                 func(http.ResponseWriter, *http.Request, error)
	logger                  *slog.Logger
	now                     func() time.Time
	contextKey              contextKey
	stats                   stats
}

type contextKey struct{ m *Manager }

// Name returns the name of the Manager's cookie (Options.Name, "session"
// by default), as exporters of its counts label them.
func (m *Manager) Name() string { return m.name }

// New validates opts, derives the keys and returns a Manager. Every
// configuration error, weak keys included, is reported here rather than on
// the first request.
func New(opts Options) (*Manager, error) {
	m := &Manager{
		name:        cmp.Or(opts.Name, defaultName),
		format:      opts.Format,
		maxAge:      cmp.Or(opts.MaxAge, defaultMaxAge),
		idle:        opts.IdleTimeout,
		transient:   opts.Transient,
		compress:    opts.Compress,
		revocations: opts.Revocations,
		onError:     opts.ErrorHandler,
		logger:      opts.Logger,
		now:         time.Now,
	}
	m.contextKey = contextKey{m}
	if m.format == nil {
		m.format = defaultFormat
	}
	m.builtin, m.foreign = m.format.(BuiltinFormat)
	m.foreign = !m.foreign
	m.traits = m.format.Traits()
	if err := validateFormat(opts, m.format, m.traits); err != nil {
		return nil, err
	}
	set, err := m.newSecretSet(opts.Secrets, nil, time.Now())
	if err != nil {
		return nil, err
	}
	m.secrets.Store(set)
	every := cmp.Or(opts.RefusalSummary, time.Minute)
	m.stats = newStats(max(every, 0))
	if opts.Gorilla != nil {
		if m.gorillaCodecs, err = gorillaCodecs(opts.Gorilla); err != nil {
			return nil, err
		}
		m.gorilla = opts.Gorilla
	}
	if !opts.NotBefore.IsZero() {
		m.notBefore = opts.NotBefore.UnixMilli()
	}
	cookie := http.Cookie{
		Name:        m.name,
		Path:        cmp.Or(opts.Path, "/"),
		Domain:      opts.Domain,
		HttpOnly:    !opts.ScriptAccess,
		Secure:      !opts.Insecure,
		SameSite:    cmp.Or(opts.SameSite, http.SameSiteLaxMode),
		Partitioned: opts.Partitioned,
	}
	if err := validate(opts, &cookie, m.maxAge); err != nil {
		return nil, err
	}
	// Our values are base64 and digits, so they need none of the
	// sanitising that Cookie.String does on every call.
	cookie.MaxAge = 1
	line := cookie.String()
	at := strings.Index(line, "; Max-Age=1")
	m.attrsBefore, m.attrsAfter = line[len(m.name)+len("="):at], line[at+len("; Max-Age=1"):]
	budget, attrLen := cmp.Or(opts.MaxCookieSize, defaultMaxCookieSize), len(m.attrsBefore)+len(m.attrsAfter)
	switch {
	case m.format == FormatExpress:
		m.chunks = newExpressChunker(m.name, budget, attrLen)
	case m.foreign:
		m.chunks = newLayoutChunker(m.name, m.traits.Chunks, cmp.Or(opts.MaxChunks, 1), budget, attrLen)
	default:
		m.chunks = newChunker(m.name, cmp.Or(opts.MaxChunks, 1), budget, attrLen)
	}
	if m.chunks.room(m.chunks.first(m.chunks.max)+m.chunks.max-1, len("; Max-Age=")+len("34560000")) < 64 {
		return nil, fmt.Errorf("cookiesession: MaxCookieSize %d leaves no room for a value", budget)
	}
	return m, nil
}

func validate(opts Options, c *http.Cookie, maxAge time.Duration) error {
	probe := *c
	probe.Value = "x"
	switch {
	// The package's own messages first: they name the option and the fix,
	// where Cookie.Valid's name only the attribute.
	case !isCookieName(c.Name):
		return fmt.Errorf("cookiesession: Name %q is not a cookie name: use letters, digits and !#$%%&'*+-.^_`|~ only (no spaces, quotes, commas, semicolons or =)", c.Name)
	case c.Partitioned && !c.Secure:
		return errors.New("cookiesession: Partitioned needs Secure: unset Insecure (browsers reject Partitioned cookies without Secure)")
	case probe.Valid() != nil:
		return fmt.Errorf("cookiesession: invalid cookie options: %w", probe.Valid())
	case c.SameSite < http.SameSiteDefaultMode || c.SameSite > http.SameSiteNoneMode:
		return fmt.Errorf("cookiesession: SameSite %d is none of net/http's SameSite modes", c.SameSite)
	case !strings.HasPrefix(c.Path, "/"):
		return fmt.Errorf("cookiesession: Path %q does not start with \"/\" (browsers would use the request's directory instead)", c.Path)
	// Browsers match the prefixes without regard to case.
	case hasPrefixFold(c.Name, "__Host-") && !c.Secure:
		return errors.New("cookiesession: a __Host- cookie needs Secure: unset Insecure")
	case hasPrefixFold(c.Name, "__Host-") && c.Path != "/":
		return fmt.Errorf("cookiesession: a __Host- cookie needs Path \"/\", not %q", c.Path)
	case hasPrefixFold(c.Name, "__Host-") && c.Domain != "":
		return fmt.Errorf("cookiesession: a __Host- cookie must not have a Domain (%q is set)", c.Domain)
	case hasPrefixFold(c.Name, "__Secure-") && !c.Secure:
		return errors.New("cookiesession: a __Secure- cookie needs Secure")
	case c.SameSite == http.SameSiteNoneMode && !c.Secure:
		return errors.New("cookiesession: SameSite=None needs Secure (browsers reject it otherwise)")
	case strings.ContainsAny(c.Path, ";\x7f") || strings.IndexFunc(c.Path, func(r rune) bool { return r < 0x20 }) >= 0:
		return fmt.Errorf("cookiesession: invalid Path %q", c.Path)
	case c.Domain != "" && !strings.Contains(probe.String(), "; Domain="):
		return fmt.Errorf("cookiesession: invalid Domain %q", c.Domain)
	case maxAge < 0 || maxAge > maxCookieLifetime:
		return fmt.Errorf("cookiesession: MaxAge %s outside 0..%s (browsers cap cookies at 400 days)", maxAge, maxCookieLifetime)
	case opts.IdleTimeout < 0:
		return fmt.Errorf("cookiesession: negative IdleTimeout %s", opts.IdleTimeout)
	case opts.IdleTimeout > maxAge:
		return fmt.Errorf("cookiesession: IdleTimeout %s is longer than MaxAge %s, so it would never end a session", opts.IdleTimeout, maxAge)
	case opts.NotBefore.After(time.Now()):
		return fmt.Errorf("cookiesession: NotBefore %s is in the future: every session issued until then would be refused on its next request", opts.NotBefore.UTC().Format(time.RFC3339))
	case opts.MaxChunks < 0 || opts.MaxChunks > maxChunksLimit:
		return fmt.Errorf("cookiesession: MaxChunks %d outside 1..%d", opts.MaxChunks, maxChunksLimit)
	case opts.MaxCookieSize < 0:
		return fmt.Errorf("cookiesession: negative MaxCookieSize %d", opts.MaxCookieSize)
	case opts.MaxCookieSize > defaultMaxCookieSize:
		return fmt.Errorf("cookiesession: MaxCookieSize %d is over %d: browsers drop a longer cookie without a word", opts.MaxCookieSize, defaultMaxCookieSize)
	}
	return nil
}

// defaultFormat is the format of a zero Options.Format.
const defaultFormat = FormatCompact

// validateFormat refuses the options that format f cannot honour.
func validateFormat(opts Options, f Format, t Traits) error {
	b, builtin := f.(BuiltinFormat)
	switch {
	case builtin && (b < FormatSecureCookie || b > FormatExpress):
		return fmt.Errorf("cookiesession: unknown %v", b)
	case opts.ScriptAccess && t.Lacks&LacksEncryption == 0:
		return fmt.Errorf("cookiesession: ScriptAccess needs a format the client can read, such as FormatSignOnly or FormatExpress, not %v: page scripts cannot read an encrypted session, they could only copy it", f)
	case f == FormatExpress && (opts.IdleTimeout != 0 || !opts.NotBefore.IsZero() || opts.Revocations != nil || opts.Compress || opts.MaxChunks > 1 || opts.Gorilla != nil):
		return errors.New("cookiesession: FormatExpress cookies carry no ID or times and cannot be chunked or compressed: IdleTimeout, NotBefore, Revocations, Compress, MaxChunks and Gorilla are not available")
	case builtin:
		return nil
	case opts.Compress:
		return fmt.Errorf("cookiesession: Compress is for the package's own formats; %v decides its own compression", f)
	case opts.Gorilla != nil:
		return fmt.Errorf("cookiesession: Gorilla re-issues gorilla/sessions cookies in the package's own formats, not in %v", f)
	case t.Lacks&LacksLastSeen != 0 && opts.IdleTimeout != 0:
		return fmt.Errorf("cookiesession: %v cookies carry no time of last use: IdleTimeout is not available", f)
	case t.Lacks&(LacksCreated|LacksExpiry) == LacksCreated|LacksExpiry && (!opts.NotBefore.IsZero() || opts.Revocations != nil):
		return fmt.Errorf("cookiesession: %v cookies carry no creation time or expiry: NotBefore and Revocations are not available", f)
	case t.Lacks&(LacksCreated|LacksExpiry) == LacksCreated && opts.MaxAge == 0 && (!opts.NotBefore.IsZero() || opts.Revocations != nil):
		// The creation time is derived as the expiry less MaxAge: with a
		// default shorter than the other application's lifetime it is
		// about now, and NotBefore and RevokeAll would refuse nothing.
		return fmt.Errorf("cookiesession: %v cookies carry no creation time, which is taken as their expiry less MaxAge: NotBefore and Revocations need Options.MaxAge set to the lifetime the other application gives sessions", f)
	case t.MaxChunks > 0 && opts.MaxChunks > t.MaxChunks:
		return fmt.Errorf("cookiesession: MaxChunks %d: %v cookies are read from at most %d", opts.MaxChunks, f, t.MaxChunks)
	case t.Chunks == ChunksNone && opts.MaxChunks > 1:
		return fmt.Errorf("cookiesession: %v cookies cannot be chunked: MaxChunks is not available", f)
	case t.Chunks > ChunksNone:
		return fmt.Errorf("cookiesession: %v names its chunks in an unknown way (%d)", f, t.Chunks)
	}
	return nil
}

// isCookieName reports whether name is an RFC 7230 token, as RFC 6265
// requires of a cookie name and net/http checks.
func isCookieName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func (m *Manager) log() *slog.Logger {
	if m.logger != nil {
		return m.logger
	}
	return slog.Default()
}

// decoded is what the cookies of one request hold.
type decoded struct {
	tossed      []string // the IDs of two valid sessions under one name (errTwoSessions)
	tossedNames uint32   // the names those two occupy (bit i: names[i])
	headerBytes int      // of the session's cookies in the Cookie header, read or not
	present     uint32   // bit i set: the request carried names[i]
	env         envelope
	chunks      int            // cookies the value spans; 0 when none was sent
	size        int            // bytes of the joined encoded value
	keyIndex    int            // index in Options.Secrets of the key that verified it
	secret      *secretCounter // the counter of that secret
	format      BuiltinFormat  // the format the value was sealed in, unless the Manager's is foreign
}

// decode finds the session in Cookie header lines. Every failure is an
// error wrapping ErrInvalid, ErrExpired or ErrRevoked; the names the
// request carried are returned either way, so they can be cleared. A
// session that verified but was refused (expired, revoked) is returned
// with its error, for Inspect; callers must check the error first.
//
// A browser sends several cookies of one name when a sibling subdomain
// has set it for the parent domain (cookie tossing). Each way to read
// them is tried: exactly one valid session wins, so a junk cookie cannot
// log the user out; two different valid sessions give none, so a tossed
// session of the attacker's own cannot replace the user's (fixation).
func (m *Manager) decode(ctx context.Context, lines []string, now time.Time) (decoded, error) {
	var r received
	m.chunks.scan(&r, lines)
	d := decoded{present: r.present}
	var reason error    // why the first value that failed was refused
	var refused decoded // that value's session, if it verified
	err := m.chunks.each(&r, func(value string, n int) error {
		got, err := m.open(ctx, value, now)
		if err != nil {
			if reason == nil {
				reason = err
				if got.env.ID != "" {
					refused = got
					refused.present, refused.chunks, refused.size = r.present, n, len(value)
				}
			}
			return nil
		}
		if d.chunks > 0 {
			d.tossed = []string{d.env.ID, got.env.ID}
			d.tossedNames = m.chunks.occupies(d.chunks) | m.chunks.occupies(n)
			return errTwoSessions
		}
		got.present, got.chunks, got.size = r.present, n, len(value)
		d = got
		return nil
	})
	switch {
	case err != nil:
		d, reason = decoded{present: r.present, tossed: d.tossed, tossedNames: d.tossedNames}, err
	case d.chunks == 0 && refused.chunks > 0:
		d = refused
	case d.chunks == 0:
	default:
		reason = nil
	}
	d.headerBytes = r.headerBytes(&m.chunks)
	return d, reason
}

// open verifies one joined value and checks the session it holds. A
// session that verifies but is refused comes back with the error.
func (m *Manager) open(ctx context.Context, value string, now time.Time) (decoded, error) {
	if m.foreign {
		return m.openForeign(ctx, value, now)
	}
	var buf []byte // where the value is opened; parsing copies what it keeps
	if m.builtin != FormatExpress {
		// Room for a securecookie value decoded behind the name (its inner
		// value is decoded in place), or a compact value decoded.
		scratch := getScratch(len(m.name) + 1 + len(value)*3/4 + 3)
		defer putScratch(scratch)
		buf = *scratch
	}
	set := m.secrets.Load()
	plain, keyIndex, format, err := set.ring.open(m.builtin, m.name, value, buf)
	var env envelope
	switch {
	case err != nil && m.gorilla != nil:
		var cannot *migrationError
		if env, err = m.openGorilla(value); errors.As(err, &cannot) {
			m.log().WarnContext(ctx, "cookiesession: starting a new session", "cookie", m.name, "reason", err)
		}
		if err != nil {
			return decoded{}, err
		}
		format = formatGorilla
		if err = env.check(now, m.idle); err != nil && !errors.Is(err, ErrExpired) {
			return decoded{}, err
		}
	case err != nil:
		if errors.Is(err, errNotVerified) && set.sealedByRemoved(m.builtin, m.name, value, buf, now) {
			err = errRemovedSecret
		}
		return decoded{}, err
	case format == FormatExpress:
		// Express keeps no times in the cookie: the session lives as long
		// as the browser keeps it, and each write extends it by MaxAge.
		if env, err = parseExpress(plain); err != nil {
			return decoded{}, err
		}
		env.setCreated(now)
		env.Expires = now.Add(m.maxAge).Unix()
	default:
		if plain, err = decompress(plain); err != nil {
			return decoded{}, err
		}
		if env, err = parseEnvelope(plain); err != nil {
			return decoded{}, err
		}
		if err = env.check(now, m.idle); err != nil && !errors.Is(err, ErrExpired) {
			return decoded{}, err
		}
	}
	// From here the session verified: a refusal comes with it, for Inspect.
	d := decoded{env: env, keyIndex: keyIndex, format: format}
	if format != formatGorilla {
		d.secret = set.counters[keyIndex]
	}
	return m.admit(ctx, d, err)
}

// openForeign is open for a format other than the package's own.
func (m *Manager) openForeign(ctx context.Context, value string, now time.Time) (decoded, error) {
	set := m.secrets.Load()
	r, keyIndex, err := set.sealer.Open(value, now)
	if err != nil {
		return decoded{}, err
	}
	if keyIndex < 0 || keyIndex >= len(set.counters) {
		return decoded{}, fmt.Errorf("cookiesession: %v opened a value with secret %d of %d", m.format, keyIndex, len(set.counters))
	}
	env := r.envelope(m.traits, now, m.maxAge)
	err = env.checkTimes(now, m.idle)
	if err != nil && !errors.Is(err, ErrExpired) {
		return decoded{}, err
	}
	if err == nil && (m.revocations != nil || m.notBefore != 0) {
		switch {
		case r.timeless(m.traits):
			// Its creation time would be each read's: no revocation could
			// ever end it, so it is refused rather than let through.
			err = errTimeless
		case m.traits.Lacks&LacksCreated != 0 && r.Expires.Sub(now) > m.maxAge+sealSkew:
			// Sealed for longer than MaxAge (by the other application, or
			// before revocation was configured): its creation time, the
			// expiry less MaxAge, would be later than it is, and each
			// read's while it is in the future.
			err = errLongLived
		}
	}
	return m.admit(ctx, decoded{env: env, keyIndex: keyIndex, secret: set.counters[keyIndex]}, err)
}

// sealSkew is how much longer than MaxAge a session of a format that
// lacks a creation time may last when read: another host's clock a
// little ahead of this one's.
const sealSkew = time.Minute

// errTimeless refuses a session of a foreign format that carries neither
// a creation time nor an expiry while revocation is configured.
var errTimeless = fmt.Errorf("%w: the session carries neither a creation time nor an expiry, so NotBefore and Revocations could never end it", ErrRevoked)

// errLongLived refuses a session of a foreign format that lacks a creation
// time and expires further ahead than Options.MaxAge while revocation is
// configured.
var errLongLived = fmt.Errorf("%w: the session expires more than Options.MaxAge from now; its creation time, taken as the expiry less MaxAge, "+
	"would be later than it is, out of reach of NotBefore and Revocations: seal every session with the lifetime MaxAge", ErrRevoked)

// admit refuses a verified session that expired (err), was created
// before NotBefore or is listed in Options.Revocations. A refused session
// comes with its error, for Inspect.
func (m *Manager) admit(ctx context.Context, d decoded, err error) (decoded, error) {
	env := &d.env
	if err != nil {
		return d, err // expired
	}
	if env.created().UnixMilli() < m.notBefore {
		return d, fmt.Errorf("%w: created before NotBefore", ErrRevoked)
	}
	if m.revocations != nil && m.revocations.Revoked(ctx, env.info()) {
		return d, fmt.Errorf("%w: listed in Options.Revocations", ErrRevoked)
	}
	return d, nil
}

// Inspection is what a session cookie holds and how it was sealed, as
// [Manager.Inspect] reports it.
type Inspection struct {
	Format      Format                     // the format the value was sealed in
	SecretIndex int                        // index in Options.Secrets of the secret that verified it
	Chunks      int                        // cookies the value spans
	Bytes       int                        // bytes of the encoded value, chunks joined
	ID          string                     // the session ID
	Subject     string                     // as set by Session.SetSubject
	Created     time.Time                  // creation or last Renew
	Expires     time.Time                  // absolute expiry
	LastSeen    time.Time                  // last recorded activity; zero without IdleTimeout
	Values      map[string]json.RawMessage // each value as the JSON stored
	Flashes     []string                   // flash messages not yet read
}

// Inspect verifies the session cookies in Cookie header values, as a
// request would, and reports what they hold. It is meant for debugging
// tools such as the cookiesession command. When a request would get a new
// session instead, it returns the reason: an error wrapping ErrInvalid,
// ErrExpired or ErrRevoked, or http.ErrNoCookie when there is no session
// cookie. For ErrExpired and ErrRevoked the cookie did verify, and the
// Inspection of the refused session comes with the error.
func (m *Manager) Inspect(cookieHeader ...string) (*Inspection, error) {
	d, err := m.decode(context.Background(), cookieHeader, m.now())
	if err != nil && d.chunks == 0 {
		return nil, err
	}
	if d.chunks == 0 {
		return nil, fmt.Errorf("cookiesession: no %q cookie: %w", m.name, http.ErrNoCookie)
	}
	in := &Inspection{
		Format:      m.format,
		SecretIndex: d.keyIndex,
		Chunks:      d.chunks,
		Bytes:       d.size,
		ID:          d.env.ID,
		Subject:     d.env.Subject,
		Created:     d.env.created(),
		Expires:     time.Unix(d.env.Expires, 0),
		Values:      make(map[string]json.RawMessage, len(d.env.Values)),
		Flashes:     d.env.Flashes,
	}
	if !m.foreign {
		in.Format = d.format
	}
	if d.env.Seen != 0 {
		in.LastSeen = time.Unix(d.env.Seen, 0)
	}
	for _, f := range d.env.Values {
		in.Values[f.key] = json.RawMessage(f.raw)
	}
	return in, err
}

// encode seals e into the Set-Cookie lines of its cookies, appended to
// dst.
func (m *Manager) encode(dst []string, e *envelope, now time.Time) ([]string, error) {
	e.Seen = 0
	if m.idle > 0 {
		e.Seen = now.Unix()
	}
	if m.foreign {
		return m.encodeForeign(dst, e, now)
	}
	size, room := e.sizeHint(), 0
	if m.builtin == FormatCompact {
		// The compact header goes in front of the JSON, which is then
		// sealed where it lies.
		room, size = compactNonce, compactRoom(size)
	}
	scratch := getScratch(room + size)
	defer putScratch(scratch)
	buf := (*scratch)[:room]
	if m.builtin == FormatExpress {
		buf = e.appendExpressJSON(buf)
	} else {
		buf = e.appendJSON(buf)
	}
	if m.compress {
		if len(buf)-room > maxInflated {
			// It might deflate into a cookie, but no reader would inflate it.
			return nil, fmt.Errorf("%w: session JSON is %d bytes; compressed sessions hold at most %d", ErrTooLarge, len(buf)-room, maxInflated)
		}
		// Never longer than the JSON, it goes where the JSON was.
		buf = append(buf[:room], compress(buf[room:])...)
	}
	maxAge := m.cookieMaxAge(e, now)
	if m.builtin == FormatCompact {
		return cookieLines(m, dst, m.secrets.Load().ring[0].sealCompact(buf), maxAge)
	}
	value, err := m.secrets.Load().ring.seal(m.builtin, m.name, buf)
	if err != nil {
		return nil, err
	}
	return cookieLines(m, dst, value, maxAge)
}

// encodeForeign is encode for a format other than the package's own.
func (m *Manager) encodeForeign(dst []string, e *envelope, now time.Time) ([]string, error) {
	r := e.record()
	value, err := m.secrets.Load().sealer.Seal(&r, now)
	if err != nil {
		return nil, fmt.Errorf("cookiesession: %v: %w", m.format, err)
	}
	maxAge := m.cookieMaxAge(e, now)
	if margin := int(m.traits.CookieMargin / time.Second); maxAge > margin {
		maxAge -= margin // a lifetime within the margin is left whole, as iron-session 9 leaves it
	}
	return cookieLines(m, dst, value, maxAge)
}

// cookieMaxAge is the browser's hint: until the payload's expiry or the
// idle timeout, whichever is sooner.
func (m *Manager) cookieMaxAge(e *envelope, now time.Time) int {
	persist := !m.transient
	if e.Persist != nil {
		persist = *e.Persist
	}
	if !persist {
		return 0
	}
	d := time.Duration(e.Expires-now.Unix()) * time.Second
	if m.idle > 0 {
		d = min(d, m.idle)
	}
	return max(1, int(min(d, maxCookieLifetime)/time.Second))
}

// setCookie returns a Set-Cookie line for name, its value prefix+value,
// with the configured attributes in net/http's order and age (from
// appendMaxAge) among them. A []byte value goes into the line without a
// string of its own: a []byte converted inside a concatenation is not
// copied first.
func setCookie[V string | []byte](m *Manager, name, prefix string, value V, age []byte) string {
	return name + "=" + prefix + string(value) + m.attrsBefore + string(age) + m.attrsAfter
}

// appendMaxAge appends the Max-Age attribute for maxAge seconds to b, or
// nothing for a browser-session cookie (0).
func appendMaxAge(b []byte, maxAge int) []byte {
	if maxAge <= 0 {
		return b
	}
	return strconv.AppendInt(append(b, "; Max-Age="...), int64(maxAge), 10)
}

// deleteCookie returns the Set-Cookie line that deletes the cookie name:
// Expires too, for browsers that predate Max-Age.
func (m *Manager) deleteCookie(name string) string {
	return name + "=" + m.attrsBefore + "; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0" + m.attrsAfter
}

// maxTossDomains bounds the domains at which a tossed session is deleted:
// the Host header is the client's to choose.
const maxTossDomains = 4

// appendTossedDeletions appends to lines the deletion of each cookie
// named in occupied (bit i: names[i]) at each domain of host that a
// sibling subdomain could have set it for: host itself and its parents,
// but not the last label. A parent that is a public suffix (co.uk) costs a
// line the browser ignores. The host-only cookies, and those of
// Options.Domain, are deleted by deleteCookie. occupied holds only the
// names of the two valid sessions, never other names the request
// carried: those are the client's to choose, and sixteen names at four
// domains would make every response carry 64 lines, more than a proxy's
// buffer for response headers holds.
func (m *Manager) appendTossedDeletions(lines []string, host string, occupied uint32) []string {
	if hasPrefixFold(m.name, "__Host-") {
		return lines // no other host can set it, and a browser refuses a Domain for it
	}
	path, configured, _ := strings.Cut(m.attrsBefore, "; Domain=")
	for _, domain := range tossDomains(host) {
		if strings.EqualFold(domain, configured) {
			continue
		}
		for i, name := range m.chunks.names {
			if occupied&(1<<i) != 0 {
				lines = append(lines, name+"="+path+"; Domain="+domain+"; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0"+m.attrsAfter)
			}
		}
	}
	return lines
}

// tossDomains returns the domains of host from which a cookie of its can
// have been set by another host: host and each parent but the last label,
// at most maxTossDomains of them, the widest kept. None for an IP address
// or a name that is no host name. Only ASCII is a host name here, checked
// before lower-casing: strings.ToLower maps some other letters to ASCII
// (the Kelvin sign to k).
func tossDomains(host string) []string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	if len(host) > 253 || net.ParseIP(host) != nil || strings.Contains(host, "..") || strings.HasPrefix(host, ".") ||
		strings.IndexFunc(host, func(r rune) bool {
			return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.')
		}) >= 0 {
		return nil
	}
	host = strings.ToLower(host)
	var domains []string
	for d := host; strings.Contains(d, "."); d = d[strings.IndexByte(d, '.')+1:] {
		domains = append(domains, d)
	}
	return domains[max(0, len(domains)-maxTossDomains):]
}

// Load returns the session carried by r's cookies. The cookies are only
// verified when the session is first used. A missing, invalid or expired
// session gives a new empty one, whose response clears the bad cookies.
// Use Load and [Manager.Save] where [Manager.Middleware] does not fit.
// r.Host must be the public host, as for [Manager.Middleware].
func (m *Manager) Load(r *http.Request) *Session {
	return &Session{m: m, ctx: r.Context(), lines: r.Header.Values("Cookie"), host: r.Host}
}

// LoadHeader is [Manager.Load] for runtimes without net/http requests: it
// takes the values of the request's Cookie header fields (HTTP/2 and
// HTTP/3 clients may send several).
func (m *Manager) LoadHeader(cookieHeader ...string) *Session {
	return &Session{m: m, ctx: context.Background(), lines: cookieHeader}
}

// Save adds to w's header the Set-Cookie lines that s needs, if any; call
// it before the response header is written. A response that sets the
// cookie also gets Cache-Control: no-cache="Set-Cookie", as a field of its
// own next to any the handler set, so shared caches never pass one
// client's session to another. It returns ErrTooLarge (with a
// *SizeError) when the session does not fit, and an error when a value
// given to Session.Set could not be stored. Saving twice writes nothing
// new unless s changed in between.
//
// Inside [Manager.Middleware], a handler may call Save itself to handle a
// failure its own way, for example answering 413 to ErrTooLarge: once
// Save has returned an error, the middleware leaves the handler's
// response as it is (without the session's cookies) instead of calling
// ErrorHandler, unless the session changes again.
func (m *Manager) Save(w http.ResponseWriter, s *Session) error {
	if s.m != m {
		return errOtherManager
	}
	_, err := m.save(w.Header(), s, true)
	return err
}

// SaveHeader is [Manager.Save] for runtimes without net/http responses: it
// returns the values of the Set-Cookie header fields to send. With an
// error it may still return lines: they delete the cookies of a destroyed
// session, and must be sent all the same.
func (m *Manager) SaveHeader(s *Session) ([]string, error) {
	if s.m != m {
		return nil, errOtherManager
	}
	return s.commit(true)
}

var errOtherManager = errors.New("cookiesession: session belongs to another Manager")

// save adds the Set-Cookie lines s needs to h and returns them: with an
// error, only the deletions of a destroyed session's cookies. report says
// the error goes to the handler.
func (m *Manager) save(h http.Header, s *Session, report bool) ([]string, error) {
	lines, err := s.commit(report)
	if err != nil {
		addValues(h, "Set-Cookie", lines)
		return lines, err
	}
	// The response depends on the cookie: shared caches must not serve it
	// to another client.
	vary := s.accessed() && !varies(h)
	if len(lines) == 0 {
		if vary {
			h.Add("Vary", "Cookie")
		}
		return nil, nil
	}
	// The values of all three fields share one array, as in Header.Clone
	// (commit leaves room after the lines), each part capped so that
	// appending to one field copies it rather than overwrite the next.
	n := len(lines)
	values := append(lines, `no-cache="Set-Cookie"`, "Cookie")
	addValues(h, "Set-Cookie", values[:n:n])
	addValues(h, "Cache-Control", values[n:n+1:n+1])
	if vary {
		addValues(h, "Vary", values[n+1:n+2:n+2])
	}
	return lines, nil
}

// addValues adds values to the field key (in canonical form) of h, taking
// values itself as the field's when it has none yet.
func addValues(h http.Header, key string, values []string) {
	if len(values) == 0 {
		return
	}
	if old := h[key]; len(old) > 0 {
		values = append(old, values...)
	}
	h[key] = values
}

// varies reports whether h already has Vary: Cookie (or Vary: *).
func varies(h http.Header) bool {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, "Cookie") {
				return true
			}
		}
	}
	return false
}
