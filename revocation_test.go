package cookiesession

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replicas returns two Managers sharing one revocation list, on one clock,
// as two replicas of a service would.
func replicas(t *testing.T) (a, b *Manager, list *MemoryRevocations, clk *clock) {
	t.Helper()
	list = NewMemoryRevocations()
	a, clk = newTestManager(t, Options{Revocations: list})
	b, _ = newTestManager(t, Options{Revocations: list})
	b.now = clk.Now
	list.now = clk.Now
	return a, b, list, clk
}

// within fails the test instead of hanging when f deadlocks.
func within(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("deadlock: the call did not return")
	}
}

func TestRevokeSession(t *testing.T) {
	a, b, _, _ := replicas(t)
	victim := issue(t, a, func(s *Session) { s.Set("user", 1) })
	stolen := browser{"session": victim["session"]}
	stolenHeader := stolen.header()
	other := issue(t, a, func(s *Session) { s.Set("user", 2) })

	// The logout handler, as the README writes it: revoking calls back
	// into the session's lazy decoding, which asks the list.
	within(t, func() {
		victim.visit(a, func(_ http.ResponseWriter, s *Session) {
			require.NoError(t, a.RevokeSession(context.Background(), s))
		})
	})
	assert.Empty(t, victim, "this browser's cookies are deleted")
	for _, m := range []*Manager{a, b} {
		resp := serve(m, stolenHeader, func(_ http.ResponseWriter, s *Session) {
			assert.True(t, s.IsNew(), "a copy of the cookie is refused on every replica")
		})
		assert.Equal(t, []string{"session"}, deleted(resp))
		other.visit(m, func(_ http.ResponseWriter, s *Session) { assert.False(t, s.IsNew()) })
	}
	in, err := b.Inspect(stolenHeader)
	assert.ErrorIs(t, err, ErrRevoked)
	require.NotNil(t, in, "a refused session that verified is still shown to tools")
	assert.JSONEq(t, "1", string(in.Values["user"]))

	// A new session has nothing to revoke.
	fresh := browser{}
	fresh.visit(a, func(_ http.ResponseWriter, s *Session) { require.NoError(t, a.RevokeSession(context.Background(), s)) })
	assert.Empty(t, fresh)
}

func TestRevokeSubject(t *testing.T) {
	a, b, _, clk := replicas(t)
	login := func(user string) func(s *Session) {
		return func(s *Session) { s.Renew(); s.SetSubject(user); s.Set("user", user) }
	}
	laptop := issue(t, a, login("ada"))
	phone := issue(t, b, login("ada"))
	grace := issue(t, a, login("grace"))
	clk.Add(time.Minute)

	// "Sign out of all other devices" from the laptop: revoke, then renew
	// the laptop's session so it is newer than the revocation.
	within(t, func() {
		laptop.visit(a, func(_ http.ResponseWriter, s *Session) {
			assert.Equal(t, "ada", s.Subject())
			require.NoError(t, a.RevokeSubject(context.Background(), s.Subject()))
			s.Renew()
		})
	})
	for _, m := range []*Manager{a, b} {
		phone.visit(m, func(_ http.ResponseWriter, s *Session) { assert.True(t, s.IsNew(), "ada's other session is gone") })
		laptop.visit(m, func(_ http.ResponseWriter, s *Session) { assert.False(t, s.IsNew(), "the renewed session stays") })
		grace.visit(m, func(_ http.ResponseWriter, s *Session) { assert.False(t, s.IsNew(), "other subjects are untouched") })
	}
	again := issue(t, b, login("ada"))
	again.visit(a, func(_ http.ResponseWriter, s *Session) { assert.False(t, s.IsNew(), "a later login works") })
	assert.Error(t, a.RevokeSubject(context.Background(), ""))
}

func TestRevokeAll(t *testing.T) {
	a, b, _, clk := replicas(t)
	before := issue(t, a, func(s *Session) { s.Set("n", 1) })
	clk.Add(time.Second)
	require.NoError(t, b.RevokeAll(context.Background()))
	after := issue(t, a, func(s *Session) { s.Set("n", 2) })
	for _, m := range []*Manager{a, b} {
		before.visit(m, func(_ http.ResponseWriter, s *Session) { assert.True(t, s.IsNew()) })
		after.visit(m, func(_ http.ResponseWriter, s *Session) { assert.False(t, s.IsNew()) })
	}
}

func TestRevokeWithoutAList(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := issue(t, m, func(s *Session) { s.Set("n", 1) })
	b.visit(m, func(_ http.ResponseWriter, s *Session) {
		assert.ErrorIs(t, m.RevokeSession(context.Background(), s), errNoRevocations)
	})
	assert.Empty(t, b, "the session is still destroyed")
	assert.ErrorIs(t, m.RevokeAll(context.Background()), errNoRevocations)
}

// TestRevocationListGetsTheRequest: the list is asked with the request's
// context and the session's identity, once per request.
func TestRevocationListGetsTheRequest(t *testing.T) {
	list := &recordingList{}
	m, clk := newTestManager(t, Options{Revocations: list})
	b := issue(t, m, func(s *Session) { s.SetSubject("ada"); s.Set("n", 1) })
	type ctxKey struct{}
	req, _ := http.NewRequestWithContext(context.WithValue(context.Background(), ctxKey{}, "request"), http.MethodGet, "/", nil)
	req.Header.Set("Cookie", b.header())
	s := m.Load(req)
	assert.False(t, s.IsNew())
	s.Set("n", 2)
	require.Len(t, list.asked, 1)
	assert.Equal(t, "request", list.ctx.Value(ctxKey{}))
	assert.Equal(t, "ada", list.asked[0].Subject)
	assert.Equal(t, clk.Now().Unix(), list.asked[0].Created.Unix())
	assert.Equal(t, s.ID(), list.asked[0].ID)
}

type recordingList struct {
	ctx   context.Context
	asked []SessionInfo
}

func (l *recordingList) Revoked(ctx context.Context, s SessionInfo) bool {
	l.ctx = ctx
	l.asked = append(l.asked, s)
	return false
}

func (l *recordingList) Revoke(context.Context, Revocation) error { return nil }

func TestMemoryRevocations(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	l := NewMemoryRevocations()
	l.now = func() time.Time { return now }
	info := func(id, subject string, created time.Time) SessionInfo {
		return SessionInfo{ID: id, Subject: subject, Created: created, Expires: created.Add(time.Hour)}
	}

	t.Run("entries that name no clear set are refused", func(t *testing.T) {
		for _, r := range []Revocation{
			{SessionID: "a", Subject: "b", Until: now},
			{Subject: "b", Until: now},
			{Until: now},
			{SessionID: "a"},
		} {
			assert.Error(t, l.Revoke(ctx, r), "%+v", r)
		}
	})
	t.Run("entries only widen", func(t *testing.T) {
		require.NoError(t, l.Revoke(ctx, SubjectRevocation("ada", now, now.Add(time.Hour))))
		require.NoError(t, l.Revoke(ctx, SubjectRevocation("ada", now.Add(-time.Hour), now.Add(time.Minute))))
		assert.True(t, l.Revoked(ctx, info("x", "ada", now.Add(-time.Minute))), "an older entry arriving late does not narrow it")
		assert.False(t, l.Revoked(ctx, info("x", "ada", now)), "created in the millisecond of Before: kept")
		assert.True(t, l.Revoked(ctx, info("x", "ada", now.Add(-time.Millisecond))), "a millisecond earlier: revoked")
		assert.False(t, l.Revoked(ctx, info("x", "", now.Add(-time.Minute))), "no subject, no match")
	})
	t.Run("expired entries are pruned", func(t *testing.T) {
		for i := range 3000 {
			require.NoError(t, l.Revoke(ctx, SessionRevocation(string(rune('a'+i%26))+time.Duration(i).String(), now.Add(time.Minute))))
		}
		assert.Greater(t, l.Len(), 2000)
		now = now.Add(2 * time.Hour)
		for i := range 3000 {
			require.NoError(t, l.Revoke(ctx, SessionRevocation("late"+time.Duration(i).String(), now.Add(time.Minute))))
		}
		assert.Less(t, l.Len(), 3000+1024, "the first 3,000 expired and were dropped")
		assert.True(t, l.Revoked(ctx, info("late0s", "", now)))
	})
}

func TestSubjectSurvivesRenewAndNotDestroy(t *testing.T) {
	m, _ := newTestManager(t, Options{})
	b := issue(t, m, func(s *Session) { s.SetSubject("ada") })
	b.visit(m, func(_ http.ResponseWriter, s *Session) {
		s.Renew()
		assert.Equal(t, "ada", s.Subject())
		s.Destroy()
		assert.Empty(t, s.Subject())
	})
	express := newExpressManager(t, "k")
	s := express.LoadHeader()
	s.SetSubject("ada")
	_, err := express.SaveHeader(s)
	assert.ErrorContains(t, err, "no subject")
}

// TestRevokeSessionOutlivesEveryCopy: the entry lasts as long as any copy
// of the session could, not only the copy the logout request carried. A
// copy taken before the logout and re-issued with a longer lifetime
// (SetMaxAge, as a sliding "remember me" does) stays refused after the
// logout copy would have expired, and after the list was pruned.
func TestRevokeSessionOutlivesEveryCopy(t *testing.T) {
	a, b, list, clk := replicas(t)
	user := issue(t, a, func(s *Session) { s.Set("user", 1) }) // 24 hours
	stolen := browser{"session": user["session"]}
	stolen.visit(b, func(_ http.ResponseWriter, s *Session) { s.SetMaxAge(30 * 24 * time.Hour) })
	clk.Add(22 * time.Hour)
	user.visit(a, func(_ http.ResponseWriter, s *Session) {
		require.NoError(t, a.RevokeSession(context.Background(), s))
	})
	require.NoError(t, list.Revoke(context.Background(), SessionRevocation("short", clk.Now().Add(time.Hour))))
	clk.Add(3 * time.Hour) // past the logout copy's expiry
	list.mu.Lock()
	list.prune(clk.Now().UnixMilli())
	list.mu.Unlock()
	assert.Equal(t, 1, list.Len(), "the list was pruned meanwhile")
	_, err := a.Inspect(stolen.header())
	assert.ErrorIs(t, err, ErrRevoked, "the copy with 29 days left is still refused")

	clk.Add(29 * 24 * time.Hour)
	_, err = a.Inspect(stolen.header())
	assert.ErrorIs(t, err, ErrExpired, "until it expired")
}

// TestRevokeSessionAfterRenewOrDestroy: a logout handler that renews or
// destroys the session before revoking it (as the README advises renewing
// at logout) still revokes the session the request arrived with.
func TestRevokeSessionAfterRenewOrDestroy(t *testing.T) {
	for name, first := range map[string]func(s *Session){
		"Renew":       (*Session).Renew,
		"Destroy":     (*Session).Destroy,
		"Renew twice": func(s *Session) { s.Renew(); s.Set("x", 1); s.Renew() },
		"SetMaxAge 0": func(s *Session) { s.SetMaxAge(0) },
	} {
		t.Run(name, func(t *testing.T) {
			a, b, _, _ := replicas(t)
			user := issue(t, a, func(s *Session) { s.Set("user", 1) })
			stolen := user.header()
			user.visit(a, func(_ http.ResponseWriter, s *Session) {
				first(s)
				require.NoError(t, a.RevokeSession(context.Background(), s))
			})
			assert.Empty(t, user)
			_, err := b.Inspect(stolen)
			assert.ErrorIs(t, err, ErrRevoked)
		})
	}

	// A session sent on this very request is revoked with the one it
	// replaced.
	a, _, _, _ := replicas(t)
	user := issue(t, a, func(s *Session) { s.Set("user", 1) })
	var renewed []string
	user.visit(a, func(w http.ResponseWriter, s *Session) {
		s.Renew()
		require.NoError(t, a.Save(w, s))
		renewed = w.Header().Values("Set-Cookie")
		require.NoError(t, a.RevokeSession(context.Background(), s))
	})
	require.NotEmpty(t, renewed)
	_, err := a.Inspect(strings.SplitN(renewed[0], ";", 2)[0])
	assert.ErrorIs(t, err, ErrRevoked)
}

// TestNotBeforeInMilliseconds: creation times count in milliseconds, and
// so does NotBefore.
func TestNotBeforeInMilliseconds(t *testing.T) {
	m, clk := newTestManager(t, Options{})
	clk.t = clk.t.Add(100 * time.Millisecond)
	early := issue(t, m, func(s *Session) { s.Set("n", 1) })
	clk.Add(400 * time.Millisecond)
	notBefore := clk.Now()
	clk.Add(time.Millisecond)
	late := issue(t, m, func(s *Session) { s.Set("n", 2) })

	killed, _ := newTestManager(t, Options{NotBefore: notBefore})
	killed.now = clk.Now
	_, err := killed.Inspect(early.header())
	assert.ErrorIs(t, err, ErrRevoked, "created 400 ms before NotBefore, in the same second")
	_, err = killed.Inspect(late.header())
	assert.NoError(t, err)
}

// TestRevokeSessionOfARefusedCopy: the copy a logout request carries may
// have expired (idle) while a copy elsewhere was kept alive, or two valid
// sessions may arrive under one name. Every session the cookies named is
// revoked. A cookie no secret verifies names none: RevokeSession says so.
func TestRevokeSessionOfARefusedCopy(t *testing.T) {
	list := NewMemoryRevocations()
	m, clk := newTestManager(t, Options{Revocations: list, IdleTimeout: time.Hour})
	list.now = clk.Now
	user := issue(t, m, func(s *Session) { s.Set("user", 1) })
	thief := browser{"session": user["session"]}
	for range 4 { // kept alive elsewhere while the user's copy idles out
		clk.Add(30 * time.Minute)
		thief.visit(m, touch)
	}
	user.visit(m, func(_ http.ResponseWriter, s *Session) {
		assert.True(t, s.IsNew(), "the user's own copy has expired")
		assert.NoError(t, m.RevokeSession(context.Background(), s))
	})
	_, err := m.Inspect(thief.header())
	assert.ErrorIs(t, err, ErrRevoked, "the copy kept alive elsewhere")

	a := issue(t, m, func(s *Session) { s.Set("user", "a") })
	b := issue(t, m, func(s *Session) { s.Set("user", "b") })
	serve(m, a.header()+"; "+b.header(), func(_ http.ResponseWriter, s *Session) {
		assert.True(t, s.IsNew(), "never one of two sessions")
		assert.NoError(t, m.RevokeSession(context.Background(), s))
	})
	for _, c := range []browser{a, b} {
		_, err := m.Inspect(c.header())
		assert.ErrorIs(t, err, ErrRevoked)
	}

	serve(m, "session=junk", func(_ http.ResponseWriter, s *Session) {
		err := m.RevokeSession(context.Background(), s)
		assert.ErrorIs(t, err, ErrInvalid, "a cookie that names no session")
		assert.EqualError(t, err, "cookiesession: nothing revoked: the session cookie is invalid", "the prefix once")
	})
	serve(m, "", func(_ http.ResponseWriter, s *Session) {
		assert.NoError(t, m.RevokeSession(context.Background(), s), "no cookie, nothing to revoke")
	})
}

// TestRevokeSessionOfEveryIDSent: each ID this request sent in a cookie
// (renewed twice, saved each time) is revoked with the one it arrived with.
func TestRevokeSessionOfEveryIDSent(t *testing.T) {
	a, _, _, _ := replicas(t)
	user := issue(t, a, func(s *Session) { s.Set("user", 1) })
	arrived := user.header()
	var sent []string
	user.visit(a, func(w http.ResponseWriter, s *Session) {
		for range 2 {
			s.Renew()
			lines, err := a.SaveHeader(s)
			require.NoError(t, err)
			sent = append(sent, strings.SplitN(lines[0], ";", 2)[0])
		}
		require.NoError(t, a.RevokeSession(context.Background(), s))
	})
	require.Len(t, sent, 2)
	for _, cookie := range append(sent, arrived) {
		_, err := a.Inspect(cookie)
		assert.ErrorIs(t, err, ErrRevoked, cookie)
	}
}

// TestIDTable: the compact set of revoked session IDs keeps what it is
// given, only widens an entry's time, forgets exactly the entries past
// theirs, and grows and shrinks with them.
func TestIDTable(t *testing.T) {
	tab := newIDTable()
	put := func(id string, until time.Time) { tab.grow(1); tab.put(tab.key(id), seconds(until)) }
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	id := func(i int) string { return fmt.Sprintf("session-%06d", i) }
	const n = 5000
	for i := range n {
		put(id(i), now.Add(time.Duration(i%2+1)*time.Hour)) // odd ones an hour longer
	}
	assert.Equal(t, n, tab.n)
	assert.LessOrEqual(t, 4*tab.n, 3*len(tab.slots), "at most three quarters full")
	assert.LessOrEqual(t, len(tab.slots), 4*n, "at most twice the slots it needs")
	for i := range n {
		require.True(t, tab.has(id(i)), id(i))
		require.False(t, tab.has(id(n+i)), "never given: %s", id(n+i))
	}
	put(id(0), now.Add(-time.Hour)) // earlier: keeps its time
	put(id(0), now.Add(time.Minute))
	assert.Equal(t, n, tab.n, "the same ID twice is one entry")

	tab.prune(now.Add(90 * time.Minute))
	assert.Equal(t, n/2, tab.n, "the entries of one hour went, those of two stayed")
	assert.LessOrEqual(t, len(tab.slots), 4*n/2, "and the table shrank")
	for i := range n {
		require.Equal(t, i%2 == 1, tab.has(id(i)), id(i))
	}
	tab.prune(now.Add(3 * time.Hour))
	assert.Zero(t, tab.n)
	assert.Len(t, tab.slots, 16)

	// A time in the past, or past 2106, is kept as it can be.
	put("old", time.Unix(-5, 0))
	put("far", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))
	tab.prune(time.Unix(0, 0))
	assert.False(t, tab.has("old"))
	assert.True(t, tab.has("far"))

	list := NewMemoryRevocations()
	list.now = func() time.Time { return now }
	require.NoError(t, list.Revoke(context.Background(), SessionRevocation("a", now.Add(time.Hour))))
	s := SessionInfo{ID: "b", Created: now}
	assert.Zero(t, testing.AllocsPerRun(100, func() { list.Revoked(context.Background(), s) }), "the check allocates nothing")
}

// TestMemoryRevokeMany: a batch is put in force as a Revoke of each would be,
// or not at all when one entry is invalid; Grow sizes the table for a
// batch to come, so that it is not copied on the way.
func TestMemoryRevokeMany(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	l := NewMemoryRevocations()
	err := l.RevokeMany(ctx, []Revocation{SessionRevocation("fine", now.Add(time.Hour)), {Until: now.Add(time.Hour)}})
	require.ErrorContains(t, err, "revocation 1")
	assert.Zero(t, l.Len(), "nothing applied")

	const n = 20_000
	l.Grow(n)
	size := len(l.sessions.slots)
	assert.GreaterOrEqual(t, 3*size, 4*n, "room for n at three quarters full")
	assert.LessOrEqual(t, size, 2*n, "and not much more")
	rs := make([]Revocation, 0, n+102)
	for i := range 100 { // expired already: pruned on the way, without shrinking the table
		rs = append(rs, SessionRevocation(fmt.Sprintf("old-%d", i), now.Add(-time.Hour)))
	}
	for i := range n {
		rs = append(rs, SessionRevocation(fmt.Sprintf("s-%d", i), now.Add(time.Hour)))
	}
	rs = append(rs, SubjectRevocation("ada", now, now.Add(time.Hour)), AllRevocation(now.Add(-time.Hour), now.Add(time.Hour)))
	require.NoError(t, l.RevokeMany(ctx, rs[:n/2]))
	require.NoError(t, l.RevokeMany(ctx, rs[n/2:]))
	assert.Equal(t, size, len(l.sessions.slots), "not resized")
	assert.Equal(t, n+1, l.Len())
	one := NewMemoryRevocations()
	for _, r := range rs {
		require.NoError(t, one.Revoke(ctx, r))
	}
	for _, s := range []SessionInfo{
		{ID: "s-0", Created: now}, {ID: fmt.Sprintf("s-%d", n-1), Created: now}, {ID: "s-x", Created: now},
		{ID: "s-y", Subject: "ada", Created: now.Add(-time.Minute)}, {ID: "s-z", Subject: "ada", Created: now.Add(time.Minute)},
		{ID: "s-w", Created: now.Add(-2 * time.Hour)},
	} {
		assert.Equal(t, one.Revoked(ctx, s), l.Revoked(ctx, s), "%+v", s)
	}
	for i := range n {
		require.True(t, l.Revoked(ctx, SessionInfo{ID: fmt.Sprintf("s-%d", i), Created: now}), i)
	}
	assert.False(t, l.Revoked(ctx, SessionInfo{ID: "s-x", Created: now}))
}

// TestCovers: an entry covers a revocation of the same kind and name that
// revokes no more and ends no later; a logout replayed with the same
// cookie on the same day makes the same entry.
func TestCovers(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	l := NewMemoryRevocations()
	l.now = func() time.Time { return now }
	require.NoError(t, l.Revoke(ctx, SessionRevocation("s", now.Add(time.Hour))))
	require.NoError(t, l.Revoke(ctx, SubjectRevocation("ada", now, now.Add(time.Hour))))
	require.NoError(t, l.Revoke(ctx, AllRevocation(now, now.Add(time.Hour))))
	for r, covered := range map[Revocation]bool{
		SessionRevocation("s", now.Add(time.Hour)):                       true,
		SessionRevocation("s", now.Add(time.Minute)):                     true,
		SessionRevocation("s", now.Add(2*time.Hour)):                     false,
		SessionRevocation("t", now.Add(time.Minute)):                     false,
		SubjectRevocation("ada", now, now.Add(time.Hour)):                true,
		SubjectRevocation("ada", now.Add(time.Millisecond), now):         false,
		SubjectRevocation("ada", now, now.Add(2*time.Hour)):              false,
		SubjectRevocation("grace", now.Add(-time.Hour), now):             false,
		AllRevocation(now.Add(-time.Hour), now.Add(time.Hour)):           true,
		AllRevocation(now.Add(time.Millisecond), now.Add(time.Hour)):     false,
		AllRevocation(now, now.Add(2*time.Hour)):                         false,
		SubjectRevocation("s", now.Add(-time.Hour), now.Add(-time.Hour)): false,
	} {
		assert.Equal(t, covered, l.Covers(r), "%+v", r)
	}

	a, _, list, clk := replicas(t)
	var made []Revocation
	counting := &replayList{MemoryRevocations: list, made: &made}
	a.revocations = counting
	cookie := issue(t, a, func(s *Session) { s.Set("user", 1) })
	for range 3 {
		clk.Add(time.Minute)
		browser{"session": cookie["session"]}.visit(a, func(_ http.ResponseWriter, s *Session) {
			require.NoError(t, a.RevokeSession(ctx, s))
		})
	}
	require.Len(t, made, 3)
	assert.Equal(t, made[0], made[2], "replays on one day make the same entry")
	assert.True(t, list.Covers(made[2]))
}

// replayList records what it is asked to revoke.
type replayList struct {
	*MemoryRevocations
	made *[]Revocation
}

func (r *replayList) Revoke(ctx context.Context, rev Revocation) error {
	*r.made = append(*r.made, rev)
	return r.MemoryRevocations.Revoke(ctx, rev)
}

// TestUntilTheEndOfTime: an Until past what Unix milliseconds hold (the
// largest time.Time, say) is kept as the last of them, not wrapped round
// into the past and dropped at the next resize.
func TestUntilTheEndOfTime(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	forever := time.Unix(1<<62, 0)
	l := NewMemoryRevocations()
	require.NoError(t, l.Revoke(ctx, SessionRevocation("forever", forever)))
	require.NoError(t, l.Revoke(ctx, SubjectRevocation("ada", now, forever)))
	l.Grow(100) // a resize drops what is expired
	l.mu.Lock()
	l.prune(now.UnixMilli())
	l.mu.Unlock()
	assert.True(t, l.Revoked(ctx, SessionInfo{ID: "forever", Created: now}))
	assert.True(t, l.Revoked(ctx, SessionInfo{ID: "x", Subject: "ada", Created: now.Add(-time.Second)}))
	assert.True(t, l.Covers(SessionRevocation("forever", forever)))
}

// TestGrowIsBounded: a count read from elsewhere (a shared list's sizes)
// cannot make Grow allocate more than a replica survives.
func TestGrowIsBounded(t *testing.T) {
	l := NewMemoryRevocations()
	l.Grow(1 << 40)
	assert.LessOrEqual(t, len(l.sessions.slots)*12, 100<<20, "at most about 84 MB")
	assert.GreaterOrEqual(t, len(l.sessions.slots), 4<<20, "room for 2^22 entries")
}
