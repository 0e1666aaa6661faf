package inflate

import (
	"bytes"
	"compress/zlib"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func deflate(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	_, err := w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

func TestZlib(t *testing.T) {
	for _, n := range []int{0, 1, 100, 5000, Max - 1, Max} {
		data := []byte(strings.Repeat("x", n))
		got, err := Zlib(deflate(t, data))
		require.NoError(t, err, n)
		assert.Equal(t, data, got)
	}
	_, err := Zlib(deflate(t, make([]byte, Max+1)))
	assert.ErrorIs(t, err, ErrTooLarge)

	z := deflate(t, []byte("some text"))
	z[len(z)-1] ^= 1
	_, err = Zlib(z)
	assert.Error(t, err, "Adler-32 checked")
	_, err = Zlib([]byte("not zlib"))
	assert.Error(t, err)
	_, err = Zlib(z[:len(z)/2])
	assert.Error(t, err, "truncated")
}
