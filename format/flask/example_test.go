package flask_test

import (
	"encoding/base64"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/flask"
)

// Sharing the login with a Flask application: its SECRET_KEY,
// SESSION_COOKIE_NAME and PERMANENT_SESSION_LIFETIME. The session is
// signed, not encrypted: anyone can read it.
func ExampleFormat() {
	os.Setenv("FLASK_SECRET_KEY", "192b9bdd22ab9ed4d12e236c78afcb9a393ec15f71bbf5dc987d54727823bcbf")
	sessions, err := cookiesession.New(cookiesession.Options{
		Format:  flask.Format{Lifetime: 31 * 24 * time.Hour},     // PERMANENT_SESSION_LIFETIME
		Name:    "session",                                       // SESSION_COOKIE_NAME
		Secrets: [][]byte{[]byte(os.Getenv("FLASK_SECRET_KEY"))}, // then SECRET_KEY_FALLBACKS
		MaxAge:  31 * 24 * time.Hour,                             // PERMANENT_SESSION_LIFETIME again
		// Path, Domain, SameSite and Insecure as the SESSION_COOKIE_* settings.
	})
	if err != nil {
		log.Fatal(err)
	}
	s := sessions.LoadHeader()
	s.Set("_user_id", "42")
	s.Set("seen", flask.Tuple[string]{"home", "cart"}) // a Python tuple to Flask
	lines, _ := sessions.SaveHeader(s)
	value := strings.TrimPrefix(strings.SplitN(lines[0], ";", 2)[0], "session=")
	payload, _ := base64.RawURLEncoding.DecodeString(strings.SplitN(value, ".", 2)[0])
	fmt.Println(string(payload))
	// Output: {"_user_id":"42","seen":{" t":["home","cart"]}}
}
