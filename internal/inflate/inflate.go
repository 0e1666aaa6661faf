// Package inflate decompresses the zlib payloads of other stacks' session
// cookies (Django's signing, itsdangerous) within a fixed bound.
package inflate

import (
	"bytes"
	"compress/zlib"
	"errors"
	"io"
)

// Max is the most a payload may inflate to: the same 1 MiB as the
// package's own compressed sessions, so a small value never becomes a
// large allocation and the work stays proportional to at most this much
// output.
const Max = 1 << 20

// ErrTooLarge reports a payload that inflates past Max.
var ErrTooLarge = errors.New("compressed payload inflates past 1 MiB")

// Zlib inflates a zlib stream (RFC 1950), checking its Adler-32. It
// produces at most Max+1 bytes: a stream that would give more is refused
// there.
func Zlib(data []byte) ([]byte, error) {
	r, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Grow(min(4*len(data), Max))
	n, err := out.ReadFrom(io.LimitReader(r, Max+1))
	switch {
	case err != nil:
		return nil, err
	case n > Max:
		return nil, ErrTooLarge
	}
	return out.Bytes(), nil
}
