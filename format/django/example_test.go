package django_test

import (
	"encoding/base64"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/django"
)

// Sharing the login with a Django application that keeps its sessions in
// signed cookies: its SECRET_KEY, SESSION_COOKIE_NAME and
// SESSION_COOKIE_AGE. The session is signed, not encrypted: anyone can
// read it.
func ExampleFormat() {
	os.Setenv("DJANGO_SECRET_KEY", "n#7u+0r2$wq1_k8m@x!v5c9z(e3y6t)b4h&j-p%a=s*d^f0g1l")
	sessions, err := cookiesession.New(cookiesession.Options{
		Format:  django.Format{CookieAge: 14 * 24 * time.Hour},    // SESSION_COOKIE_AGE
		Name:    "sessionid",                                      // SESSION_COOKIE_NAME
		Secrets: [][]byte{[]byte(os.Getenv("DJANGO_SECRET_KEY"))}, // then SECRET_KEY_FALLBACKS
		MaxAge:  14 * 24 * time.Hour,                              // SESSION_COOKIE_AGE again
		// Path, Domain, SameSite and Insecure as the SESSION_COOKIE_* settings.
	})
	if err != nil {
		log.Fatal(err)
	}
	s := sessions.LoadHeader()
	s.Set("_auth_user_id", "42")
	lines, _ := sessions.SaveHeader(s)
	value := strings.TrimPrefix(strings.SplitN(lines[0], ";", 2)[0], "sessionid=")
	payload, _ := base64.RawURLEncoding.DecodeString(strings.SplitN(value, ":", 2)[0])
	fmt.Println(string(payload))
	// Output: {"_auth_user_id":"42"}
}
