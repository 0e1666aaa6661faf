package cookiesession

import (
	"bytes"
	"compress/flate"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/cookiesession/cookiesession/internal/inflate"
	"github.com/gorilla/securecookie"
	"golang.org/x/crypto/chacha20poly1305"
)

// BuiltinFormat is one of the package's own formats. The Manager seals
// and opens them through its keys directly, sparing the conversion to a
// Record that other formats go through.
type BuiltinFormat int

const (
	// FormatSecureCookie is gorilla/securecookie's encrypt-then-MAC
	// format: AES-256-CTR with a random IV, then HMAC-SHA256 over the
	// cookie name, a timestamp and the ciphertext, base64-encoded twice.
	// The client can neither read nor change the session. Choose it to
	// share cookies with gorilla/securecookie; it holds a quarter less than
	// FormatCompact in a cookie and costs about twice its CPU. A manager of
	// either encrypted format reads both.
	FormatSecureCookie BuiltinFormat = iota

	// FormatSignOnly is securecookie's format without encryption: the
	// client can read the session JSON (base64-encoded twice) but cannot
	// change it. Use it only for data the client may see, such as UI
	// preferences, or when page scripts must read it (see
	// Options.ScriptAccess). Its values are shorter by the 16-byte IV.
	FormatSignOnly

	// FormatCompact, the default, seals the session with
	// XChaCha20-Poly1305 (a random 192-bit nonce; the cookie name and the
	// format version are authenticated) and encodes it once in base64url:
	// "~" followed by the version byte, a one-byte key hint, the nonce and
	// the ciphertext. The client can neither read nor change the session.
	// It holds about a third more in a cookie than FormatSecureCookie and
	// is faster. A manager of either encrypted format reads both, so
	// switching logs nobody out.
	FormatCompact

	// FormatExpress reads and writes the cookies of the npm package
	// cookie-session (v2, with its default Keygrip signer), so that an Express
	// application and a Go service share sessions while routes move from one
	// to the other:
	//
	//	NAME     = base64(JSON of the session)
	//	NAME.sig = base64url(HMAC-SHA1(key, "NAME=" + value)), unpadded
	//
	// It is signed, not encrypted: the client can read the session. Keys are
	// the Express application's key strings, used as they are, so the 32-byte
	// minimum does not apply; New logs a warning for shorter ones. The cookies
	// carry no ID and no times: expiry is only the cookie's Max-Age, as in
	// Express, and IdleTimeout, NotBefore, Revocations, Compress and chunking are
	// refused, and Session.SetMaxAge and SetTransient shape only the cookie
	// they are called for, as Express's req.sessionOptions does. Flash
	// messages are kept where connect-flash keeps them, under "flash" as
	// {"info": [...]}.
	FormatExpress
)

// String returns the format's name as used in logs and by the command-line
// tool.
func (f BuiltinFormat) String() string {
	switch f {
	case FormatSecureCookie:
		return "securecookie"
	case FormatSignOnly:
		return "sign-only"
	case FormatCompact:
		return "compact"
	case FormatExpress:
		return "express"
	case formatGorilla:
		return "gorilla/sessions"
	}
	return fmt.Sprintf("BuiltinFormat(%d)", int(f))
}

// Reasons a cookie is not accepted. The middleware logs them at debug level
// and carries on with a new session; they never reach the client.
var (
	// ErrInvalid reports session cookies that hold no session of ours:
	// made with another secret, tampered with, truncated, a chunk missing,
	// or not a session at all. The error that wraps it says which.
	ErrInvalid = errors.New("cookiesession: invalid session cookie")

	// ErrChunkMissing reports a chunked session that arrived without one
	// of its cookies. Browsers send every chunk, so a proxy or client
	// dropped one, typically because the Cookie header grew past its
	// limit (8 KB for nginx and Apache, 8,190 bytes for curl): store
	// less, or lower MaxChunks. It matches ErrInvalid.
	ErrChunkMissing = fmt.Errorf("%w: a chunk is missing", ErrInvalid)

	// ErrExpired reports a verified session past its absolute expiry or
	// idle timeout.
	ErrExpired = errors.New("cookiesession: session expired")

	// ErrRevoked reports a verified session created before
	// Options.NotBefore or listed in Options.Revocations.
	ErrRevoked = errors.New("cookiesession: session revoked")
)

// rawJSON hands securecookie the JSON we have already produced, so the
// session is serialised once (securecookie would otherwise encode it again
// with its own serializer).
type rawJSON struct{}

func (rawJSON) Serialize(src any) ([]byte, error) {
	b, ok := src.([]byte)
	if !ok {
		return nil, fmt.Errorf("cookiesession: internal: serializer got %T", src)
	}
	return b, nil
}

func (rawJSON) Deserialize(src []byte, dst any) error {
	p, ok := dst.(*[]byte)
	if !ok {
		return fmt.Errorf("cookiesession: internal: deserializer got %T", dst)
	}
	*p = src
	return nil
}

// newSecureCookie returns a securecookie codec for one derived key pair.
// Its own age and length checks are off: expiry lives in the envelope and
// the size limit is enforced per cookie by the chunker.
func newSecureCookie(hashKey, blockKey []byte) *securecookie.SecureCookie {
	return securecookie.New(hashKey, blockKey).
		SetSerializer(rawJSON{}).
		MaxAge(0).
		MaxLength(0)
}

// Compact format layout, after the "~" prefix and base64url decoding.
const (
	compactPrefix  = "~" // never in securecookie's base64url output
	compactVersion = 1
	compactHeader  = 2 // version byte, key hint
	compactNonce   = compactHeader + chacha20poly1305.NonceSizeX
	compactMin     = compactNonce + chacha20poly1305.Overhead
)

// seal encodes plain (the envelope JSON) for the cookie name with the
// newest key.
func (r keyRing) seal(f BuiltinFormat, name string, plain []byte) (string, error) {
	switch f {
	case FormatExpress:
		return r.sealExpress(name, plain), nil
	case FormatCompact:
		return string(r[0].sealCompact(append(make([]byte, compactNonce), plain...))), nil
	case FormatSignOnly:
		return encodeSecureCookie(r[0].signOnly, name, plain)
	}
	return encodeSecureCookie(r[0].sealed, name, plain)
}

func encodeSecureCookie(sc *securecookie.SecureCookie, name string, plain []byte) (string, error) {
	v, err := sc.Encode(name, plain)
	if err != nil {
		return "", fmt.Errorf("cookiesession: encode: %w", err)
	}
	return v, nil
}

// sealCompact seals the plaintext buf[compactNonce:] where it lies, after
// the version, key hint and nonce it writes in front of it, and returns
// the cookie value, encoded into buf's spare capacity (encode reserves it
// with compactRoom): one buffer for the JSON and all that is made of it.
func (k *key) sealCompact(buf []byte) []byte {
	plain := buf[compactNonce:]
	raw := slices.Grow(buf[:compactNonce], compactRoom(len(plain)))
	raw[0], raw[1] = compactVersion, k.hint
	_, _ = rand.Read(raw[compactHeader:compactNonce])
	// Unless Grow had to move, the ciphertext starts exactly where plain
	// does, which Seal allows.
	raw = k.compact.Seal(raw, raw[compactHeader:compactNonce], plain, k.aad)
	n := len(raw)
	return base64.RawURLEncoding.AppendEncode(append(raw[n:n], compactPrefix...), raw)
}

// compactRoom is what sealCompact needs after the compactNonce bytes in
// front of a plaintext of n bytes: the ciphertext with its tag, and the
// cookie value.
func compactRoom(n int) int {
	return n + chacha20poly1305.Overhead + len(compactPrefix) + base64.RawURLEncoding.EncodedLen(compactMin+n)
}

// compactAAD authenticates the version, the key hint and the cookie name,
// so a value cannot be replayed under another name or read as another
// version. New computes it once per key (key.aad).
func compactAAD(hint byte, name string) []byte {
	return append([]byte{compactVersion, hint}, name...)
}

// open verifies value for the cookie name and returns the plaintext, the
// index of the key that verified it and the value's format. Managers of
// the encrypted formats read both of them; a sign-only manager reads only
// sign-only values. The formats use different sub-keys, so a value of one
// never verifies as another. A compact value is opened in scratch's
// capacity when it fits, so plain may be scratch's memory.
func (r keyRing) open(f BuiltinFormat, name, value string, scratch []byte) (plain []byte, keyIndex int, format BuiltinFormat, err error) {
	switch {
	case f == FormatExpress:
		plain, keyIndex, err = r.openExpress(name, value)
		return plain, keyIndex, FormatExpress, err
	case f == FormatSignOnly:
		plain, keyIndex, err = r.openSecureCookie(name, value, true, scratch)
		return plain, keyIndex, FormatSignOnly, err
	case strings.HasPrefix(value, compactPrefix):
		plain, keyIndex, err = r.openCompact(name, value[len(compactPrefix):], scratch)
		return plain, keyIndex, FormatCompact, err
	}
	plain, keyIndex, err = r.openSecureCookie(name, value, false, scratch)
	return plain, keyIndex, FormatSecureCookie, err
}

// errNotVerified: no key verifies the value.
var errNotVerified = fmt.Errorf("%w: not verified by any secret (another secret, a changed byte, or not one of ours)", ErrInvalid)

// errNotCanonical refuses a value that is not the one encoding of its
// bytes. Base64 decoders ignore the unused low bits of the last character
// and line breaks, so without this check several strings would open the
// same session.
var errNotCanonical = fmt.Errorf("%w: not canonical base64url", ErrInvalid)

// base64URLValues maps each base64url character to its 6-bit value, and
// every other byte to 0xff.
var base64URLValues = func() (v [256]byte) {
	for i := range v {
		v[i] = 0xff
	}
	for i, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		v[c] = byte(i)
	}
	return v
}()

// appendBase64URL appends the bytes that s, unpadded base64url, encodes
// and reports whether s is exactly what the encoder writes for them: only
// the alphabet, and zero unused bits in the last character. Base64
// decoders ignore those bits, so without the check several strings would
// open the same session. encoding/base64 decodes a string only into a
// buffer of its own; this decodes into the caller's, and checks the form
// in the same pass. s may lie in dst's own array, starting where dst ends:
// each group of four characters is read before the three bytes decoded
// from it are written, at or behind it.
func appendBase64URL[S string | []byte](dst []byte, s S) ([]byte, bool) {
	dst = slices.Grow(dst, len(s)*3/4)
	for ; len(s) >= 4; s = s[4:] {
		a, b, c, d := base64URLValues[s[0]], base64URLValues[s[1]], base64URLValues[s[2]], base64URLValues[s[3]]
		if (a|b|c|d)&0xc0 != 0 { // 0xff: not in the alphabet
			return dst, false
		}
		dst = append(dst, a<<2|b>>4, b<<4|c>>2, c<<6|d)
	}
	// 2 or 3 characters in the last group carry 4 or 2 unused bits.
	switch len(s) {
	case 1:
		return dst, false
	case 2:
		a, b := base64URLValues[s[0]], base64URLValues[s[1]]
		return append(dst, a<<2|b>>4), (a|b)&0xc0 == 0 && b&0x0f == 0
	case 3:
		a, b, c := base64URLValues[s[0]], base64URLValues[s[1]], base64URLValues[s[2]]
		return append(dst, a<<2|b>>4, b<<4|c>>2), (a|b|c)&0xc0 == 0 && c&0x03 == 0
	}
	return dst, true
}

// Scratch buffers, for the bytes a request seals and opens but does not
// keep. A request's fresh memory costs a busy server more than its
// arithmetic: each new buffer is zeroed, fetched into the cache and later
// collected, while a pooled one is usually still cached. Nothing made in
// one outlives the call that took it: the envelope parser copies what it
// keeps, and each Set-Cookie line is a string of its own.
var scratch = sync.Pool{New: func() any { return new([]byte) }}

// maxScratch is the largest buffer kept for reuse: a few chunks' worth.
// Larger ones (compressed sessions of up to maxInflated) are left to the
// collector.
const maxScratch = 64 << 10

// getScratch returns a buffer with room for n bytes, to give back with
// putScratch.
func getScratch(n int) *[]byte {
	b := scratch.Get().(*[]byte)
	*b = slices.Grow((*b)[:0], n)
	return b
}

func putScratch(b *[]byte) {
	if cap(*b) <= maxScratch {
		scratch.Put(b)
	}
}

// openSecureCookie verifies and opens a value of gorilla/securecookie's
// format, which its Encode wrote:
//
//	base64url("<Unix time>|" + base64url(IV + AES-256-CTR ciphertext) + "|" + MAC)
//	MAC = HMAC-SHA256(hash key, "<name>|<Unix time>|<inner base64url>")
//
// and, for FormatSignOnly, the JSON itself in place of IV and ciphertext.
// securecookie's Decode copies and decodes the value once for each key it
// is tried with, so that a hostile header joining large chunks makes every
// key pay for them; here the value is decoded once, into the caller's
// scratch buffer, and each key costs one HMAC. sign tells the formats
// apart. The time is not checked: expiry lives in the envelope.
func (r keyRing) openSecureCookie(name, value string, sign bool, scratch []byte) ([]byte, int, error) {
	// The MAC input is "<name>|" and the decoded value up to its second
	// "|": decoded behind the name, it is one slice.
	buf := append(append(scratch[:0], name...), '|')
	buf, ok := appendBase64URLPadded(buf, value)
	if !ok {
		return nil, 0, errNotCanonical
	}
	decoded := buf[len(name)+1:]
	date := bytes.IndexByte(decoded, '|')
	inner := bytes.IndexByte(decoded[date+1:], '|') + date + 1
	if date < 0 || inner <= date {
		return nil, 0, errNotVerified
	}
	signed, mac := buf[:len(name)+1+inner], decoded[inner+1:]
	for i := range r {
		pool := r[i].sealedMAC
		if sign {
			pool = r[i].signMAC
		}
		if !verifyMAC(pool, signed, mac) {
			continue
		}
		// Verified: what follows was written by securecookie with this
		// key, so it decodes. It is decoded where it lies: each group of
		// four characters becomes three bytes written behind it.
		plain, ok := appendBase64URLPadded(decoded[date+1:date+1], decoded[date+1:inner])
		if !ok {
			return nil, 0, errNotVerified
		}
		if !sign {
			if len(plain) <= aes.BlockSize { // securecookie's decrypt wants more than the IV
				return nil, 0, errNotVerified
			}
			iv := plain[:aes.BlockSize]
			plain = plain[aes.BlockSize:]
			cipher.NewCTR(r[i].block, iv).XORKeyStream(plain, plain)
		}
		return plain, i, nil
	}
	return nil, 0, errNotVerified
}

// macState is one HMAC of a key, kept in the key's pool: a hash.Hash is
// for one goroutine at a time, and making one takes several allocations.
type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

func newMACPool(hashKey []byte) *sync.Pool {
	return &sync.Pool{New: func() any { return &macState{h: hmac.New(sha256.New, hashKey)} }}
}

// verifyMAC reports, in constant time, whether mac is the HMAC of msg
// under the pool's key.
func verifyMAC(pool *sync.Pool, msg, mac []byte) bool {
	st := pool.Get().(*macState)
	defer pool.Put(st)
	st.h.Reset()
	st.h.Write(msg)
	return hmac.Equal(st.h.Sum(st.sum[:0]), mac)
}

// appendBase64URLPadded is appendBase64URL for padded base64url, as
// securecookie writes it: the length a multiple of four, with at most two
// "=" at the end.
func appendBase64URLPadded[S string | []byte](dst []byte, s S) ([]byte, bool) {
	if len(s)%4 != 0 {
		return dst, false
	}
	for range 2 {
		if len(s) > 0 && s[len(s)-1] == '=' {
			s = s[:len(s)-1]
		}
	}
	return appendBase64URL(dst, s)
}

func (r keyRing) openCompact(name, encoded string, scratch []byte) ([]byte, int, error) {
	raw, ok := appendBase64URL(scratch[:0], encoded)
	switch {
	case !ok:
		return nil, 0, errNotCanonical
	case len(raw) < compactMin:
		return nil, 0, fmt.Errorf("%w: compact value too short", ErrInvalid)
	case raw[0] != compactVersion:
		return nil, 0, fmt.Errorf("%w: unknown compact version %d", ErrInvalid, raw[0])
	}
	// Several keys may share a hint; only those are tried. Each decrypts
	// in place, sparing a buffer; a failed Open zeroes what it was given,
	// so the value is decoded again for the next key.
	tried := false
	for i := range r {
		if r[i].hint != raw[1] {
			continue
		}
		if tried {
			raw, _ = appendBase64URL(raw[:0], encoded) // decoded once already
		}
		tried = true
		ciphertext := raw[compactNonce:]
		if plain, err := r[i].compact.Open(ciphertext[:0], raw[compactHeader:compactNonce], ciphertext, r[i].aad); err == nil {
			return plain, i, nil
		}
	}
	return nil, 0, errNotVerified
}

// Optional compression (Options.Compress). The marker byte cannot start
// JSON, so compressed and plain payloads are told apart inside the sealed
// value, and managers with and without compression read each other's
// cookies.
const (
	compressedMarker = 0x01
	// maxInflated bounds decompression, so a small value cannot expand
	// into a large allocation. Only our own keys can produce a compressed
	// payload, and encode refuses to seal more than this, so every cookie
	// written can be read back.
	maxInflated = inflate.Max
)

// Deflate's state is tens of kilobytes each way; pooling it keeps that off
// every request that uses Compress.
var (
	flateWriters = sync.Pool{New: func() any {
		w, _ := flate.NewWriter(nil, flate.BestCompression)
		return w
	}}
	flateReaders = sync.Pool{New: func() any { return flate.NewReader(nil) }}
)

// compress returns plain deflated behind the marker byte, or plain itself
// when deflate does not make it smaller.
func compress(plain []byte) []byte {
	var buf bytes.Buffer
	buf.WriteByte(compressedMarker)
	w := flateWriters.Get().(*flate.Writer)
	w.Reset(&buf)
	_, _ = w.Write(plain)
	_ = w.Close()
	flateWriters.Put(w)
	if buf.Len() >= len(plain) {
		return plain
	}
	return buf.Bytes()
}

// decompress undoes compress; plain JSON passes through. It inflates no
// more than maxInflated bytes (inflate.Max), so a payload that inflates
// further costs no more than that.
func decompress(plain []byte) ([]byte, error) {
	if len(plain) == 0 || plain[0] != compressedMarker {
		return plain, nil
	}
	r := flateReaders.Get().(io.ReadCloser)
	defer flateReaders.Put(r)
	_ = r.(flate.Resetter).Reset(bytes.NewReader(plain[1:]), nil)
	out, err := inflate.ReadAll(r, len(plain))
	if err != nil {
		return nil, errInflated
	}
	return out, nil
}

var errInflated = fmt.Errorf("%w: bad compressed payload", ErrInvalid)
