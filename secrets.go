package cookiesession

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
)

// A Manager's secrets can change while it serves: ReplaceSecrets swaps in a
// new set at once, and requests read the set they started with, without a
// lock. What each secret verified is counted by its fingerprint, so the
// counts carry over a rotation and show an old secret's share falling.

// secretSet is one generation of a Manager's secrets.
type secretSet struct {
	ring     keyRing          // the package's own formats
	sealer   Sealer           // any other format
	counters []*secretCounter // by index, as ring
	since    time.Time        // when ring[0] began sealing in this Manager
	changed  time.Time        // when this set was put in force
	// removed holds the keys of the secrets this set dropped from the one
	// before (at most maxRemoved), for an hour after the change: a cookie
	// none of ring verifies is tried with them, so that the refusal
	// summary can say, with proof, that a secret was removed too soon.
	removed keyRing
	// retired holds the counters of the secrets taken out of force while
	// the Manager ran, most recently first, so that a secret put back
	// continues its counts and exporters keep a removed secret's series.
	retired []*secretCounter
}

// Bounds on the check against removed secrets: it costs a value that no
// secret verifies one more verification per removed secret.
const (
	maxRemoved    = 4
	removedWindow = time.Hour
	// maxRetired bounds the counters kept for removed secrets: a secret
	// removed longer ago than 64 others is forgotten, and counts from
	// zero if it is ever put back.
	maxRetired = 64
)

// errRemovedSecret: no secret in force verifies the value, but one that
// the last change of secrets removed does.
var errRemovedSecret = fmt.Errorf("%w: sealed with a secret removed at the last change of secrets", errNotVerified)

// sealedByRemoved reports whether a secret set removed verifies value,
// which none of set.ring verifies, within removedWindow of the change.
func (set *secretSet) sealedByRemoved(f BuiltinFormat, name, value string, scratch []byte, now time.Time) bool {
	if len(set.removed) == 0 || now.Sub(set.changed) >= removedWindow {
		return false
	}
	_, _, _, err := set.removed.open(f, name, value, scratch)
	return err == nil
}

// secretCounter counts what one secret verified.
type secretCounter struct {
	fingerprint string
	joined      time.Time // when ReplaceSecrets added the secret; zero: from the start
	verified    atomic.Uint64
	last        atomic.Int64 // Unix nanoseconds of the last; 0: never
	// recent counts by minute over the last hour: bucket m%60 holds
	// minute m. A bucket is reset when its minute comes round again; a
	// count racing that reset may be lost, which a monitoring figure
	// can afford and an exact one would pay for with a lock.
	recent [60]struct {
		minute atomic.Int64
		n      atomic.Uint64
	}
}

// count records one verification at now.
func (c *secretCounter) count(now time.Time) {
	c.verified.Add(1)
	// One store a second at most: the counter is shared by every core.
	if t := now.UnixNano(); t-c.last.Load() >= int64(time.Second) {
		c.last.Store(t)
	}
	minute := now.Unix() / 60
	b := &c.recent[minute%60]
	if old := b.minute.Load(); old != minute && b.minute.CompareAndSwap(old, minute) {
		b.n.Store(0)
	}
	b.n.Add(1)
}

// snapshot returns what c counted, at now.
func (c *secretCounter) snapshot(now time.Time) SecretCounts {
	s := SecretCounts{Fingerprint: c.fingerprint, Verified: c.verified.Load(), Recent: c.recentCount(now)}
	if last := c.last.Load(); last != 0 {
		s.LastVerified = time.Unix(0, last)
	}
	return s
}

// recentCount returns the verifications of the hour before now.
func (c *secretCounter) recentCount(now time.Time) uint64 {
	minute, n := now.Unix()/60, uint64(0)
	for i := range c.recent {
		if m := c.recent[i].minute.Load(); m > minute-60 && m <= minute {
			n += c.recent[i].n.Load()
		}
	}
	return n
}

// SecretFingerprint returns a short name for secret that tells secrets
// apart without showing them: 8 hex digits of a hash derived from it, the
// same in every process. The command's secret and inspect print it. For a
// secret from GenerateSecret it reveals nothing usable; for a guessable one
// (a passphrase, an Express application's key) it lets whoever sees it
// test guesses offline, as a captured cookie does.
func SecretFingerprint(secret []byte) string {
	sum := sha256.Sum256(derive(secret, labelFingerprint))
	return hex.EncodeToString(sum[:4])
}

// newSecretSet derives the ring for secrets, keeping the counters of the
// secrets old already counts. since is when ring[0] began sealing: now,
// unless old's first secret is still first.
func (m *Manager) newSecretSet(secrets [][]byte, old *secretSet, now time.Time) (*secretSet, error) {
	set := &secretSet{counters: make([]*secretCounter, len(secrets)), since: now, changed: now}
	var err error
	if m.foreign {
		if len(secrets) == 0 {
			return nil, fmt.Errorf("%w: no secrets given", ErrWeakSecret)
		}
		if set.sealer, err = m.format.NewSealer(secrets, m.name); err != nil {
			return nil, err
		}
	} else if set.ring, err = newKeyRing(secrets, m.builtin.minSecretLength()); err != nil {
		return nil, err
	}
	if m.format == FormatExpress {
		for i, k := range secrets {
			if len(k) < minSecretLength {
				m.log().Warn("cookiesession: FormatExpress secret is short; anyone who guesses it can forge sessions", "secret", i, "bytes", len(k))
			}
		}
	}
	for i := range secrets {
		if !m.foreign {
			set.ring[i].aad = compactAAD(set.ring[i].hint, m.name)
		}
		fp := SecretFingerprint(secrets[i])
		for j := range i {
			if set.counters[j].fingerprint == fp {
				return nil, fmt.Errorf("cookiesession: secret %d repeats secret %d", i, j)
			}
		}
		set.counters[i] = &secretCounter{fingerprint: fp}
		if old == nil {
			continue // there from the start: set.since counts
		}
		set.counters[i].joined = now
		for j, c := range old.counters {
			if c.fingerprint == fp {
				set.counters[i] = c
				if i == 0 && j == 0 {
					set.since = old.since
				}
			}
		}
		// A secret put back continues its counts; it may have sealed
		// cookies elsewhere meanwhile, so it is quiet from now. No
		// request counts with a retired counter, and no set in force
		// holds it.
		if k := slices.IndexFunc(old.retired, func(c *secretCounter) bool { return c.fingerprint == fp }); k >= 0 {
			set.counters[i] = old.retired[k]
			set.counters[i].joined = now
		}
	}
	if old != nil {
		inForce := func(c *secretCounter) bool {
			return slices.ContainsFunc(set.counters, func(n *secretCounter) bool { return n.fingerprint == c.fingerprint })
		}
		for j, c := range old.counters {
			if inForce(c) {
				continue
			}
			if len(set.removed) < maxRemoved && !m.foreign { // a foreign format's sealer keeps no keys to try
				set.removed = append(set.removed, old.ring[j])
			}
			set.retired = append(set.retired, c)
		}
		for _, c := range old.retired {
			if !inForce(c) && len(set.retired) < maxRetired {
				set.retired = append(set.retired, c)
			}
		}
	}
	return set, nil
}

// ReplaceSecrets puts secrets in force at once, for every request that
// starts afterwards: the first seals, every one opens, as with
// Options.Secrets. They are checked exactly as New checks them; when they
// are refused, the secrets in force stay. Requests are never blocked: each
// uses the secrets in force when it read its cookie. See WatchSecretsFile
// to keep them current from a file.
func (m *Manager) ReplaceSecrets(secrets [][]byte) error {
	return m.replaceSecrets(secrets, nil)
}

// replaceSecrets is ReplaceSecrets, with check (when not nil) to refuse
// the change from old to set, or adjust set, once the secrets passed
// New's checks.
func (m *Manager) replaceSecrets(secrets [][]byte, check func(old, set *secretSet) error) error {
	m.replacing.Lock() // one writer at a time; readers never wait
	defer m.replacing.Unlock()
	old := m.secrets.Load()
	set, err := m.newSecretSet(secrets, old, m.now())
	if err == nil && check != nil {
		err = check(old, set)
	}
	if err != nil {
		return err
	}
	m.secrets.Store(set)
	return nil
}

// SafeToRemove says whether the secret at index in the secrets in force
// can be removed without logging anyone out, and why. The first secret
// seals every cookie and never is. Another is safe when it has verified no
// cookie for quiet while the first was sealing (so no live browser holds
// one: every cookie it sealed was re-issued or has expired), or when
// nothing it sealed can still be live, 400 days after the first began
// sealing. Choose quiet at least as long as the longest a user stays away
// and comes back still logged in: Options.MaxAge, or the longest lifetime
// Session.SetMaxAge gives. The counts are this process's: after a restart
// it knows only what it has seen since, so it answers later, never sooner.
// A process whose secrets have verified no cookie at all (a replica that
// serves no sessions, or one that took no traffic yet) has nothing to judge
// by, and says so rather than "safe": ask a replica that serves sessions.
func (m *Manager) SafeToRemove(index int, quiet time.Duration) (bool, string) {
	return m.safeToRemove(m.secrets.Load(), index, quiet)
}

// safeToRemove is SafeToRemove for the secrets of set.
func (m *Manager) safeToRemove(set *secretSet, index int, quiet time.Duration) (bool, string) {
	now := m.now()
	switch {
	case index < 0 || index >= len(set.counters):
		return false, fmt.Sprintf("there is no secret %d", index)
	case index == 0:
		return false, "the first secret seals every cookie"
	}
	c := set.counters[index]
	// Quiet since the latest of: the first began sealing, this secret
	// joined (it may have sealed elsewhere before), it last verified.
	since := set.since
	if c.joined.After(since) {
		since = c.joined
	}
	if last := c.last.Load(); last != 0 && time.Unix(0, last).After(since) {
		since = time.Unix(0, last)
	}
	seen := slices.ContainsFunc(set.counters, func(c *secretCounter) bool { return c.verified.Load() > 0 })
	switch {
	case now.Sub(set.since) >= maxCookieLifetime:
		return true, fmt.Sprintf("the first secret has sealed every cookie for %s, longer than any cookie lives", now.Sub(set.since).Round(time.Second))
	case !seen:
		s := &m.stats
		refused := uint64(0)
		for r := range s.refused {
			refused += s.refused[r].Load()
		}
		return false, fmt.Sprintf("this process has verified no cookie with any secret (%d requests came without one, %d cookies were refused), so it cannot tell whether browsers still hold cookies the secret sealed: ask a replica that serves sessions", s.noCookie.Load(), refused)
	case now.Sub(since) >= quiet:
		return true, fmt.Sprintf("it has verified no cookie for %s", now.Sub(since).Round(time.Second))
	case c.last.Load() != 0:
		return false, fmt.Sprintf("it verified a cookie %s ago", now.Sub(since).Round(time.Second))
	}
	return false, fmt.Sprintf("the first secret has sealed for only %s", now.Sub(set.since).Round(time.Second))
}

// WatchSecretsFile keeps m's secrets those of the file at path (see
// SecretsFromFile), reading it every interval (5 seconds when 0 or less)
// until ctx ends, and returns ctx's error. Run it in a goroutine of its
// own.
//
// Change the file by replacing it whole: write the new content to a file
// beside it and rename that over path, as Kubernetes (the atomic swap of
// a mounted Secret's directory, followed through the symbolic links),
// Docker and systemd do. A file rewritten in place can be read half
// written: a changed file is read again a moment later and used only if
// it reads the same, but a writer that pauses longer is caught halfway.
// So a change that drops the secret now sealing cookies is refused: it is
// what a half-written file looks like (a promotion from "old, new" to
// "new, old" caught after its first line, or a secret cut short), and put
// in force it would log out everyone that secret sealed for. The steps of
// a rotation never drop it: a new secret is added second, promoted once
// in force, and the old one removed from second place. When dropping it
// is meant (a secret that leaked), say so with the line
//
//	# replace: logs everyone out
//
// as the file's last line (after the secrets, so that a file cut short
// never has it), and the change is made and logged as a warning. Remove
// the line once every replica has the new secrets: while it is there, it
// lets any change drop the secret sealing, and every change the file
// makes is warned about.
//
// A file that is missing, empty or invalid, or refused, never replaces
// good secrets: the failure is logged as a warning, once until it changes,
// and the secrets in force stay; a good file after that is logged too.
// Each replacement is logged with the fingerprints of the new secrets, and
// a warning when the new first secret was not in force before: replicas
// that do not have it yet refuse the cookies it seals (see the rotation
// documentation).
func (m *Manager) WatchSecretsFile(ctx context.Context, path string, interval time.Duration) error {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	settle := min(max(interval/4, 5*time.Millisecond), time.Second)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var applied []byte // the file's content in force
	have := false      // applied holds a content, maybe empty
	lastFailure := ""
	fail := func(err error) {
		if err.Error() != lastFailure {
			lastFailure = err.Error()
			m.log().Warn("cookiesession: secrets file not used; the secrets in force stay", "cookie", m.name, "file", path, "err", err)
		}
	}
	recovered := func() {
		if lastFailure != "" {
			m.log().Info("cookiesession: secrets file usable again", "cookie", m.name, "file", path)
		}
		lastFailure = ""
	}
	for {
		data, err := os.ReadFile(path)
		switch {
		case err != nil:
			fail(err)
		case have && bytes.Equal(data, applied):
			recovered()
		default:
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(settle):
			}
			if again, err := os.ReadFile(path); err != nil || !bytes.Equal(again, data) {
				break // still changing: the next tick reads it again
			}
			if err := m.replaceFrom(data, path); err != nil {
				fail(err)
				break
			}
			applied, have = data, true
			recovered()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// replaceAllLine, as a secrets file's last line, asks for a change that
// drops the secret now sealing. Last, so that a file cut short in the
// writing never carries it.
const replaceAllLine = "# replace: logs everyone out"

// replaceFrom puts the secrets of a file's content in force, and logs it.
func (m *Manager) replaceFrom(data []byte, path string) error {
	secrets, err := ParseSecrets(string(data), path)
	if err != nil {
		return err
	}
	fps := make([]string, len(secrets))
	for i, s := range secrets {
		fps[i] = SecretFingerprint(s)
	}
	marked := lastLine(data) == replaceAllLine
	var sealing string
	replaceAll, newFirst := false, false
	err = m.replaceSecrets(secrets, func(old, set *secretSet) error {
		inForce := func(fp string) bool {
			return slices.ContainsFunc(old.counters, func(c *secretCounter) bool { return c.fingerprint == fp })
		}
		sealing, newFirst = old.counters[0].fingerprint, !inForce(fps[0])
		// Whatever the first secret is: a promotion caught after its
		// first line drops the secret sealing for one already in force.
		replaceAll = !slices.Contains(fps, sealing)
		if replaceAll {
			// A secret replaced on purpose (leaked) is not one whose
			// cookies the refusal summary should suggest to keep.
			set.removed = nil
		}
		switch {
		case replaceAll && !marked && hasLine(data, replaceAllLine):
			return fmt.Errorf("cookiesession: the file drops the secret now sealing (%s), and the line %q is not its last: a file cut short would carry it too; make it the last line", sealing, replaceAllLine)
		case replaceAll && !marked:
			return fmt.Errorf("cookiesession: the file drops the secret now sealing (%s): half written, or every session it sealed refused; replace the file whole, promote another secret before removing it, or, to log everyone out, end the file with the line %q", sealing, replaceAllLine)
		}
		return nil
	})
	if err != nil {
		return err
	}
	m.log().Info("cookiesession: secrets in force", "cookie", m.name, "file", path, "fingerprints", fps)
	switch {
	case replaceAll:
		m.log().Warn("cookiesession: the secret sealing was dropped, as the file asks: every session it sealed is refused, which logs everyone out; remove the line from the file once every replica has the new secrets",
			"cookie", m.name, "file", path, "removed", sealing, "first", fps[0])
	case newFirst:
		m.log().Warn("cookiesession: the new first secret was not in force before: replicas that do not have it yet refuse the cookies it seals; add a new secret second, and promote it once every replica has it",
			"cookie", m.name, "file", path, "first", fps[0])
	}
	if marked && !replaceAll {
		m.log().Warn("cookiesession: the secrets file still ends with the line "+strconv.Quote(replaceAllLine)+", which lets any change drop the secret sealing and log everyone out; remove it",
			"cookie", m.name, "file", path)
	}
	return nil
}

// hasLine reports whether text has a line that reads line, white space
// around it aside.
func hasLine(text []byte, line string) bool {
	for l := range bytes.Lines(text) {
		if string(bytes.TrimSpace(l)) == line {
			return true
		}
	}
	return false
}

// lastLine returns the last line of text that is not blank, without the
// white space around it.
func lastLine(text []byte) string {
	text = bytes.TrimSpace(text)
	return string(bytes.TrimSpace(text[bytes.LastIndexByte(text, '\n')+1:]))
}
