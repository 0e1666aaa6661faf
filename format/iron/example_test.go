package iron_test

import (
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/iron"
)

// A Manager that reads and writes the cookie of a Next.js or Node app's
// iron-session, configured as the app is.
func ExampleFormat() {
	os.Setenv("SESSION_PASSWORD", "an-example-password-of-32-characters-or-more") // the app's
	sessions, err := cookiesession.New(cookiesession.Options{
		Format:  iron.Format{},
		Name:    "app_session",                                   // iron-session's cookieName
		Secrets: [][]byte{[]byte(os.Getenv("SESSION_PASSWORD"))}, // its password
		MaxAge:  14 * 24 * time.Hour,                             // its ttl
		// Path, Domain and SameSite as in its cookieOptions.
	})
	if err != nil {
		log.Fatal(err)
	}
	s := sessions.LoadHeader()
	s.Set("user", map[string]string{"name": "Ada"})
	lines, err := sessions.SaveHeader(s)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(lines[0], "app_session=Fe26.2*1*"))
	fmt.Println(strings.Contains(lines[0], "; Max-Age=1209540;")) // the ttl less 60 s, as iron-session sets it
	// Output:
	// true
	// true
}

// A new password rolled out without logging anyone out, in three
// deployments: the Go side first learns it, then the Node app seals with
// it, then the Go side does.
func ExampleFormat_rotation() {
	oldPassword, newPassword := "the-old-password-of-32-characters-or-more", "the-new-password-of-32-characters-or-more"
	step1 := [][]byte{[]byte("1:" + oldPassword), []byte("2:" + newPassword)} // Go: seals with 1, reads 2
	// step 2, Node: password: {2: newPassword, 1: oldPassword}
	step3 := [][]byte{[]byte("2:" + newPassword), []byte("1:" + oldPassword)} // Go: seals with 2, reads 1
	for _, secrets := range [][][]byte{step1, step3} {
		_, err := cookiesession.New(cookiesession.Options{Format: iron.Format{}, Name: "app_session", Secrets: secrets})
		fmt.Println(err)
	}
	// Output:
	// <nil>
	// <nil>
}
