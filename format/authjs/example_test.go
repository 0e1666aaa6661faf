package authjs_test

import (
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/authjs"
)

// A Manager that reads and writes the session cookie of an Auth.js (v5)
// application, configured as the application is.
func ExampleFormat() {
	os.Setenv("AUTH_SECRET", "q8Vb2Yt0nJm7rQ4xW1sZp9kL3dF6hG5cA0eR2tY7uI8=") // the app's
	sessions, err := cookiesession.New(cookiesession.Options{
		Format:    authjs.Format{},
		Name:      "__Secure-authjs.session-token",            // "authjs.session-token" over plain HTTP
		Secrets:   [][]byte{[]byte(os.Getenv("AUTH_SECRET"))}, // or its secret list, newest first
		MaxAge:    30 * 24 * time.Hour,                        // its session.maxAge
		MaxChunks: 4,                                          // it splits tokens over 3,936 characters
	})
	if err != nil {
		log.Fatal(err)
	}
	s := sessions.LoadHeader()
	s.SetSubject("user-7") // the "sub" claim
	s.Set("email", "ada@example.com")
	lines, err := sessions.SaveHeader(s)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(lines[0], "__Secure-authjs.session-token=eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIiwia2lkIjoi"))
	// Output: true
}

// A Manager for a next-auth v4 application.
func ExampleNextAuth4() {
	os.Setenv("NEXTAUTH_SECRET", "N3wS3cr3tK9mQ2vX7pL4zR8tY1uW6eA5sD0fG3hJ2kM=") // the app's
	sessions, err := cookiesession.New(cookiesession.Options{
		Format:    authjs.NextAuth4{},
		Name:      "__Secure-next-auth.session-token", // "next-auth.session-token" over plain HTTP
		Secrets:   [][]byte{[]byte(os.Getenv("NEXTAUTH_SECRET"))},
		MaxAge:    30 * 24 * time.Hour, // its session.maxAge
		MaxChunks: 4,
	})
	fmt.Println(sessions != nil, err)
	// Output: true <nil>
}
