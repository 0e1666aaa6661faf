package cookiesession

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
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
	m.replacing.Lock() // one writer at a time; readers never wait
	defer m.replacing.Unlock()
	set, err := m.newSecretSet(secrets, m.secrets.Load(), m.now())
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
func (m *Manager) SafeToRemove(index int, quiet time.Duration) (bool, string) {
	set := m.secrets.Load()
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
	switch {
	case now.Sub(set.since) >= maxCookieLifetime:
		return true, fmt.Sprintf("the first secret has sealed every cookie for %s, longer than any cookie lives", now.Sub(set.since).Round(time.Second))
	case now.Sub(since) >= quiet:
		return true, fmt.Sprintf("it has verified no cookie for %s", now.Sub(since).Round(time.Second))
	case c.last.Load() != 0:
		return false, fmt.Sprintf("it verified a cookie %s ago", now.Sub(since).Round(time.Second))
	}
	return false, fmt.Sprintf("the first secret has sealed for only %s", now.Sub(set.since).Round(time.Second))
}

// WatchSecretsFile keeps m's secrets those of the file at path (see
// SecretsFromFile), reading it every interval (5 seconds when 0 or less)
// until ctx ends, and returns ctx's error. Reading follows symbolic links,
// so the atomic swap of a directory by which Kubernetes updates a mounted
// Secret is seen like a write. A changed file is read again a moment later
// and used only if it reads the same, so that a file being rewritten in
// place is never caught half written. A file that is missing, empty or
// invalid never replaces good secrets: the failure is logged as a warning,
// once until it changes, and the secrets in force stay. Each replacement
// is logged with the fingerprints of the new secrets, and a warning when
// the new first secret was not in force before: replicas that do not have
// it yet refuse the cookies it seals (see the rotation documentation).
// Run it in a goroutine of its own.
func (m *Manager) WatchSecretsFile(ctx context.Context, path string, interval time.Duration) error {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	settle := min(max(interval/4, 5*time.Millisecond), time.Second)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var applied []byte // the file's content in force
	lastFailure := ""
	fail := func(err error) {
		if err.Error() != lastFailure {
			lastFailure = err.Error()
			m.log().Warn("cookiesession: secrets file not used; the secrets in force stay", "cookie", m.name, "file", path, "err", err)
		}
	}
	for {
		data, err := os.ReadFile(path)
		switch {
		case err != nil:
			fail(err)
		case bytes.Equal(data, applied):
			lastFailure = ""
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
			applied, lastFailure = data, ""
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// replaceFrom puts the secrets of a file's content in force, and logs it.
func (m *Manager) replaceFrom(data []byte, path string) error {
	secrets, err := ParseSecrets(string(data), path)
	if err != nil {
		return err
	}
	old := m.secrets.Load()
	if err := m.ReplaceSecrets(secrets); err != nil {
		return err
	}
	fps := make([]string, len(secrets))
	for i, s := range secrets {
		fps[i] = SecretFingerprint(s)
	}
	m.log().Info("cookiesession: secrets in force", "cookie", m.name, "file", path, "fingerprints", fps)
	if !slices.ContainsFunc(old.counters, func(c *secretCounter) bool { return c.fingerprint == fps[0] }) {
		m.log().Warn("cookiesession: the new first secret was not in force before: replicas that do not have it yet refuse the cookies it seals; add a new secret second, and promote it once every replica has it",
			"cookie", m.name, "file", path, "first", fps[0])
	}
	return nil
}
