package cookiesession_test

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/cookiesession/cookiesession"
)

// Example keys. Real keys come from cookiesession.GenerateKey, kept in a
// secret store and passed in the COOKIESESSION_KEYS environment variable.
var (
	exampleKey    = []byte("example-only-key-0001-use-GenerateKey-instead")
	exampleOldKey = []byte("example-only-key-0000-use-GenerateKey-instead")
)

// A visit counter: the count lives in the client's cookie.
func ExampleManager_Middleware() {
	sessions, err := cookiesession.New(cookiesession.Options{
		Keys: [][]byte{exampleKey},
	})
	if err != nil {
		log.Fatal(err)
	}
	handler := sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		visits, _ := cookiesession.Value[int](s, "visits")
		s.Set("visits", visits+1)
		fmt.Fprintf(w, "visit %d", visits+1)
	}))

	cookie := ""
	for range 3 {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		cookie = strings.SplitN(rec.Header().Get("Set-Cookie"), ";", 2)[0]
		fmt.Println(rec.Body.String())
	}
	// Output:
	// visit 1
	// visit 2
	// visit 3
}

// A stored int reads back as an int; a type that does not match reads as
// missing.
func ExampleValue() {
	sessions, _ := cookiesession.New(cookiesession.Options{Keys: [][]byte{exampleKey}})
	s := sessions.LoadHeader()
	s.Set("user_id", 42)

	id, ok := cookiesession.Value[int](s, "user_id")
	fmt.Println(id, ok)
	name, ok := cookiesession.Value[string](s, "user_id")
	fmt.Printf("%q %v\n", name, ok)
	// Output:
	// 42 true
	// "" false
}

// Without net/http, as in a serverless function: a Cookie header in,
// Set-Cookie header values out.
func ExampleManager_SaveHeader() {
	sessions, _ := cookiesession.New(cookiesession.Options{Keys: [][]byte{exampleKey}})

	s := sessions.LoadHeader("theme=dark") // the request's Cookie header
	s.Set("cart", []string{"book"})
	setCookies, err := sessions.SaveHeader(s)
	if err != nil {
		log.Fatal(err)
	}
	attrs := strings.Split(setCookies[0], "; ")
	fmt.Println(len(setCookies), strings.HasPrefix(attrs[0], "session="))
	fmt.Println(attrs[1], strings.HasPrefix(attrs[2], "Max-Age="), attrs[3:])

	next := sessions.LoadHeader(strings.SplitN(setCookies[0], ";", 2)[0])
	cart, _ := cookiesession.Value[[]string](next, "cart")
	fmt.Println(cart)
	// Output:
	// 1 true
	// Path=/ true [HttpOnly Secure SameSite=Lax]
	// [book]
}

// Key rotation: the new key goes first. Cookies sealed with the old key
// still open, and are re-issued with the new key on their next response.
func ExampleOptions_rotation() {
	old, _ := cookiesession.New(cookiesession.Options{Keys: [][]byte{exampleOldKey}})
	s := old.LoadHeader()
	s.Set("user_id", 42)
	lines, _ := old.SaveHeader(s)
	oldCookie := strings.SplitN(lines[0], ";", 2)[0]

	rotated, _ := cookiesession.New(cookiesession.Options{Keys: [][]byte{exampleKey, exampleOldKey}})
	s = rotated.LoadHeader(oldCookie)
	id, _ := cookiesession.Value[int](s, "user_id")
	lines, _ = rotated.SaveHeader(s)
	fmt.Println(id, s.IsChanged(), len(lines), "cookie re-issued")
	// Output:
	// 42 false 1 cookie re-issued
}

// A session too large for its cookies is an error that names the sizes,
// never a cookie the browser would drop without a word.
func ExampleSizeError() {
	sessions, _ := cookiesession.New(cookiesession.Options{Keys: [][]byte{exampleKey}})
	s := sessions.LoadHeader()
	s.Set("notes", strings.Repeat("x", 5000))

	_, err := sessions.SaveHeader(s)
	var size *cookiesession.SizeError
	if errors.As(err, &size) {
		fmt.Println(errors.Is(err, cookiesession.ErrTooLarge), size.Size > size.Max, size.Budget, size.MaxChunks)
	}
	// Output:
	// true true 4096 1
}

// Keys shorter than 32 bytes are refused when the Manager is built.
func ExampleNew_weakKey() {
	_, err := cookiesession.New(cookiesession.Options{Keys: [][]byte{[]byte("hunter2")}})
	fmt.Println(errors.Is(err, cookiesession.ErrWeakKey))
	fmt.Println(err)
	// Output:
	// true
	// cookiesession: weak or missing key: key 0 is 7 bytes, need at least 32
}
