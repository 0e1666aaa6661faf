package cookiesession

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"unicode"

	"github.com/gorilla/securecookie"
	"golang.org/x/crypto/chacha20poly1305"
)

// minSecretLength is the shortest secret [New] accepts, in bytes.
//
// A session cookie is forged by anyone who knows or guesses the secret, and
// an attacker can test guesses offline against a single captured cookie. 32
// bytes from a CSPRNG (256 bits, what [GenerateSecret] returns) puts that out of
// reach; a human-chosen password does not, whatever its length.
const minSecretLength = 32

// ErrWeakSecret is returned by [New] and [Manager.ReplaceSecrets] when there
// is no secret, or one is shorter than 32 bytes or plainly not random: one
// that repeats a pattern of at most half its length (aaaa…, abab…, 0000…, a
// password typed twice) or uses fewer than 8 different byte values. The
// check catches mistakes, not every weak secret: only one from a CSPRNG,
// such as [GenerateSecret]'s, is strong. [SecretsFromEnv], [SecretsFromFile]
// and [ParseSecrets] return it only when they find no secret, or one holding
// white space: what a secret must be depends on the format, which only the
// Manager knows ([FormatExpress] takes an Express application's keys as they
// are).
var ErrWeakSecret = errors.New("cookiesession: weak or missing secret")

// HKDF info labels. Each purpose gets its own sub-key, so a value made for
// one format can never verify under another, and one secret per generation
// is all an operator has to manage.
const (
	labelSCHash      = "cookiesession v1 securecookie hmac-sha256"
	labelSCBlock     = "cookiesession v1 securecookie aes-256-ctr"
	labelSignHash    = "cookiesession v1 sign-only hmac-sha256"
	labelCompact     = "cookiesession v1 compact xchacha20-poly1305"
	labelKeyHint     = "cookiesession v1 compact key hint"
	labelFingerprint = "cookiesession v1 secret fingerprint"
	derivedKeySize   = 32
)

// key holds everything derived from one secret, built once in [New] so no
// request pays for key setup.
type key struct {
	sealed   *securecookie.SecureCookie // FormatSecureCookie, to encode
	signOnly *securecookie.SecureCookie // FormatSignOnly, to encode
	// To decode the securecookie formats (openSecureCookie).
	sealedMAC, signMAC *sync.Pool   // of *macState
	block              cipher.Block // FormatSecureCookie's AES-256
	compact            cipher.AEAD  // FormatCompact
	hint               byte         // FormatCompact: names the key in the value
	aad                []byte       // FormatCompact: compactAAD for this key and the cookie name
	raw                []byte       // FormatExpress: Keygrip signs with the secret itself
}

// keyRing holds the keys newest first: index 0 encodes, every index
// decodes. The index of the key that verified a value tells the caller
// whether the value must be re-issued.
type keyRing []key

// newKeyRing derives the keys. minLength is minSecretLength, but for
// FormatExpress, whose existing keys are whatever the Express application
// was given.
func newKeyRing(secrets [][]byte, minLength int) (keyRing, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secrets given; make one with `cookiesession secret` or GenerateSecret", ErrWeakSecret)
	}
	need := max(minLength, 1)
	ring := make(keyRing, len(secrets))
	for i, secret := range secrets {
		if len(secret) < need {
			return nil, fmt.Errorf("%w: secret %d is %d bytes, need at least %d; make one with `cookiesession secret` or GenerateSecret", ErrWeakSecret, i, len(secret), need)
		}
		if minLength > 0 {
			if why := notRandom(secret); why != "" {
				return nil, fmt.Errorf("%w: secret %d %s; use GenerateSecret", ErrWeakSecret, i, why)
			}
		}
		// XChaCha20-Poly1305 comes from x/crypto because the standard
		// library has no AEAD with a nonce long enough to pick at random
		// for every cookie: AES-GCM's 96-bit random nonces allow only 2^32
		// messages per key (NIST SP 800-38D), which a busy site reaches.
		aead, err := chacha20poly1305.NewX(derive(secret, labelCompact))
		if err != nil {
			return nil, fmt.Errorf("cookiesession: secret %d: %w", i, err)
		}
		scHash, scBlock, signHash := derive(secret, labelSCHash), derive(secret, labelSCBlock), derive(secret, labelSignHash)
		block, err := aes.NewCipher(scBlock)
		if err != nil {
			return nil, fmt.Errorf("cookiesession: secret %d: %w", i, err)
		}
		ring[i] = key{
			sealed:    newSecureCookie(scHash, scBlock),
			signOnly:  newSecureCookie(signHash, nil),
			sealedMAC: newMACPool(scHash),
			signMAC:   newMACPool(signHash),
			block:     block,
			compact:   aead,
			hint:      derive(secret, labelKeyHint)[0],
			raw:       bytes.Clone(secret), // the caller may reuse its slice
		}
	}
	return ring, nil
}

// notRandom says why secret is plainly not random, or returns "".
func notRandom(secret []byte) string {
	var seen [256]bool
	distinct := 0
	for _, c := range secret {
		if !seen[c] {
			seen[c] = true
			distinct++
		}
	}
	if distinct < 8 {
		return fmt.Sprintf("uses only %d different bytes", distinct)
	}
	if p := period(secret); p <= len(secret)/2 {
		return fmt.Sprintf("repeats a pattern of %d bytes", p)
	}
	return ""
}

// period returns the length of the shortest pattern whose repetition
// (the last one possibly cut short) makes b: the length of b less its
// longest proper border, found with the Knuth-Morris-Pratt failure
// function in linear time.
func period(b []byte) int {
	border := make([]int, len(b)) // border[i]: longest proper border of b[:i+1]
	for i := 1; i < len(b); i++ {
		k := border[i-1]
		for k > 0 && b[i] != b[k] {
			k = border[k-1]
		}
		if b[i] == b[k] {
			k++
		}
		border[i] = k
	}
	return len(b) - border[len(b)-1]
}

// derive returns a sub-key of secret for one purpose (RFC 5869). The secret
// is used as HKDF input keying material without a salt: it is already
// uniformly random, and a fixed salt would add nothing an attacker lacks.
func derive(secret []byte, label string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, label, derivedKeySize)
	if err != nil {
		// Only possible for an output length HKDF-SHA256 cannot produce.
		panic("cookiesession: hkdf: " + err.Error())
	}
	return k
}

// GenerateSecret returns a new secret for Options.Secrets: 32 random bytes
// from crypto/rand, base64url-encoded (43 characters) so that it can be
// kept in an environment variable or a file as it is. The encoded text is
// the secret: pass it to Options.Secrets unchanged.
func GenerateSecret() []byte {
	return base64.RawURLEncoding.AppendEncode(nil, randomBytes(minSecretLength))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	// crypto/rand.Read never fails since Go 1.24; it crashes the program
	// instead of returning predictable bytes.
	_, _ = rand.Read(b)
	return b
}

// SecretsFromEnv reads secrets, newest first, from the comma-separated
// environment variable name (conventionally COOKIESESSION_SECRETS). Spaces
// around each secret are ignored. It fails when the variable is unset or
// holds no secret, and when a secret holds white space: keys are
// separated by commas, and "k1 k2" read as one key would log everyone out
// at the next rotation. [New] checks their strength, with [ErrWeakSecret],
// since what it requires depends on [Options].Format.
//
// To rotate without logging anyone out: add the new secret second and
// deploy; move it first and deploy; remove the old one once every cookie
// it sealed has expired.
func SecretsFromEnv(name string) ([][]byte, error) {
	v, ok := os.LookupEnv(name)
	if !ok {
		return nil, fmt.Errorf("cookiesession: environment variable %s is not set", name)
	}
	return ParseSecrets(v, "environment variable "+name)
}

// SecretsFromFile reads secrets from the file at path, by the rules of
// ParseSecrets: one a line, or comma-separated, newest first. It follows
// symbolic links, so it reads a Kubernetes Secret, a Docker secret or a
// systemd credential where they are mounted. See Manager.WatchSecretsFile
// to keep a Manager's secrets current as the file changes.
func SecretsFromFile(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cookiesession: secrets file: %w", err)
	}
	return ParseSecrets(string(b), path)
}

// ParseSecrets reads secrets, newest first, separated by commas or line
// breaks; white space around each is ignored, and so are a UTF-8 byte
// order mark at the start (which some editors write) and lines that start
// with "# " (comments: no secret holds a space). It fails when there is
// none, and when one holds white space inside: "k1 k2" read as one secret
// would log everyone out at the next rotation. source names the text in
// errors. New checks the secrets' strength.
func ParseSecrets(text, source string) ([][]byte, error) {
	var secrets [][]byte
	text = strings.TrimPrefix(text, "\uFEFF")
	for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if line = strings.TrimSpace(line); line == "#" || strings.HasPrefix(line, "# ") {
			continue
		}
		for _, s := range strings.Split(line, ",") {
			s = strings.TrimSpace(s)
			if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
				return nil, fmt.Errorf("%w: secret %d in %s holds white space; separate secrets with commas", ErrWeakSecret, len(secrets), source)
			}
			if s != "" {
				secrets = append(secrets, []byte(s))
			}
		}
	}
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: %s holds no secret", ErrWeakSecret, source)
	}
	return secrets, nil
}
