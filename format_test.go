package cookiesession

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signedJSON is a format of another stack as small as one can be: the
// values as a JSON object, "|", the expiry in Unix seconds, "|", and an
// HMAC-SHA256 of both under the secret itself. It carries no ID, creation
// time, subject or flash messages, and its reader tolerates a minute past
// the expiry, as iron does.
type signedJSON struct {
	lacks     Lacks
	chunks    ChunkNaming // ChunksNone when zero
	maxChunks int
}

func (signedJSON) String() string { return "signed JSON" }

func (f signedJSON) Traits() Traits {
	return Traits{Lacks: f.lacks, Chunks: cmp.Or(f.chunks, ChunksNone), CookieMargin: time.Minute, MaxChunks: f.maxChunks}
}

func (signedJSON) NewSealer(secrets [][]byte, cookieName string) (Sealer, error) {
	for i, s := range secrets {
		if err := CheckSecret(s, 32); err != nil {
			return nil, fmt.Errorf("secret %d: %w", i, err)
		}
	}
	return signedJSONSealer{secrets, cookieName}, nil
}

type signedJSONSealer struct {
	secrets [][]byte
	name    string
}

func (s signedJSONSealer) mac(i int, msg string) string {
	h := hmac.New(sha256.New, s.secrets[i])
	h.Write([]byte(s.name + "=" + msg))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

func (s signedJSONSealer) Seal(r *Record, _ time.Time) (string, error) {
	msg := base64.RawURLEncoding.EncodeToString(AppendObject(nil, r.Values)) + "|" + strconv.FormatInt(r.Expires.Unix(), 10)
	return msg + "|" + s.mac(0, msg), nil
}

func (s signedJSONSealer) Open(value string, _ time.Time) (Record, int, error) {
	cut := strings.LastIndexByte(value, '|')
	if cut < 0 {
		return Record{}, 0, ErrInvalid
	}
	msg, mac := value[:cut], value[cut+1:]
	for i := range s.secrets {
		if !hmac.Equal([]byte(s.mac(i, msg)), []byte(mac)) {
			continue
		}
		object, exp, _ := strings.Cut(msg, "|")
		data, err := base64.RawURLEncoding.DecodeString(object)
		if err != nil {
			return Record{}, 0, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		values, err := ParseObject(data)
		if err != nil {
			return Record{}, 0, err
		}
		sec, err := strconv.ParseInt(exp, 10, 64)
		if err != nil {
			return Record{}, 0, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		return Record{Values: values, Expires: time.Unix(sec, 0)}, i, nil
	}
	return Record{}, 0, errNotVerified
}

const lacksAll = LacksID | LacksCreated | LacksLastSeen | LacksSubject | LacksFlashes

func TestForeignFormatRoundTrip(t *testing.T) {
	m, clk := newTestManager(t, Options{Format: signedJSON{lacks: lacksAll}, MaxAge: time.Hour})
	b := issue(t, m, func(s *Session) { s.Set("user", "ada") })
	c := b["session"]
	require.NotNil(t, c)
	assert.Equal(t, 3600-60, c.MaxAge, "Max-Age ends CookieMargin before the sealed expiry")

	sealer, err := signedJSON{}.NewSealer([][]byte{testKey(1)}, "session")
	require.NoError(t, err)
	r, i, err := sealer.Open(c.Value, clk.Now())
	require.NoError(t, err)
	assert.Equal(t, 0, i)
	assert.Equal(t, []Field{{"user", `"ada"`}}, r.Values)
	assert.Equal(t, clk.Now().Add(time.Hour).Unix(), r.Expires.Unix())

	clk.Add(time.Minute)
	b.visit(m, func(_ http.ResponseWriter, s *Session) {
		user, _ := Value[string](s, "user")
		assert.Equal(t, "ada", user)
		assert.False(t, s.IsNew())
		assert.Empty(t, s.ID(), "the format carries no ID")
		assert.Equal(t, clk.Now().Add(59*time.Minute).Unix(), s.Expires().Unix(), "the sealed expiry holds")
	})

	// What the format cannot carry fails the save rather than vanish.
	for name, change := range map[string]func(s *Session){
		"subject": func(s *Session) { s.SetSubject("u1") },
		"flash":   func(s *Session) { s.AddFlash("hi") },
	} {
		t.Run(name, func(t *testing.T) {
			s := m.LoadHeader(b.header())
			change(s)
			_, err := m.SaveHeader(s)
			assert.ErrorContains(t, err, "signed JSON sessions carry no")
		})
	}

	clk.Add(time.Hour)
	b.visit(m, func(_ http.ResponseWriter, s *Session) { assert.True(t, s.IsNew(), "expired by the sealed time") })
}

func TestForeignFormatRotation(t *testing.T) {
	old, clk := newTestManager(t, Options{Format: signedJSON{lacks: lacksAll}, Secrets: [][]byte{testKey(2)}})
	b := issue(t, old, func(s *Session) { s.Set("n", 1) })
	m, _ := newTestManager(t, Options{Format: signedJSON{lacks: lacksAll}, Secrets: [][]byte{testKey(1), testKey(2)}})
	m.now = clk.Now
	resp := b.visit(m, func(_ http.ResponseWriter, s *Session) {
		n, _ := Value[int](s, "n")
		assert.Equal(t, 1, n)
	})
	require.Equal(t, []string{"session"}, written(resp), "read with the old secret: re-issued with the new")
	assert.Equal(t, uint64(1), m.Counts().Secrets[1].Verified)
	sealer, err := signedJSON{}.NewSealer([][]byte{testKey(1)}, "session")
	require.NoError(t, err)
	_, _, err = sealer.Open(b["session"].Value, clk.Now())
	assert.NoError(t, err, "re-issued under secret 0")

	require.NoError(t, m.ReplaceSecrets([][]byte{testKey(3)}))
	b.visit(m, func(_ http.ResponseWriter, s *Session) { assert.True(t, s.IsNew(), "secret 1 is gone") })
	assert.ErrorIs(t, m.ReplaceSecrets([][]byte{[]byte("short")}), ErrWeakSecret, "the format's rule applies to ReplaceSecrets")
}

func TestForeignFormatRefusesWhatItCannotHonour(t *testing.T) {
	indexed := signedJSON{lacks: lacksAll, chunks: ChunksIndexed, maxChunks: 2}
	noTimes := signedJSON{lacks: lacksAll | LacksExpiry}
	for name, opts := range map[string]Options{
		"IdleTimeout without last-seen":         {IdleTimeout: time.Minute},
		"MaxChunks above the format's":          {MaxChunks: 3, Format: indexed},
		"Revocations without created or expiry": {Revocations: NewMemoryRevocations(), Format: noTimes},
		"NotBefore without created or expiry":   {NotBefore: time.Now().Add(-time.Hour), Format: noTimes},
		"Compress":                              {Compress: true},
		"Gorilla":                               {Gorilla: &GorillaCookies{}},
		"MaxChunks with ChunksNone":             {MaxChunks: 2},
		"ScriptAccess when encrypted":           {ScriptAccess: true},
		"weak secret":                           {Secrets: [][]byte{[]byte(strings.Repeat("ab", 20))}},
	} {
		t.Run(name, func(t *testing.T) {
			if opts.Format == nil {
				opts.Format = signedJSON{lacks: lacksAll}
			}
			opts.Secrets = cmpOr(opts.Secrets, [][]byte{testKey(1)})
			_, err := New(opts)
			assert.Error(t, err)
		})
	}
	_, err := New(Options{Secrets: [][]byte{testKey(1)}, Format: signedJSON{lacks: lacksAll | LacksEncryption}, ScriptAccess: true})
	assert.NoError(t, err, "a format the client can read allows ScriptAccess")
	_, err = New(Options{Secrets: [][]byte{testKey(1)}, Format: indexed, MaxChunks: 2})
	assert.NoError(t, err)
}

// TestForeignFormatDerivedCreation: a format with an expiry but no
// creation time gets Expires less MaxAge as its creation time, so that
// NotBefore and revocation by subject apply to what it sealed.
func TestForeignFormatDerivedCreation(t *testing.T) {
	opts := Options{Format: signedJSON{lacks: lacksAll}, MaxAge: time.Hour}
	m, clk := newTestManager(t, opts)
	sealedAt := clk.Now()
	b := issue(t, m, func(s *Session) { s.Set("n", 1) })
	clk.Add(10 * time.Minute)
	b.visit(m, func(_ http.ResponseWriter, s *Session) {
		assert.Equal(t, sealedAt.Unix(), s.Created().Unix(), "Expires less MaxAge")
	})
	b.visit(m, func(_ http.ResponseWriter, s *Session) { s.SetMaxAge(30 * 24 * time.Hour) })
	b.visit(m, func(_ http.ResponseWriter, s *Session) {
		assert.False(t, s.IsNew())
		assert.Equal(t, clk.Now().Unix(), s.Created().Unix(), "never later than now")
	})

	opts.NotBefore = clk.Now().Add(-time.Second)
	opts.Secrets = [][]byte{testKey(1)}
	strict, err := New(opts)
	require.NoError(t, err)
	strict.now = clk.Now
	c := issue(t, m, func(s *Session) { s.Set("n", 1) })
	clk.Add(time.Minute)
	c.visit(strict, func(_ http.ResponseWriter, s *Session) { assert.False(t, s.IsNew(), "sealed after NotBefore") })
	old := issue(t, m, func(s *Session) { s.Set("n", 1) })
	clk.Add(-2 * time.Minute)
	sealedBefore := issue(t, m, func(s *Session) { s.Set("n", 2) })
	clk.Add(2 * time.Minute)
	old.visit(strict, func(_ http.ResponseWriter, s *Session) { assert.False(t, s.IsNew()) })
	sealedBefore.visit(strict, func(_ http.ResponseWriter, s *Session) { assert.True(t, s.IsNew(), "sealed before NotBefore") })
}

// TestSetMaxAgeWithDerivedCreation: with revocation on, a format that
// derives the creation time from the expiry keeps one lifetime, MaxAge:
// a "remember me" of 30 days would make the session look created at
// every read, so RevokeAll would never end it. The save fails instead,
// until SetMaxAge(MaxAge), Renew or Destroy; and a session sealed for
// longer, by the other application or before revocation was configured,
// is refused when read.
func TestSetMaxAgeWithDerivedCreation(t *testing.T) {
	f := signedJSON{lacks: lacksAll}
	// Both kinds of revocation, set before every session the test makes:
	// the test clock starts at 12:00.
	revocations := map[string]Options{
		"Revocations": {Revocations: NewMemoryRevocations()},
		"NotBefore":   {NotBefore: time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC)},
	}
	for name, opts := range revocations {
		t.Run(name, func(t *testing.T) {
			opts.Format, opts.MaxAge = f, time.Hour
			m, _ := newTestManager(t, opts)
			s := m.LoadHeader()
			s.Set("uid", "42")
			s.SetMaxAge(30 * 24 * time.Hour)
			_, err := m.SaveHeader(s)
			require.ErrorContains(t, err, "SetMaxAge(720h0m0s): signed JSON cookies carry no creation time")
			assert.ErrorContains(t, err, "Options.MaxAge (1h0m0s)")
			s.SetMaxAge(time.Hour - 300*time.Millisecond)
			lines, err := m.SaveHeader(s)
			require.NoError(t, err, "MaxAge itself, to the second the expiry keeps, is a renewal")
			for name, mend := range map[string]func(s *Session){"Renew": (*Session).Renew, "Destroy": (*Session).Destroy} {
				s := m.LoadHeader(strings.SplitN(lines[0], ";", 2)[0])
				require.False(t, s.IsNew(), "the session saved above, admitted")
				s.SetMaxAge(10 * time.Minute)
				_, err := m.SaveHeader(s)
				require.ErrorContains(t, err, "every session must keep that lifetime", name)
				mend(s)
				_, err = m.SaveHeader(s)
				assert.NoError(t, err, name)
			}
		})
	}

	// Without revocation, or with a format that carries its creation time,
	// a session may have any lifetime.
	for name, opts := range map[string]Options{
		"no revocation":      {Format: f},
		"creation time kept": {Format: signedJSON{lacks: lacksAll &^ LacksCreated}, Revocations: NewMemoryRevocations()},
		"built-in format":    {Revocations: NewMemoryRevocations()},
	} {
		opts.MaxAge = time.Hour
		m, _ := newTestManager(t, opts)
		s := m.LoadHeader()
		s.Set("uid", "42")
		s.SetMaxAge(30 * 24 * time.Hour)
		_, err := m.SaveHeader(s)
		assert.NoError(t, err, name)
	}

	// A session sealed for 30 days (here by a Manager without revocation,
	// as the other application or an earlier deployment would) looks
	// created at every read: it is refused while revocation is on, rather
	// than let through RevokeAll, and the refusal summary says why. One
	// sealed a few seconds longer, by a host whose clock is ahead, is
	// read.
	for name, opts := range revocations {
		t.Run(name+" on reading", func(t *testing.T) {
			opts.Format, opts.MaxAge = f, time.Hour
			m, clk, summary := summaryLog(t, opts)
			plain, _ := newTestManager(t, Options{Format: f, MaxAge: time.Hour})
			plain.now = clk.Now
			sealed := func(d time.Duration) string {
				s := plain.LoadHeader()
				s.Set("uid", "42")
				s.SetMaxAge(d)
				lines, err := plain.SaveHeader(s)
				require.NoError(t, err)
				return strings.SplitN(lines[0], ";", 2)[0]
			}
			clk.Add(2 * time.Hour) // past NotBefore
			long := sealed(30 * 24 * time.Hour)
			assert.True(t, m.LoadHeader(long).IsNew())
			_, err := m.Inspect(long)
			assert.ErrorIs(t, err, ErrRevoked)
			assert.ErrorContains(t, err, "expires more than Options.MaxAge from now")
			assert.False(t, plain.LoadHeader(long).IsNew(), "without revocation it is a session")
			assert.Contains(t, summary(), "hint=\"1 of the revoked carry no creation time")
			assert.False(t, m.LoadHeader(sealed(time.Hour+30*time.Second)).IsNew(), "within a minute of MaxAge")
		})
	}
}

func cmpOr(a, b [][]byte) [][]byte {
	if a != nil {
		return a
	}
	return b
}

// TestBuiltinFormatsAreFormats: the package's own formats seal and open
// Records through the interface, readable by a Manager and back.
func TestBuiltinFormatsAreFormats(t *testing.T) {
	for _, f := range []BuiltinFormat{FormatSecureCookie, FormatSignOnly, FormatCompact, FormatExpress} {
		t.Run(f.String(), func(t *testing.T) {
			var format Format = f
			m, clk := newTestManager(t, Options{Format: format, Name: "s"})
			sealer, err := format.NewSealer([][]byte{testKey(2), testKey(1)}, "s")
			require.NoError(t, err)
			created := clk.Now().Add(-time.Minute).Truncate(time.Millisecond)
			r := Record{ID: "abc", Created: created, Expires: clk.Now().Add(time.Hour), Subject: "u1", Values: []Field{{"user", `"ada"`}}, Flashes: []string{"hi"}}
			value, err := sealer.Seal(&r, clk.Now())
			require.NoError(t, err)
			header := "s=" + value
			if f == FormatExpress {
				v, sig, _ := strings.Cut(value, ".")
				header = "s=" + v + "; s.sig=" + sig
			}
			_, err = m.Inspect(header)
			assert.Error(t, err, "sealed with secret 0 of the sealer, which the Manager lacks")

			m2, _ := newTestManager(t, Options{Format: format, Name: "s", Secrets: [][]byte{testKey(2)}})
			in, err := m2.Inspect(header)
			require.NoError(t, err)
			assert.Equal(t, json.RawMessage(`"ada"`), in.Values["user"])
			assert.Equal(t, []string{"hi"}, in.Flashes)
			if f.Traits().Lacks&LacksID == 0 {
				assert.Equal(t, "abc", in.ID)
				assert.Equal(t, "u1", in.Subject)
				assert.Equal(t, created.UnixMilli(), in.Created.UnixMilli())
			}

			b := issue(t, m, func(s *Session) { s.Set("user", "bob") })
			value = b["s"].Value
			if f == FormatExpress {
				value += "." + b["s.sig"].Value
			}
			got, i, err := sealer.Open(value, clk.Now())
			require.NoError(t, err)
			assert.Equal(t, 1, i, "verified by the Manager's secret, second in the sealer's list")
			assert.Equal(t, []Field{{"user", `"bob"`}}, got.Values)
		})
	}
	_, err := BuiltinFormat(99).NewSealer([][]byte{testKey(1)}, "s")
	assert.Error(t, err)
}

func TestParseObject(t *testing.T) {
	fields, err := ParseObject([]byte(` {"b": [1, {"x":2}], "a":"\u00e9", "c":null} `))
	require.NoError(t, err)
	assert.Equal(t, []Field{{"b", `[1, {"x":2}]`}, {"a", `"\u00e9"`}, {"c", "null"}}, fields)
	assert.Equal(t, `{"b":[1, {"x":2}],"a":"\u00e9","c":null}`, string(AppendObject(nil, fields)))
	assert.Equal(t, `{}`, string(AppendObject(nil, nil)))

	for _, bad := range []string{``, `[]`, `{"a":1,"a":2}`, `{"a":1} x`, "{\"a\":\"\xff\"}", `{"a":}`, `"s"`} {
		_, err := ParseObject([]byte(bad))
		assert.ErrorIs(t, err, ErrInvalid, bad)
	}
	assert.True(t, errors.Is(CheckSecret([]byte("short"), 32), ErrWeakSecret))
	assert.ErrorIs(t, CheckSecret([]byte(strings.Repeat("0123", 10)), 32), ErrWeakSecret)
	assert.NoError(t, CheckSecret(testKey(1), 32))
}

// TestIndexedChunks: with ChunksIndexed a long value goes into NAME.0,
// NAME.1, … and a short one into NAME, each write deleting the other
// layout's cookies; chunks are joined up to the first index missing.
func TestIndexedChunks(t *testing.T) {
	f := signedJSON{lacks: lacksAll, chunks: ChunksIndexed}
	m, _ := newTestManager(t, Options{Format: f, MaxChunks: 3})
	b := issue(t, m, func(s *Session) { s.Set("blob", strings.Repeat("x", 5000)) })
	assert.Equal(t, []string{"session.0", "session.1"}, b.names())
	assert.False(t, strings.HasPrefix(b["session.0"].Value, "2|"), "no count in front")
	b.visit(m, func(_ http.ResponseWriter, s *Session) {
		blob, _ := Value[string](s, "blob")
		assert.Len(t, blob, 5000)
	})

	chunked := b.header()
	resp := b.visit(m, func(_ http.ResponseWriter, s *Session) { s.Set("blob", "small") })
	assert.Equal(t, []string{"session"}, written(resp))
	assert.ElementsMatch(t, []string{"session.0", "session.1"}, deleted(resp))
	resp = b.visit(m, func(_ http.ResponseWriter, s *Session) { s.Set("blob", strings.Repeat("y", 9000)) })
	assert.Equal(t, []string{"session.0", "session.1", "session.2"}, written(resp))
	assert.Equal(t, []string{"session"}, deleted(resp))

	for name, header := range map[string]string{
		"NAME.0 alone":              "session.0=" + b["session.0"].Value,
		"a chunk missing":           "session.0=" + b["session.0"].Value + "; session.2=" + b["session.2"].Value,
		"chunks of two values":      strings.Replace(chunked, "session.1=", "session.1=x", 1),
		"an index beyond MaxChunks": b.header() + "; session.3=AAAA",
		"NAME.00":                   strings.Replace(b.header(), "session.0=", "session.00=", 1),
	} {
		t.Run(name, func(t *testing.T) {
			resp := serve(m, header, func(_ http.ResponseWriter, s *Session) {
				if name == "an index beyond MaxChunks" {
					assert.False(t, s.IsNew(), "a leftover beyond MaxChunks is not read")
					return
				}
				assert.True(t, s.IsNew())
			})
			if name == "an index beyond MaxChunks" {
				assert.Equal(t, []string{"session.3"}, deleted(resp))
			}
		})
	}

	// A lone NAME.0 beside NAME (a leftover, or junk tossed from a sibling
	// subdomain) is no value: NAME is read, kept, and the junk deleted.
	short := issue(t, m, func(s *Session) { s.Set("user", "u1") })
	require.Equal(t, []string{"session"}, short.names())
	for _, junk := range []string{"junk", b["session.0"].Value} {
		resp := serve(m, short.header()+"; session.0="+junk, func(_ http.ResponseWriter, s *Session) {
			assert.False(t, s.IsNew(), "NAME is read")
			user, _ := Value[string](s, "user")
			assert.Equal(t, "u1", user)
		})
		assert.Equal(t, []string{"session.0"}, deleted(resp), "only the leftover is cleared")
	}
}

// TestForeignFormatWithoutIDs: RevokeSession says why it cannot revoke a
// session of a format without IDs, and still destroys it; RevokeAll holds.
func TestForeignFormatWithoutIDs(t *testing.T) {
	list := NewMemoryRevocations()
	m, clk := newTestManager(t, Options{Format: signedJSON{lacks: lacksAll}, Revocations: list, MaxAge: time.Hour})
	b := issue(t, m, func(s *Session) { s.Set("n", 1) })
	var err error
	resp := b.visit(m, func(_ http.ResponseWriter, s *Session) { err = m.RevokeSession(context.Background(), s) })
	assert.ErrorContains(t, err, "carry no ID")
	assert.Equal(t, []string{"session"}, deleted(resp), "destroyed all the same")

	b = issue(t, m, func(s *Session) { s.Set("n", 1) })
	clk.Add(time.Second)
	require.NoError(t, m.RevokeAll(context.Background()))
	b.visit(m, func(_ http.ResponseWriter, s *Session) { assert.True(t, s.IsNew(), "sealed before RevokeAll") })
}

// TestRevocationNeedsLifetime: a format without creation times has it
// derived as its expiry less MaxAge, so NotBefore and Revocations need an
// explicit MaxAge (the default, shorter than other stacks' lifetimes,
// would make every session look created just now and revoke nothing).
// And a session that carries no expiry either cannot be revoked at all:
// with revocation configured it is refused, not let through.
func TestRevocationNeedsLifetime(t *testing.T) {
	f := signedJSON{lacks: lacksAll}
	for name, opts := range map[string]Options{
		"Revocations": {Revocations: NewMemoryRevocations()},
		"NotBefore":   {NotBefore: time.Now().Add(-time.Hour)},
	} {
		opts.Format, opts.Secrets = f, [][]byte{testKey(1)}
		_, err := New(opts)
		assert.ErrorContains(t, err, "need Options.MaxAge", name)
		opts.MaxAge = 14 * 24 * time.Hour
		_, err = New(opts)
		assert.NoError(t, err, name)
	}

	list := NewMemoryRevocations()
	m, clk := newTestManager(t, Options{Format: f, Revocations: list, MaxAge: 14 * 24 * time.Hour})
	sealer, err := f.NewSealer([][]byte{testKey(1)}, "session")
	require.NoError(t, err)
	// Sealed by the other application an hour ago with its 14 days.
	sealed, err := sealer.Seal(&Record{Expires: clk.Now().Add(13 * 24 * time.Hour), Values: []Field{{"uid", `"42"`}}}, clk.Now())
	require.NoError(t, err)
	require.False(t, m.LoadHeader("session="+sealed).IsNew())
	require.NoError(t, m.RevokeAll(context.Background()))
	clk.Add(time.Second)
	assert.True(t, m.LoadHeader("session="+sealed).IsNew(), "sealed before RevokeAll")

	timeless, err := sealer.Seal(&Record{Values: []Field{{"uid", `"42"`}}}, clk.Now())
	require.NoError(t, err)
	assert.True(t, m.LoadHeader("session="+timeless).IsNew(), "no revocation could end it")
	_, err = m.Inspect("session=" + timeless)
	assert.ErrorIs(t, err, ErrRevoked)
	assert.Equal(t, uint64(2), m.Counts().Refused[RefusedRevoked])

	plain, _ := newTestManager(t, Options{Format: f})
	assert.False(t, plain.LoadHeader("session="+timeless).IsNew(), "without revocation it lives MaxAge from each read")
}
