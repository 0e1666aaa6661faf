package flask

import (
	"fmt"

	"github.com/cookiesession/cookiesession"
)

// checkSecret stands in for cookiesession.CheckSecret until it lands.
func checkSecret(s []byte, n int) error {
	if len(s) < n {
		return fmt.Errorf("%w: %d bytes, need at least %d", cookiesession.ErrWeakSecret, len(s), n)
	}
	return nil
}
