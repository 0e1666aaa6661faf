// Package inflate decompresses within a fixed bound: the package's own
// compressed sessions (deflate) and the zlib payloads of other stacks'
// session cookies (Django's signing, itsdangerous).
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

// Zlib inflates a zlib stream (RFC 1950), checking its Adler-32, up to
// Max bytes.
func Zlib(data []byte) ([]byte, error) {
	r, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return ReadAll(r, len(data))
}

// ReadAll reads r, a decompressor of n compressed bytes, to its end, up
// to Max bytes. The output buffer grows fourfold from a guess up to
// exactly Max bytes, so the buffers of a payload that reaches the limit
// add up to less than twice Max, and reading stops there.
func ReadAll(r io.Reader, n int) ([]byte, error) {
	out := make([]byte, 0, min(4*n, Max))
	for {
		if len(out) == cap(out) {
			if len(out) == Max {
				// Full: valid only if the stream ends here.
				var one [1]byte
				if n, err := r.Read(one[:]); n == 0 && err == io.EOF {
					return out, nil
				}
				return nil, ErrTooLarge
			}
			grown := make([]byte, len(out), min(4*cap(out), Max))
			out = grown[:copy(grown, out)]
		}
		n, err := r.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		switch {
		case err == io.EOF:
			return out, nil
		case err != nil:
			return nil, err
		}
	}
}
